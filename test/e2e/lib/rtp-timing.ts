/**
 * When RTP arrived, for calls where something happens mid-call (a crash, a firewall reload): arrival
 * times of one endpoint's RTP out of a capture, how many fell in a time window, and the longest silence.
 * Times are capture timestamps in seconds (the same clock as Date.now() / 1000).
 */
import { isRtp, type UdpPacket } from './rtp.ts';

/** Arrival times of RTP to `ip:port` (sorted). */
export function arrivals(packets: readonly UdpPacket[], ip: string, port: number): number[] {
  return packets
    .filter((p) => p.dst === ip && p.dport === port && isRtp(p.payload))
    .map((p) => p.time)
    .sort((a, b) => a - b);
}

/** How many of `times` fall in [from, to) (seconds). */
export function countBetween(times: readonly number[], from: number, to: number): number {
  return times.filter((t) => t >= from && t < to).length;
}

/** The longest interval between consecutive times (0 for fewer than two). */
export function largestGap(times: readonly number[]): { gap: number; at: number } {
  let gap = 0;
  let at = 0;
  for (let i = 1; i < times.length; i++) {
    const g = times[i]! - times[i - 1]!;
    if (g > gap) {
      gap = g;
      at = times[i - 1]!;
    }
  }
  return { gap, at };
}

/** Seconds since the epoch, as capture timestamps count. */
export function nowS(): number {
  return Date.now() / 1000;
}
