/**
 * An RTP sprayer on the "internet": one more host on the lab's br-inet bridge (its own namespace,
 * `<prefix>sprayer`, 203.0.113.66, default route via the router like the other public hosts) that
 * sends RTP-shaped packets with its own SSRC to chosen router ports, as an attacker guessing a call's
 * public media port would. Its packets are counted where they leave (tcpdump in its namespace) and
 * recognised anywhere by that SSRC, whoever forwards them.
 *
 * The namespace carries the lab's prefix, so the lab's teardown removes it too; remove() does it
 * first.
 */
import { existsSync } from 'node:fs';
import { run } from './exec.ts';
import { HOST_IF, IP, type Lab, NS, PREFIX } from './lab.ts';
import { ManagedProcess } from './proc.ts';
import { readPcapUdp, type UdpPacket } from './rtp.ts';

export const SPRAYER_NS = `${PREFIX}sprayer`;
export const SPRAYER_IP = '203.0.113.66';
/** SSRC of every sprayed packet. */
export const SPRAY_SSRC = 0x5bad5bad;

/** Packets (RTP or not) that carry the sprayer's SSRC. */
export function sprayed(packets: readonly UdpPacket[]): UdpPacket[] {
  return packets.filter((p) => p.payload.length >= 12 && p.payload.readUInt32BE(8) === SPRAY_SSRC);
}

/** The sending program: RTP v2, PT 0, 160 bytes of payload, to every target at `pps`, for at most `maxMs`. */
const SENDER = `
const [targets, pps, maxMs, src] = [JSON.parse(process.argv[1]), Number(process.argv[2]), Number(process.argv[3]), process.argv[4]];
const s = require('dgram').createSocket('udp4');
const b = Buffer.alloc(172, 0xff);
let seq = 0;
s.on('error', (e) => console.log('send error ' + e.message));
s.bind(0, src, () => {
  console.log('spraying ' + JSON.stringify(targets));
  setInterval(() => {
    b[0] = 0x80; b[1] = 0; b.writeUInt16BE(seq & 0xffff, 2); b.writeUInt32BE((seq * 160) >>> 0, 4);
    b.writeUInt32BE(${SPRAY_SSRC}, 8); seq++;
    for (const [a, p] of targets) s.send(b, p, a);
  }, 1000 / pps);
});
setTimeout(() => process.exit(0), maxMs);
`;

export class Sprayer {
  private sender: ManagedProcess | null = null;
  private capture: ManagedProcess | null = null;
  private captureFile = '';

  private constructor(readonly lab: Lab) {}

  /** Make the namespace and plug it into br-inet. */
  static async create(lab: Lab): Promise<Sprayer> {
    const ns = SPRAYER_NS;
    await run('ip', ['netns', 'del', ns], { allowFail: true });
    await run('ip', ['netns', 'add', ns]);
    const sprayer = new Sprayer(lab);
    try {
      await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      await run('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1']);
      await run('ip', ['link', 'add', HOST_IF, 'netns', ns, 'type', 'veth', 'peer', 'name', 'spr0', 'netns', NS.inet]);
      await run('ip', ['-n', NS.inet, 'link', 'set', 'spr0', 'master', 'br-inet']);
      await run('ip', ['-n', NS.inet, 'link', 'set', 'spr0', 'up']);
      await run('ip', ['-n', ns, 'addr', 'add', `${SPRAYER_IP}/24`, 'dev', HOST_IF]);
      await run('ip', ['-n', ns, 'link', 'set', HOST_IF, 'up']);
      await run('ip', ['-n', ns, 'route', 'add', 'default', 'via', IP.routerWan]);
    } catch (err) {
      await sprayer.remove();
      throw err;
    }
    return sprayer;
  }

  get running(): boolean {
    return this.sender?.running ?? false;
  }

  /** Start spraying `targets` (address, port) at `pps` each, counted by a capture; resolves once it sends. */
  async start(targets: ReadonlyArray<readonly [string, number]>, pps = 50, maxMs = 60_000): Promise<void> {
    if (this.sender) throw new Error('sprayer already started');
    this.captureFile = this.lab.uniquePath('sprayer', 'pcap');
    this.capture = new ManagedProcess(
      'tcpdump',
      ['-i', HOST_IF, '-n', '-U', '-s', '256', '-w', this.captureFile, `udp and src host ${SPRAYER_IP}`],
      { name: 'tcpdump-sprayer', ns: SPRAYER_NS, logFile: this.lab.uniquePath('tcpdump-sprayer') },
    );
    await this.capture.waitFor(/listening on/, 5000);
    this.sender = new ManagedProcess(
      process.execPath,
      ['-e', SENDER, JSON.stringify(targets), String(pps), String(maxMs), SPRAYER_IP],
      { name: 'sprayer', ns: SPRAYER_NS, logFile: this.lab.uniquePath('sprayer') },
    );
    await this.sender.waitFor(/spraying/, 5000);
  }

  /** Packets sent so far (from the capture). */
  sent(): UdpPacket[] {
    return this.captureFile && existsSync(this.captureFile) ? sprayed(readPcapUdp(this.captureFile)) : [];
  }

  /** Stop sending, then the capture; returns every packet sent. */
  async stop(): Promise<UdpPacket[]> {
    await this.sender?.stop('SIGTERM', 2000);
    await new Promise((r) => setTimeout(r, 200));
    await this.capture?.stop('SIGINT', 3000);
    const sent = this.sent();
    this.sender = null;
    this.capture = null;
    return sent;
  }

  /** Stop everything and delete the namespace (and with it the veth). Idempotent. */
  async remove(): Promise<void> {
    await this.sender?.stop('SIGKILL', 1000);
    await this.capture?.stop('SIGKILL', 1000);
    this.sender = null;
    this.capture = null;
    await run('ip', ['netns', 'del', SPRAYER_NS], { allowFail: true });
  }
}
