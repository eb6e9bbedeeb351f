/**
 * Running sipp in a lab namespace: one scenario from test/e2e/lab/scenarios (or a path), one call
 * (-m 1), with a global timeout, the SIP messages traced to a file and parsed back, the error log and
 * the statistics CSV read, and the exit code (0: the call succeeded, 1: it failed) reported.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { Lab, NsKey } from './lab.ts';
import type { ExitInfo, ManagedProcess } from './proc.ts';

export const SCENARIO_DIR = new URL('../lab/scenarios/', import.meta.url).pathname;

export interface SippOptions {
  readonly ns: NsKey;
  /** Scenario file name in lab/scenarios (e.g. 'register.xml') or an absolute path. */
  readonly scenario: string;
  /** Name for logs (default: the scenario's stem and the namespace). */
  readonly name?: string;
  /** Local SIP address (-i) and port (-p, default 5060). */
  readonly localIp: string;
  readonly localPort?: number;
  /** Remote host[:port] (the positional argument: [remote_ip]/[remote_port], the R-URI's host). */
  readonly remote?: string;
  /** Outbound proxy: where every message is actually sent (-rsa host:port). */
  readonly rsa?: string;
  /** Media address and port (-mi, -mp); the rtp_stream source port is the -mp port. */
  readonly mediaIp?: string;
  readonly mediaPort?: number;
  /** R-URI user part (-s). */
  readonly service?: string;
  /** Digest credentials for [authentication] (-au, -ap). */
  readonly authUser?: string;
  readonly authPass?: string;
  /** Scenario keywords: -key NAME VALUE, used as [NAME]. */
  readonly keys?: Readonly<Record<string, string | number>>;
  /** Fixed Call-ID (-cid_str) and first CSeq (-base_cseq), e.g. for registration refreshes. */
  readonly callId?: string;
  readonly baseCseq?: number;
  /** Whole-run limit in seconds (sipp -timeout, fails the run); default 30. */
  readonly timeoutS?: number;
  /** Extra sipp arguments. */
  readonly extraArgs?: readonly string[];
  /** sipp -t: `u1` (UDP, one socket; the default) or `t1` (TCP, one connection). */
  readonly transport?: 'u1' | 't1';
}

export interface SipMessage {
  readonly direction: 'sent' | 'received';
  /** The start line, e.g. 'INVITE sip:bob@... SIP/2.0' or 'SIP/2.0 200 OK'. */
  readonly startLine: string;
  /** Request method, or the CSeq method for responses. */
  readonly method: string;
  /** Status code for responses, null for requests. */
  readonly status: number | null;
  readonly text: string;
}

export interface SippResult {
  readonly exit: ExitInfo;
  /** True when sipp exited 0 (every call successful). */
  readonly ok: boolean;
  readonly messages: readonly SipMessage[];
  readonly errors: string;
  readonly stats: Readonly<Record<string, string>>;
  readonly log: string;
}

/** First value of a header (long or compact name) in a SIP message text. */
export function header(text: string, name: string, compact?: string): string | null {
  const names = [name, ...(compact ? [compact] : [])].map((n) => n.toLowerCase());
  for (const line of text.split(/\r?\n/)) {
    if (line === '') break;
    const i = line.indexOf(':');
    if (i > 0 && names.includes(line.slice(0, i).trim().toLowerCase())) return line.slice(i + 1).trim();
  }
  return null;
}

/** All values of a header (each line; not split on commas). */
export function headers(text: string, name: string, compact?: string): string[] {
  const names = [name, ...(compact ? [compact] : [])].map((n) => n.toLowerCase());
  const out: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line === '') break;
    const i = line.indexOf(':');
    if (i > 0 && names.includes(line.slice(0, i).trim().toLowerCase())) out.push(line.slice(i + 1).trim());
  }
  return out;
}

/** The body (after the blank line). */
export function body(text: string): string {
  const m = /\r?\n\r?\n/.exec(text);
  return m ? text.slice(m.index + m[0].length) : '';
}

/** c= address and m=audio port of an SDP body, null when absent. */
export function sdpAudio(sdp: string): { addr: string | null; port: number | null; direction: string } {
  const c = /^c=IN IP4 (\S+)/m.exec(sdp);
  const m = /^m=audio (\d+) /m.exec(sdp);
  const d = /^a=(sendrecv|sendonly|recvonly|inactive)\s*$/m.exec(sdp);
  return { addr: c?.[1] ?? null, port: m ? Number(m[1]) : null, direction: d?.[1] ?? 'sendrecv' };
}

/** Parse sipp's -trace_msg file. */
export function parseMessageLog(text: string): SipMessage[] {
  const out: SipMessage[] = [];
  const parts = text.split(/^-{20,}.*$/m);
  for (const part of parts) {
    const m = /^\s*(?:UDP|TCP|TLS)? ?message (sent|received)[^\n]*\n\n?([\s\S]*)$/im.exec(
      part.replace(/^\s+/, ''),
    );
    if (!m) continue;
    const msg = (m[2] ?? '').replace(/^\s*\n/, '').replace(/\s+$/, '');
    const startLine = (msg.split(/\r?\n/)[0] ?? '').trim();
    if (!startLine) continue;
    const resp = /^SIP\/2\.0 (\d{3})/.exec(startLine);
    const cseq = header(msg, 'CSeq') ?? '';
    out.push({
      direction: m[1]!.toLowerCase() as 'sent' | 'received',
      startLine,
      method: resp ? (cseq.split(/\s+/)[1] ?? '') : (startLine.split(' ')[0] ?? ''),
      status: resp ? Number(resp[1]) : null,
      text: msg,
    });
  }
  return out;
}

function parseStats(file: string): Record<string, string> {
  if (!existsSync(file)) return {};
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  if (lines.length < 2) return {};
  const keys = lines[0]!.split(';');
  const vals = lines[lines.length - 1]!.split(';');
  const out: Record<string, string> = {};
  keys.forEach((k, i) => {
    if (k) out[k] = vals[i] ?? '';
  });
  return out;
}

export class SippRun {
  private constructor(
    readonly proc: ManagedProcess,
    private readonly files: { messages: string; errors: string; stats: string },
    private readonly timeoutS: number,
  ) {}

  /** Start sipp; call `result()` to wait for it. */
  static start(lab: Lab, o: SippOptions): SippRun {
    const scenario = isAbsolute(o.scenario) ? o.scenario : join(SCENARIO_DIR, o.scenario);
    if (!existsSync(scenario)) throw new Error(`no sipp scenario ${scenario}`);
    const name = o.name ?? `sipp-${o.scenario.replace(/\.xml$/, '')}-${o.ns}`;
    const files = {
      messages: lab.uniquePath(`${name}-messages`),
      errors: lab.uniquePath(`${name}-errors`),
      stats: lab.uniquePath(`${name}-stats`, 'csv'),
    };
    const timeoutS = o.timeoutS ?? 30;
    const args = [
      '-sf',
      scenario,
      '-i',
      o.localIp,
      '-p',
      String(o.localPort ?? 5060),
      '-t',
      o.transport ?? 'u1',
      '-m',
      '1',
      '-l',
      '1',
      '-nostdin',
      '-timeout',
      `${timeoutS}s`,
      '-timeout_error',
      '-max_retrans',
      '5',
      '-trace_msg',
      '-message_file',
      files.messages,
      '-trace_err',
      '-error_file',
      files.errors,
      '-trace_stat',
      '-stf',
      files.stats,
      '-fd',
      '1',
      '-mi',
      o.mediaIp ?? o.localIp,
      '-mp',
      String(o.mediaPort ?? 6000),
    ];
    if (o.rsa) args.push('-rsa', o.rsa);
    if (o.service) args.push('-s', o.service);
    if (o.authUser) args.push('-au', o.authUser);
    if (o.authPass) args.push('-ap', o.authPass);
    if (o.callId) args.push('-cid_str', o.callId);
    if (o.baseCseq !== undefined) args.push('-base_cseq', String(o.baseCseq));
    for (const [k, v] of Object.entries(o.keys ?? {})) args.push('-key', k, String(v));
    args.push(...(o.extraArgs ?? []));
    if (o.remote) args.push(o.remote);
    const proc = lab.spawn(o.ns, name, 'sipp', args, { cwd: lab.dir });
    return new SippRun(proc, files, timeoutS);
  }

  /** Messages traced so far (for waiting on a step of a running scenario). */
  messagesSoFar(): SipMessage[] {
    return existsSync(this.files.messages) ? parseMessageLog(readFileSync(this.files.messages, 'utf8')) : [];
  }

  /** Wait for sipp to end (its own -timeout plus a margin) and read its files. */
  async result(): Promise<SippResult> {
    const exit = await this.proc.waitExit((this.timeoutS + 10) * 1000);
    return {
      exit,
      ok: exit.code === 0,
      messages: this.messagesSoFar(),
      errors: existsSync(this.files.errors) ? readFileSync(this.files.errors, 'utf8') : '',
      stats: parseStats(this.files.stats),
      log: this.proc.output,
    };
  }

  async stop(): Promise<void> {
    await this.proc.stop('SIGTERM', 2000);
  }
}

/** Run a scenario to its end. */
export function runSipp(lab: Lab, o: SippOptions): Promise<SippResult> {
  return SippRun.start(lab, o).result();
}

/** A readable summary of a run for assertion messages. */
export function describeRun(r: SippResult): string {
  const flow = r.messages.map((m) => `${m.direction === 'sent' ? '->' : '<-'} ${m.startLine}`).join('\n  ');
  return `sipp exit=${r.exit.code} signal=${r.exit.signal}\n  ${flow}\nerrors:\n${r.errors.slice(-2000)}\nlog tail:\n${r.log.split('\n').slice(-15).join('\n')}`;
}
