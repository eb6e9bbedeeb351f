/**
 * An RTP sprayer on the "internet": one more host on the lab's br-inet bridge (its own namespace,
 * `<prefix>sprayer`, 203.0.113.66, default route via the router like the other public hosts) that
 * sends RTP-shaped packets with its own SSRC to chosen router ports, as an attacker guessing a call's
 * public media port would. `Sprayer.alongside()` runs one more from an existing host's address (e.g. the
 * remote's, on another port: a sender that passes a pinhole narrowed to that address). Packets are
 * counted where they leave (tcpdump in the sender's namespace) and recognised anywhere by the SSRC,
 * whoever forwards them.
 *
 * The namespace carries the lab's prefix, so the lab's teardown removes it too; remove() does it
 * first.
 */
import { existsSync } from 'node:fs';
import { run } from './exec.ts';
import { HOST_IF, IP, type Lab, NS, type NsKey, PREFIX } from './lab.ts';
import { ManagedProcess } from './proc.ts';
import { readPcapUdp, type UdpPacket } from './rtp.ts';

export const SPRAYER_NS = `${PREFIX}sprayer`;
export const SPRAYER_IP = '203.0.113.66';
/** SSRC of every packet of the sprayer in its own namespace. */
export const SPRAY_SSRC = 0x5bad5bad;

/** Packets (RTP or not) that carry a sprayer's SSRC. */
export function sprayed(packets: readonly UdpPacket[], ssrc = SPRAY_SSRC): UdpPacket[] {
  return packets.filter((p) => p.payload.length >= 12 && p.payload.readUInt32BE(8) === ssrc);
}

/** The sending program: RTP v2, PT 0, 160 bytes of payload, to every target at `pps`, for at most `maxMs`. */
const SENDER = `
const [targets, pps, maxMs, src, ssrc] = [JSON.parse(process.argv[1]), Number(process.argv[2]), Number(process.argv[3]), process.argv[4], Number(process.argv[5])];
const s = require('dgram').createSocket('udp4');
const b = Buffer.alloc(172, 0xff);
let seq = 0;
s.on('error', (e) => console.log('send error ' + e.message));
s.bind(0, src, () => {
  console.log('spraying from port ' + s.address().port + ' to ' + JSON.stringify(targets));
  setInterval(() => {
    b[0] = 0x80; b[1] = 0; b.writeUInt16BE(seq & 0xffff, 2); b.writeUInt32BE((seq * 160) >>> 0, 4);
    b.writeUInt32BE(ssrc, 8); seq++;
    for (const [a, p] of targets) s.send(b, p, a);
  }, 1000 / pps);
});
setTimeout(() => process.exit(0), maxMs);
`;

/** One-shot sender: `count` packets from src:port to the target, then exit. */
const PROBE = `
const [dst, dport, src, sport, count, ssrc] = process.argv.slice(1);
const s = require('dgram').createSocket('udp4');
const b = Buffer.alloc(172, 0xff);
b[0] = 0x80; b.writeUInt32BE(Number(ssrc), 8);
s.bind(Number(sport), src, () => {
  let n = 0;
  const t = setInterval(() => {
    b.writeUInt16BE(n, 2); s.send(b, Number(dport), dst);
    if (++n >= Number(count)) { clearInterval(t); setTimeout(() => process.exit(0), 50); }
  }, 20);
});
`;

/** What a sprayer did: the packets it sent, and what it got back (from the router, to its port). */
export interface SprayLog {
  readonly sent: UdpPacket[];
  readonly gotBack: UdpPacket[];
}

export class Sprayer {
  private sender: ManagedProcess | null = null;
  private capture: ManagedProcess | null = null;
  private captureFile = '';
  /** The sender's source port (known once it sprays). */
  port = 0;

  private constructor(
    readonly lab: Lab,
    /** Namespace name, source address and SSRC of the packets. */
    readonly ns: string,
    readonly ip: string,
    readonly ssrc: number,
    private readonly ownsNamespace: boolean,
  ) {}

  /** Make the sprayer's namespace and plug it into br-inet. */
  static async create(lab: Lab): Promise<Sprayer> {
    const ns = SPRAYER_NS;
    await run('ip', ['netns', 'del', ns], { allowFail: true });
    await run('ip', ['netns', 'add', ns]);
    const sprayer = new Sprayer(lab, ns, SPRAYER_IP, SPRAY_SSRC, true);
    try {
      await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      await run('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1']);
      await run('ip', [
        'link',
        'add',
        HOST_IF,
        'netns',
        ns,
        'type',
        'veth',
        'peer',
        'name',
        'spr0',
        'netns',
        NS.inet,
      ]);
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

  /** A sprayer sending from `ip` in an existing lab host's namespace (an ephemeral port, its own SSRC). */
  static alongside(lab: Lab, host: NsKey, ip: string, ssrc: number): Sprayer {
    return new Sprayer(lab, NS[host], ip, ssrc, false);
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
      ['-i', HOST_IF, '-n', '-U', '-s', '256', '-w', this.captureFile, `udp and host ${this.ip}`],
      {
        name: `tcpdump-sprayer-${this.ip}`,
        ns: this.ns,
        logFile: this.lab.uniquePath(`tcpdump-sprayer-${this.ip}`),
      },
    );
    await this.capture.waitFor(/listening on/, 5000);
    this.sender = new ManagedProcess(
      process.execPath,
      ['-e', SENDER, JSON.stringify(targets), String(pps), String(maxMs), this.ip, String(this.ssrc)],
      { name: `sprayer-${this.ip}`, ns: this.ns, logFile: this.lab.uniquePath(`sprayer-${this.ip}`) },
    );
    const m = await this.sender.waitFor(/spraying from port (\d+)/, 5000);
    this.port = Number(m[1]);
  }

  /** What the capture holds so far. */
  log(): SprayLog {
    if (!this.captureFile || !existsSync(this.captureFile)) return { sent: [], gotBack: [] };
    const all = readPcapUdp(this.captureFile);
    return {
      sent: sprayed(
        all.filter((p) => p.src === this.ip),
        this.ssrc,
      ),
      gotBack: all.filter((p) => p.dst === this.ip && p.dport === this.port && this.port !== 0),
    };
  }

  /** Stop sending, then the capture; returns what it sent and got back. */
  async stop(): Promise<SprayLog> {
    await this.sender?.stop('SIGTERM', 2000);
    await new Promise((r) => setTimeout(r, 200));
    await this.capture?.stop('SIGINT', 3000);
    const log = this.log();
    this.sender = null;
    this.capture = null;
    return log;
  }

  /** Send `count` packets to `target` from a fresh source port (a new flow for the router). */
  async probe(target: readonly [string, number], sourcePort: number, count = 5): Promise<void> {
    const p = new ManagedProcess(
      process.execPath,
      [
        '-e',
        PROBE,
        target[0],
        String(target[1]),
        this.ip,
        String(sourcePort),
        String(count),
        String(this.ssrc),
      ],
      { name: `probe-${this.ip}`, ns: this.ns, logFile: this.lab.uniquePath(`probe-${this.ip}`) },
    );
    const exit = await p.waitExit(5000);
    if (exit.code !== 0) throw new Error(`probe from ${this.ip}:${sourcePort} failed\n${p.tail()}`);
  }

  /** Stop everything and delete the namespace if it is the sprayer's own (and with it the veth). Idempotent. */
  async remove(): Promise<void> {
    await this.sender?.stop('SIGKILL', 1000);
    await this.capture?.stop('SIGKILL', 1000);
    this.sender = null;
    this.capture = null;
    if (this.ownsNamespace) await run('ip', ['netns', 'del', this.ns], { allowFail: true });
  }
}
