/**
 * baresip as a headless softphone in a lab namespace: a config dir of its own in the lab's temp dir
 * (config + accounts), G.711 only, audio from a generated WAV through aufile, the received audio
 * played into aubridge (a sink nobody reads), auto-answer, and the `cons` console on UDP 127.0.0.1
 * inside the namespace for commands such as `/dial URI` and `/hangup`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeWav } from './audio.ts';
import { nsRun } from './exec.ts';
import { type Lab, NS, type NsKey } from './lab.ts';
import type { ManagedProcess } from './proc.ts';

export const BARESIP_MODULES = '/usr/lib/baresip/modules';
export const BARESIP_RTP_MIN = 10000;
export const BARESIP_RTP_MAX = 10019;
const CONS_PORT = 5555;

export interface BaresipOptions {
  readonly ns: NsKey;
  readonly name: string;
  /** Address and port baresip's SIP stack listens on. */
  readonly sipListen: string;
  /** Account address-of-record, e.g. sip:alice@203.0.113.10. */
  readonly aor: string;
  readonly authUser?: string;
  readonly authPass?: string;
  /** Outbound proxy URI, e.g. sip:192.168.1.1;lr (baresip 1.0 `outbound=` account parameter). */
  readonly outbound?: string;
  /** Registration interval in seconds; 0: do not register. */
  readonly regint: number;
  /** Seconds of tone in the source WAV. */
  readonly audioSeconds?: number;
}

export class Baresip {
  private constructor(
    readonly proc: ManagedProcess,
    readonly ns: NsKey,
  ) {}

  static async start(lab: Lab, o: BaresipOptions): Promise<Baresip> {
    const dir = lab.path(`baresip-${o.name}`);
    mkdirSync(dir, { recursive: true });
    const wav = join(dir, 'tone.wav');
    writeWav(wav, o.audioSeconds ?? 20);
    const config = [
      'poll_method epoll',
      `sip_listen ${o.sipListen}`,
      'call_local_timeout 60',
      'call_max_calls 2',
      `audio_source aufile,${wav}`,
      'audio_player aubridge,sink',
      'audio_alert aubridge,sink',
      'ausrc_srate 8000',
      'ausrc_channels 1',
      'audio_level no',
      `rtp_ports ${BARESIP_RTP_MIN}-${BARESIP_RTP_MAX}`,
      'rtcp_mux no',
      'jitter_buffer_delay 1-10',
      'rtp_stats yes',
      `module_path ${BARESIP_MODULES}`,
      'module g711.so',
      'module aufile.so',
      'module aubridge.so',
      'module cons.so',
      'module_tmp account.so',
      'module_app menu.so',
      'statmode_default off',
      `cons_listen 127.0.0.1:${CONS_PORT}`,
      '',
    ].join('\n');
    writeFileSync(join(dir, 'config'), config);
    const params = [
      'answermode=auto',
      'audio_codecs=PCMU/8000/1',
      `regint=${o.regint}`,
      ...(o.authUser ? [`auth_user=${o.authUser}`] : []),
      ...(o.authPass ? [`auth_pass=${o.authPass}`] : []),
      ...(o.outbound ? [`outbound="${o.outbound}"`] : []),
      'ptime=20',
      'mwi=no',
      'pubint=0',
    ];
    writeFileSync(join(dir, 'accounts'), `<${o.aor}>;${params.join(';')}\n`);
    writeFileSync(join(dir, 'contacts'), '');
    const proc = lab.spawn(o.ns, `baresip-${o.name}`, 'baresip', ['-f', dir, '-v']);
    const b = new Baresip(proc, o.ns);
    try {
      await proc.waitFor(/baresip is ready|Populated \d+ account/, 10_000);
    } catch (err) {
      await proc.stop('SIGKILL');
      throw err;
    }
    return b;
  }

  /** Send a console command (e.g. `/dial sip:x@y`, `/hangup`) through the cons module's UDP port. */
  async command(cmd: string): Promise<void> {
    await nsRun(NS[this.ns], 'bash', [
      '-c',
      `printf '%s\\n' "$1" > /dev/udp/127.0.0.1/${CONS_PORT}`,
      'send',
      cmd,
    ]);
  }

  /** Index into the output from which to look for new events. */
  mark(): number {
    return this.proc.output.length;
  }

  async waitFor(re: RegExp, timeoutMs: number, from = 0): Promise<RegExpExecArray> {
    return this.proc.waitFor(re, timeoutMs, from);
  }

  async stop(): Promise<void> {
    if (this.proc.running) {
      await this.command('/quit').catch(() => undefined);
      await this.proc.stop('SIGTERM', 3000);
    }
  }
}
