/**
 * RTP counting at the endpoints: tcpdump captures UDP on the endpoint's media ports inside its own
 * namespace, and the pcap file is read back here (no text parsing of tcpdump output). A packet from
 * the endpoint's address and a media port is "sent", one to it is "received"; RTCP (payload types
 * 200-204, or odd ports when asked) is left out. Captures see what reaches the interface, so a packet
 * counts as received even if the program's socket was already closed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { sleep } from './exec.ts';
import { HOST_IF, type Lab, type NsKey } from './lab.ts';
import type { ManagedProcess } from './proc.ts';

export interface Flow {
  readonly src: string;
  readonly dst: string;
  packets: number;
  bytes: number;
}

export interface RtpCounts {
  /** RTP packets the endpoint sent / received on its media ports. */
  readonly sent: number;
  readonly received: number;
  readonly sentBytes: number;
  readonly receivedBytes: number;
  /** Per address:port pair, e.g. '192.168.1.10:6000 > 192.168.1.1:20000'. */
  readonly flows: readonly Flow[];
  /** Peers the endpoint received RTP from ('ip:port'). */
  readonly receivedFrom: readonly string[];
  /** Peers the endpoint sent RTP to ('ip:port'). */
  readonly sentTo: readonly string[];
}

export interface UdpPacket {
  readonly time: number;
  readonly src: string;
  readonly sport: number;
  readonly dst: string;
  readonly dport: number;
  readonly payload: Buffer;
}

/** Read IPv4/UDP packets from a classic pcap file (Ethernet or Linux cooked link types). */
export function readPcapUdp(file: string): UdpPacket[] {
  const buf = readFileSync(file);
  if (buf.length < 24) return [];
  const magic = buf.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!le && buf.readUInt32BE(0) !== 0xa1b2c3d4 && buf.readUInt32BE(0) !== 0xa1b23c4d)
    throw new Error(`${file}: not a pcap file`);
  const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const linktype = u32(20);
  const out: UdpPacket[] = [];
  let off = 24;
  while (off + 16 <= buf.length) {
    const sec = u32(off);
    const usec = u32(off + 4);
    const incl = u32(off + 8);
    const pkt = buf.subarray(off + 16, off + 16 + incl);
    off += 16 + incl;
    let ip = -1;
    if (linktype === 1 && pkt.length >= 14 && pkt.readUInt16BE(12) === 0x0800) ip = 14;
    else if (linktype === 113 && pkt.length >= 16 && pkt.readUInt16BE(14) === 0x0800) ip = 16;
    else if (linktype === 101 || linktype === 12) ip = 0;
    if (ip < 0 || pkt.length < ip + 20) continue;
    if (pkt[ip]! >> 4 !== 4 || pkt[ip + 9] !== 17) continue;
    const ihl = (pkt[ip]! & 0x0f) * 4;
    const udp = ip + ihl;
    if (pkt.length < udp + 8) continue;
    const addr = (o: number) => `${pkt[o]}.${pkt[o + 1]}.${pkt[o + 2]}.${pkt[o + 3]}`;
    out.push({
      time: sec + usec / 1e6,
      src: addr(ip + 12),
      dst: addr(ip + 16),
      sport: pkt.readUInt16BE(udp),
      dport: pkt.readUInt16BE(udp + 2),
      payload: pkt.subarray(udp + 8),
    });
  }
  return out;
}

/** RTP (not RTCP): version 2 and a payload type outside RTCP's 200-204 (72-76 with the marker bit). */
export function isRtp(payload: Buffer): boolean {
  if (payload.length < 12 || payload[0]! >> 6 !== 2) return false;
  const pt = payload[1]!;
  return pt < 200 || pt > 204;
}

/** Count the RTP that `endpointIp` sent and received on local ports within [portMin, portMax]. */
export function countRtp(
  packets: readonly UdpPacket[],
  endpointIp: string,
  portMin: number,
  portMax: number,
): RtpCounts {
  let sent = 0;
  let received = 0;
  let sentBytes = 0;
  let receivedBytes = 0;
  const flows = new Map<string, Flow>();
  const from = new Set<string>();
  const to = new Set<string>();
  for (const p of packets) {
    if (!isRtp(p.payload)) continue;
    const out = p.src === endpointIp && p.sport >= portMin && p.sport <= portMax;
    const inn = p.dst === endpointIp && p.dport >= portMin && p.dport <= portMax;
    if (!out && !inn) continue;
    const key = `${p.src}:${p.sport} > ${p.dst}:${p.dport}`;
    const f = flows.get(key) ?? {
      src: `${p.src}:${p.sport}`,
      dst: `${p.dst}:${p.dport}`,
      packets: 0,
      bytes: 0,
    };
    f.packets += 1;
    f.bytes += p.payload.length;
    flows.set(key, f);
    if (out) {
      sent += 1;
      sentBytes += p.payload.length;
      to.add(`${p.dst}:${p.dport}`);
    } else {
      received += 1;
      receivedBytes += p.payload.length;
      from.add(`${p.src}:${p.sport}`);
    }
  }
  return {
    sent,
    received,
    sentBytes,
    receivedBytes,
    flows: [...flows.values()],
    receivedFrom: [...from],
    sentTo: [...to],
  };
}

/** tcpdump in a namespace writing a pcap; read back with readPcapUdp. */
export class UdpCapture {
  private constructor(
    readonly file: string,
    readonly proc: ManagedProcess,
  ) {}

  /**
   * Start capturing on the namespace's eth0 with a BPF filter; resolves once tcpdump listens.
   * `immediate`: hand each packet to tcpdump at once (--immediate-mode) instead of in buffered blocks,
   * for captures of a few packets stopped right after them (else they may be lost at stop).
   */
  static async start(
    lab: Lab,
    ns: NsKey,
    filter: string,
    name = `tcpdump-${ns}`,
    opts: { readonly immediate?: boolean } = {},
  ): Promise<UdpCapture> {
    const file = lab.uniquePath(name, 'pcap');
    const proc = lab.spawn(ns, name, 'tcpdump', [
      ...(opts.immediate ? ['--immediate-mode'] : []),
      '-i',
      HOST_IF,
      '-n',
      '-U',
      '-s',
      '2048',
      '-w',
      file,
      filter,
    ]);
    await proc.waitFor(/listening on/, 5000);
    return new UdpCapture(file, proc);
  }

  /** Packets so far (tcpdump writes packet by packet with -U). */
  packets(): UdpPacket[] {
    return existsSync(this.file) ? readPcapUdp(this.file) : [];
  }

  /** Stop tcpdump after a short drain and return every packet. */
  async stop(drainMs = 300): Promise<UdpPacket[]> {
    await sleep(drainMs);
    await this.proc.stop('SIGINT', 3000);
    return this.packets();
  }
}

/** SIP requests (by method) seen in captured packets, in either direction. */
export function sipRequests(packets: readonly UdpPacket[], method: string): UdpPacket[] {
  return packets.filter((p) => p.payload.subarray(0, method.length + 1).toString('latin1') === `${method} `);
}

/** RTP counting for one endpoint: capture filtered on its address and media port range. */
export class RtpCapture {
  private constructor(
    readonly endpointIp: string,
    readonly portMin: number,
    readonly portMax: number,
    readonly capture: UdpCapture,
  ) {}

  static async start(
    lab: Lab,
    ns: NsKey,
    endpointIp: string,
    portMin: number,
    portMax = portMin,
  ): Promise<RtpCapture> {
    const filter = `udp and host ${endpointIp} and portrange ${portMin}-${portMax}`;
    const cap = await UdpCapture.start(lab, ns, filter, `rtp-${ns}`);
    return new RtpCapture(endpointIp, portMin, portMax, cap);
  }

  snapshot(): RtpCounts {
    return countRtp(this.capture.packets(), this.endpointIp, this.portMin, this.portMax);
  }

  async stop(drainMs = 300): Promise<RtpCounts> {
    return countRtp(await this.capture.stop(drainMs), this.endpointIp, this.portMin, this.portMax);
  }
}

/** Fraction of `sent` that arrived (1 when nothing was sent, to keep messages meaningful). */
export function deliveryRatio(sent: number, received: number): number {
  return sent === 0 ? 0 : received / sent;
}

export function formatCounts(name: string, c: RtpCounts): string {
  const flows = c.flows.map((f) => `    ${f.src} > ${f.dst}: ${f.packets}`).join('\n');
  return `${name}: sent ${c.sent}, received ${c.received}\n${flows}`;
}
