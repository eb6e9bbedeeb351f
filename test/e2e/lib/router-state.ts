/**
 * What the router holds while sipmasq drives its firewall (issue 3's kernel media path), read from
 * the router namespace rather than from sipmasq: the ruleset and the `smq:` comments in it, conntrack
 * entries, the UDP sockets sipmasq has open, and the namespace's UDP counters (datagrams the kernel
 * delivered to any local socket: the proof that kernel-path media never reaches a process).
 */
import { writeFileSync } from 'node:fs';
import { PACKETS_PER_SECOND, writePcmuRaw } from './audio.ts';
import { nsRun, waitUntil } from './exec.ts';
import { type Lab, NS } from './lab.ts';
import type { Sipmasq, Status, StatusStream } from './sipmasq.ts';
import { AUDIO_SECONDS } from './with-lab.ts';

/** `firewall` of `sipmasq status --json` (rtpproxy/control.ts FirewallStatus). */
export interface FirewallView {
  readonly backend: string;
  readonly reason: string;
  readonly healthy: boolean;
  readonly restored: number;
  readonly openings: readonly string[];
  readonly warnings: readonly string[];
}

export interface MediaStatus extends Status {
  readonly pid: number;
  readonly firewall: FirewallView;
  readonly warnings: readonly string[];
  readonly calls: ReadonlyArray<Status['calls'][number] & { readonly sessionId: string }>;
}

export async function mediaStatus(smq: Sipmasq): Promise<MediaStatus> {
  const s = (await smq.status()) as MediaStatus;
  if (typeof s.firewall?.backend !== 'string') throw new Error('status --json has no firewall section');
  return s;
}

/** Poll status until `pick` returns something (not undefined/false). */
export function waitStatus<T>(
  smq: Sipmasq,
  what: string,
  pick: (s: MediaStatus) => T | undefined | false,
  timeoutMs = 5000,
): Promise<T> {
  return waitUntil(what, async () => pick(await mediaStatus(smq)), timeoutMs, 200);
}

/** The only stream of the only call, once it is there. */
export function onlyStream(s: MediaStatus): StatusStream | undefined {
  return s.calls.length === 1 && s.calls[0]!.streams.length === 1 ? s.calls[0]!.streams[0] : undefined;
}

/** Port of an `addr:port` string. */
export function portOf(hostPort: string): number {
  return Number(hostPort.slice(hostPort.lastIndexOf(':') + 1));
}

/**
 * The router's whole ruleset as its backend prints it: `nft -j list ruleset` (JSON, every table) for
 * nftables, `iptables-save --counters` (filter and nat) for iptables.
 */
export async function rulesetDump(lab: Lab): Promise<string> {
  if (lab.firewall === 'nftables') return (await nsRun(NS.router, 'nft', ['-j', 'list', 'ruleset'])).stdout;
  return (await nsRun(NS.router, 'iptables-save', ['--counters'])).stdout;
}

/** Every sipmasq comment (`smq:...`) in a dump, in order. */
export function smqComments(dump: string): string[] {
  return [...dump.matchAll(/smq:[A-Za-z0-9_.:@*=,/-]+/g)].map((m) => m[0]);
}

/** Comments of per-call rules (kernel mappings, relay pinholes): not @marker, @hook, @sip, @redirect. */
export function perCallComments(dump: string): string[] {
  return smqComments(dump).filter((c) => !c.startsWith('smq:@'));
}

/** Per-call comments of one session (its tag is the session id, see rtpproxy/firewall/rule-comment.ts). */
export function sessionComments(dump: string, sessionId: string): string[] {
  return perCallComments(dump).filter((c) => c.startsWith(`smq:${sessionId}:`));
}

/**
 * Packets counted by the rule or set element whose comment contains `part` (nft -j JSON: rules, and
 * elements of sipmasq's sets and maps; iptables-save --counters: rules), or null when there is none.
 */
export function ruleCounter(dump: string, part: string): number | null {
  if (dump.trimStart().startsWith('{')) {
    type Elem = { elem?: { comment?: string; counter?: { packets: number } } };
    const doc = JSON.parse(dump) as {
      nftables: Array<{
        rule?: { comment?: string; expr?: unknown[] };
        set?: { elem?: unknown[] };
        map?: { elem?: unknown[] };
      }>;
    };
    for (const item of doc.nftables) {
      for (const raw of (item.set ?? item.map)?.elem ?? []) {
        const e = (Array.isArray(raw) ? raw[0] : raw) as Elem;
        if (e.elem?.comment?.includes(part)) return e.elem.counter?.packets ?? 0;
      }
      if (!item.rule?.comment?.includes(part)) continue;
      for (const e of item.rule.expr ?? []) {
        const c = (e as { counter?: { packets: number } }).counter;
        if (c) return c.packets;
      }
    }
    return null;
  }
  for (const line of dump.split('\n')) {
    const m = /^\[(\d+):\d+\] -A /.exec(line);
    if (m && line.includes(part)) return Number(m[1]);
  }
  return null;
}

/**
 * Packets the lab's router firewall dropped as unsolicited input from the WAN so far: the counter of
 * `drop_from_wan` (nftables, fw4 shape) or of `zone_wan_src_DROP` (iptables, fw3 shape), see
 * lib/firewall.ts.
 */
export async function wanInputDrops(lab: Lab): Promise<number> {
  const dump = await rulesetDump(lab);
  if (lab.firewall === 'nftables') {
    const doc = JSON.parse(dump) as { nftables: Array<{ rule?: { chain?: string; expr?: unknown[] } }> };
    for (const item of doc.nftables) {
      if (item.rule?.chain !== 'drop_from_wan') continue;
      for (const e of item.rule.expr ?? []) {
        const c = (e as { counter?: { packets: number } }).counter;
        if (c) return c.packets;
      }
    }
  } else {
    const m = /^\[(\d+):\d+\] -A zone_wan_src_DROP .*-j DROP/m.exec(dump);
    if (m) return Number(m[1]);
  }
  throw new Error(`no WAN input drop counter in the router's ruleset:\n${dump.slice(0, 2000)}`);
}

/** Lines (iptables-save) or JSON objects (nft) mentioning sipmasq at all: chains, jumps, comments. */
export function sipmasqTraces(dump: string): string[] {
  return dump
    .split(/\n|\},\s*\{/)
    .filter((l) => /sipmasq|smq:/.test(l))
    .map((l) => l.trim().slice(0, 300));
}

/** The namespace's UDP counters from /proc/net/snmp (InDatagrams, NoPorts, ...). */
export async function udpCounters(ns: keyof typeof NS = 'router'): Promise<Record<string, number>> {
  const text = (await nsRun(NS[ns], 'cat', ['/proc/net/snmp'])).stdout;
  const lines = text.split('\n').filter((l) => l.startsWith('Udp:'));
  const names = (lines[0] ?? '').split(/\s+/).slice(1);
  const values = (lines[1] ?? '').split(/\s+/).slice(1).map(Number);
  const out: Record<string, number> = {};
  names.forEach((n, i) => {
    out[n] = values[i] ?? Number.NaN;
  });
  if (!Number.isFinite(out.InDatagrams)) throw new Error(`no Udp InDatagrams in /proc/net/snmp:\n${text}`);
  return out;
}

export interface UdpSocket {
  readonly local: string;
  readonly pid: number;
  /** skmem d: datagrams the kernel dropped at this socket. */
  readonly drops: number;
}

/** UDP sockets of `pid` in the router namespace (`ss -u -a -n -p -m`). */
export async function udpSocketsOf(pid: number): Promise<UdpSocket[]> {
  const text = (await nsRun(NS.router, 'ss', ['-H', '-u', '-a', '-n', '-p', '-m'])).stdout;
  const out: UdpSocket[] = [];
  let last: { local: string; pid: number } | null = null;
  for (const line of text.split('\n')) {
    const skmem = /skmem:\(([^)]*)\)/.exec(line);
    const owner = /pid=(\d+)/.exec(line);
    const cols = line.trim().split(/\s+/);
    if (owner && cols.length >= 4) last = { local: cols[3]!, pid: Number(owner[1]) };
    if (skmem && last) {
      const d = /(?:^|,)d(\d+)/.exec(skmem[1]!);
      if (last.pid === pid) out.push({ ...last, drops: Number(d?.[1] ?? 0) });
      last = null;
    }
  }
  return out;
}

/** `conntrack -L -p udp` lines in the router, optionally filtered by a substring. */
export async function conntrackUdp(lab: Lab, contains?: string): Promise<string[]> {
  const text = await lab.conntrack(['-L', '-p', 'udp']);
  return text
    .split('\n')
    .filter((l) => l.includes('udp') && (contains === undefined || l.includes(contains)));
}

/** The original direction of a conntrack line: who sent the flow's first packet, to where. */
export function origTuple(line: string): { src: string; dst: string; sport: number; dport: number } | null {
  const m = /src=(\S+) dst=(\S+) sport=(\d+) dport=(\d+)/.exec(line);
  return m ? { src: m[1]!, dst: m[2]!, sport: Number(m[3]), dport: Number(m[4]) } : null;
}

/**
 * Delete UDP conntrack entries in the router (`conntrack -D -p udp <match>`), as their timeout would.
 * Exit 1 with "0 flow entries" (nothing matched) is fine.
 */
export async function deleteConntrack(lab: Lab, match: readonly string[]): Promise<void> {
  const r = await lab.exec('router', 'conntrack', ['-D', '-p', 'udp', ...match], { allowFail: true });
  if (r.code !== 0 && !/0 flow entries/.test(r.stderr))
    throw new Error(`conntrack -D ${match.join(' ')} failed (${r.code}): ${r.stderr}`);
}

/**
 * Run `fn` with the lab's audio file (./audio.pcmu, what every sipp rtp_stream plays once) made
 * `seconds` long, for calls that must outlast something; the usual file is put back afterwards.
 * Returns fn's result; the packets each side sends are `seconds * 50`.
 */
export async function withAudioSeconds<T>(lab: Lab, seconds: number, fn: () => Promise<T>): Promise<T> {
  writePcmuRaw(lab.path('audio.pcmu'), seconds);
  try {
    return await fn();
  } finally {
    writePcmuRaw(lab.path('audio.pcmu'), AUDIO_SECONDS);
  }
}

export function audioPackets(seconds: number): number {
  return seconds * PACKETS_PER_SECOND;
}

/** Write a text file into the lab's dir (evidence kept next to the logs). */
export function keepEvidence(lab: Lab, name: string, text: string): string {
  const p = lab.uniquePath(name, 'txt');
  writeFileSync(p, text);
  return p;
}
