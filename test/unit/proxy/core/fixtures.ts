/**
 * Shared fixtures for the proxy core unit tests: a fixed address plan, SIP text builders, a recording
 * Sender, a scripted MediaControl, a fixed next-hop resolver and a whole SipProxy wired in memory.
 */
import assert from 'node:assert/strict';
import { ManualClock } from '../../../../common/clock.ts';
import { Logger, MemorySink } from '../../../../common/logger.ts';
import { AddressBook, type Addresses } from '../../../../proxy/core/address-book.ts';
import { CallTable } from '../../../../proxy/core/call-table.ts';
import { ContactMap } from '../../../../proxy/core/contact-map.ts';
import { ContactTokens } from '../../../../proxy/core/contact-token.ts';
import { Failover } from '../../../../proxy/core/failover.ts';
import type { NextHopResolver, Target } from '../../../../proxy/core/next-hop.ts';
import { RegistrationTable } from '../../../../proxy/core/registration-table.ts';
import { type Sender, SipProxy } from '../../../../proxy/core/sip-proxy.ts';
import { TransactionMemo } from '../../../../proxy/core/transaction-memo.ts';
import { getHeader, getHeaders, getHeaderValues } from '../../../../proxy/sip/header-list.ts';
import type { SipMessage, SipRequest, SipResponse } from '../../../../proxy/sip/message.ts';
import { parseMessage } from '../../../../proxy/sip/parse.ts';
import type { BindingRecord } from '../../../../proxy/store/binding-record.ts';
import { MemoryStore } from '../../../../proxy/store/memory-store.ts';
import type {
  MediaControl,
  MediaEvents,
  ReleaseReason,
  Side,
  StreamGrant,
  UpdateRequest,
} from '../../../../rtpproxy/control.ts';

export const LAN = '192.168.1.1';
export const WAN = '198.51.100.2';
/** Different from WAN on purpose (1:1 NAT upstream): catches WAN used where the public address belongs. */
export const PUBLIC = '203.0.113.10';
export const SIP_PORT = 5060;
export const PHONE = '192.168.1.50';
export const PHONE_PORT = 5062;
export const PHONE2 = '192.168.1.51';
export const PROVIDER = '198.51.100.77';
export const PROVIDER_PORT = 5060;
export const DOMAIN = 'voip.example.net';
export const T0 = 1_700_000_000_000;

export const ADDRESSES: Addresses = {
  lanAddress: LAN,
  wanAddress: WAN,
  publicAddress: PUBLIC,
  lanNetworks: ['192.168.1.0/24'],
  sipPort: SIP_PORT,
  lanDevice: 'br-lan',
  wanDevice: 'wan',
};

export const TOKEN_KEY = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

export function quietLogger(): { log: Logger; sink: MemorySink } {
  const sink = new MemorySink();
  return { log: new Logger('test', { level: 'debug', sink }), sink };
}

/** SIP text from lines, with a correct Content-Length appended to the headers. */
export function sipText(lines: string[], body = ''): Buffer {
  const b = Buffer.from(body, 'utf8');
  return Buffer.concat([Buffer.from(`${[...lines, `Content-Length: ${b.length}`].join('\r\n')}\r\n\r\n`), b]);
}

export function parse(buf: Buffer): SipMessage {
  const r = parseMessage(buf);
  if (!r.ok) assert.fail(`does not parse: ${r.error.reason}\n${buf.toString()}`);
  return r.msg;
}

export function req(lines: string[], body = ''): SipRequest {
  const m = parse(sipText(lines, body));
  assert.equal(m.type, 'request');
  return m as SipRequest;
}

export function resp(lines: string[], body = ''): SipResponse {
  const m = parse(sipText(lines, body));
  assert.equal(m.type, 'response');
  return m as SipResponse;
}

export function binding(over: Partial<BindingRecord> = {}): BindingRecord {
  return {
    token: 'alice-smqaaaaaaaaaaaa',
    aor: `sip:alice@${DOMAIN}`,
    contact: `sip:alice@${PHONE}:${PHONE_PORT}`,
    phoneAddr: PHONE,
    phonePort: PHONE_PORT,
    registrar: `${PROVIDER}:${PROVIDER_PORT}`,
    expiresAt: T0 + 3600_000,
    updatedAt: T0,
    callId: 'reg-1@phone',
    instance: null,
    ...over,
  };
}

export function sdp(addr: string, port: number, extra: string[] = []): string {
  return [
    'v=0',
    `o=- 1 1 IN IP4 ${addr}`,
    's=-',
    `c=IN IP4 ${addr}`,
    't=0 0',
    `m=audio ${port} RTP/AVP 0 8`,
    'a=rtpmap:0 PCMU/8000',
    ...extra,
    'a=sendrecv',
    '',
  ].join('\r\n');
}

export interface Sent {
  readonly side: Side;
  readonly data: Buffer;
  readonly address: string;
  readonly port: number;
  readonly intercepted?: boolean;
  readonly transport?: 'udp' | 'tcp';
}

export class RecordingSender implements Sender {
  readonly sent: Sent[] = [];
  send(
    side: Side,
    data: Buffer,
    address: string,
    port: number,
    intercepted?: boolean,
    transport?: 'udp' | 'tcp',
  ): void {
    this.sent.push({
      side,
      data: Buffer.from(data),
      address,
      port,
      ...(intercepted ? { intercepted } : {}),
      ...(transport === 'tcp' ? { transport } : {}),
    });
  }
  /** Everything sent so far, then forgets it. */
  take(): Sent[] {
    return this.sent.splice(0, this.sent.length);
  }
  /** Exactly one datagram sent since the last take(), parsed. */
  one(): Sent & { msg: SipMessage } {
    const all = this.take();
    assert.equal(
      all.length,
      1,
      `one datagram sent, got ${all.length}: ${all.map((s) => s.data.toString()).join('\n---\n')}`,
    );
    const s = all[0]!;
    return { ...s, msg: parse(s.data) };
  }
}

/** Grants: SDP from the phone gets the public address (ports 30000+), from the far side the LAN one (40000+). */
export class FakeMedia implements MediaControl {
  readonly updates: UpdateRequest[] = [];
  readonly releases: Array<{ sessionId: string; reason: ReleaseReason }> = [];
  fail: Error | null = null;

  async update(r: UpdateRequest): Promise<StreamGrant[]> {
    this.updates.push(r);
    if (this.fail) throw this.fail;
    return r.streams.map((s) => ({
      index: s.index,
      addr: r.from === 'lan' ? PUBLIC : LAN,
      port: s.endpoint ? (r.from === 'lan' ? 30000 : 40000) + s.index * 2 : 0,
      rtcpPort: s.endpoint ? (r.from === 'lan' ? 30001 : 40001) + s.index * 2 : 0,
      path: 'relay' as const,
    }));
  }
  async release(sessionId: string, reason: ReleaseReason): Promise<void> {
    this.releases.push({ sessionId, reason });
  }
  query() {
    return [];
  }
  on<K extends keyof MediaEvents>(_event: K, _fn: (payload: MediaEvents[K]) => void): () => void {
    return () => {};
  }
  async close(): Promise<void> {}
}

/** Names map to fixed targets; IP literals resolve to themselves. */
export class FixedResolver implements NextHopResolver {
  readonly asked: Array<[string, number | undefined]> = [];
  constructor(private readonly names: Record<string, Target[]> = {}) {}
  async resolve(host: string, port: number | undefined): Promise<Target[]> {
    this.asked.push([host, port]);
    const h = host.replace(/^\[|\]$/g, '');
    if (/^[\d.]+$/.test(h) || h.includes(':')) return [{ address: h, port: port ?? 5060 }];
    return this.names[h.toLowerCase()] ?? [];
  }
}

/** Lets queued promise work (the proxy's async forwarding) finish. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}

export function makeProxy(opts: { maxMessageSize?: number } = {}) {
  const clock = new ManualClock(T0);
  const { log, sink } = quietLogger();
  const store = new MemoryStore();
  const registrations = new RegistrationTable(store, clock, log);
  const calls = new CallTable(clock);
  const contacts = new ContactMap(clock);
  const memo = new TransactionMemo(clock);
  const tokens = new ContactTokens(TOKEN_KEY);
  const sender = new RecordingSender();
  const media = new FakeMedia();
  const addresses = new AddressBook(ADDRESSES);
  const resolver = new FixedResolver({
    [DOMAIN]: [{ address: PROVIDER, port: PROVIDER_PORT }],
  });
  const failover = new Failover(clock, (data, t) => sender.send('wan', data, t.address, t.port), 4000, log);
  const proxy = new SipProxy({
    addresses,
    transport: sender,
    control: media,
    registrations,
    calls,
    contacts,
    tokens,
    resolver,
    failover,
    memo,
    clock,
    log,
    maxMessageSize: opts.maxMessageSize ?? 65535,
  });
  /** Hands a datagram to the proxy and waits for its async forwarding to finish. */
  const deliver = async (
    data: Buffer,
    side: Side,
    address: string,
    port: number,
    how: { intercepted?: boolean; transport?: 'udp' | 'tcp' } = {},
  ) => {
    proxy.handle({ data, side, address, port, ...how });
    await settle();
  };
  return {
    proxy,
    clock,
    sink,
    store,
    registrations,
    calls,
    contacts,
    memo,
    tokens,
    sender,
    media,
    addresses,
    resolver,
    deliver,
  };
}

/**
 * What a UA answers to `request` (RFC 3261 §8.2.6): its Via lines, From, To (tagged with `toTag` when
 * untagged), Call-ID, CSeq and Record-Route copied, then `extra` lines and an optional SDP body.
 */
export function answer(
  request: SipMessage,
  status: string,
  opts: { toTag?: string; extra?: string[]; sdp?: string } = {},
): Buffer {
  const to = getHeader(request, 'to') ?? '';
  const tagged = opts.toTag && !/;\s*tag=/i.test(to) ? `${to};tag=${opts.toTag}` : to;
  return sipText(
    [
      `SIP/2.0 ${status}`,
      ...getHeaders(request, 'via').map((v) => `Via: ${v}`),
      ...getHeaders(request, 'record-route').map((v) => `Record-Route: ${v}`),
      `From: ${getHeader(request, 'from')}`,
      `To: ${tagged}`,
      `Call-ID: ${getHeader(request, 'call-id')}`,
      `CSeq: ${getHeader(request, 'cseq')}`,
      ...(opts.extra ?? []),
      ...(opts.sdp ? ['Content-Type: application/sdp'] : []),
    ],
    opts.sdp ?? '',
  );
}

/** The URIs of every value of a name-addr list header (Contact, Route, Record-Route). */
export function uris(msg: SipMessage, name: string): string[] {
  return getHeaderValues(msg, name).map((v) => /<([^>]*)>/.exec(v)?.[1] ?? v);
}
