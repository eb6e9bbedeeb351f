/**
 * The proxy: every datagram in, the right datagram out. Requests from the LAN are masqueraded and sent
 * to the internet; requests from the internet reach a registered phone or an existing dialog, or are
 * refused; responses follow their Via back. SDP is rewritten on the way through both ways (sdp-media.ts)
 * and registrations recorded (register-flow.ts). Nothing here throws through the event loop: bad input
 * is answered or dropped with a log line.
 */
import type { Clock } from '../../common/clock.ts';
import { errorText } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { MediaControl, Side } from '../../rtpproxy/control.ts';
import { parseCSeq } from '../sip/cseq.ts';
import { getHeader, setHeader } from '../sip/header-list.ts';
import type { SipRequest, SipResponse } from '../sip/message.ts';
import { getTag } from '../sip/name-addr.ts';
import { parseMessage } from '../sip/parse.ts';
import { createResponse } from '../sip/responses.ts';
import { serializeMessage } from '../sip/serialize.ts';
import type { Datagram } from '../transport/udp-transport.ts';
import type { AddressBook } from './address-book.ts';
import type { CallEntry, CallTable } from './call-table.ts';
import type { ContactMap } from './contact-map.ts';
import type { ContactTokens } from './contact-token.ts';
import type { Failover } from './failover.ts';
import { masqueradeContacts, normalizeAor, processRoutes, recordRoute } from './masquerade.ts';
import type { NextHopResolver, Target } from './next-hop.ts';
import { RegisterFlow } from './register-flow.ts';
import type { RegistrationTable } from './registration-table.ts';
import { decide } from './route-decision.ts';
import { applySdp, hasSdp } from './sdp-media.ts';
import type { TransactionMemo } from './transaction-memo.ts';
import { branchFor, popOwnVia, pushVia, responseDestination, stampReceived } from './via-stack.ts';

export interface Sender {
  /**
   * `intercepted`: out of the intercept socket (transparent mode), so the phone sees its server.
   * `transport`: 'tcp' for a phone's TCP connection (the WAN side is always UDP).
   */
  send(
    side: Side,
    data: Buffer,
    address: string,
    port: number,
    intercepted?: boolean,
    transport?: 'udp' | 'tcp',
  ): void;
}

export interface SipProxyDeps {
  readonly addresses: AddressBook;
  readonly transport: Sender;
  readonly control: MediaControl;
  readonly registrations: RegistrationTable;
  readonly calls: CallTable;
  readonly contacts: ContactMap;
  readonly tokens: ContactTokens;
  readonly resolver: NextHopResolver;
  /** Sends requests to the internet, moving to the next DNS target on 503 or silence. */
  readonly failover: Failover;
  readonly memo: TransactionMemo;
  readonly clock: Clock;
  readonly log: Logger;
  readonly maxMessageSize: number;
  /** Configured per-domain outbound proxies (override DNS). */
  readonly proxyFor?: (domain: string) => { host: string; port: number | undefined } | undefined;
}

/** Methods whose requests and responses carry offers and answers (RFC 3264, RFC 3311, RFC 3262). */
const SDP_METHODS = new Set(['INVITE', 'UPDATE', 'PRACK', 'ACK']);

export class SipProxy {
  private readonly register: RegisterFlow;
  readonly counters = { received: 0, forwarded: 0, answered: 0, dropped: 0, parseErrors: 0 };

  constructor(private readonly d: SipProxyDeps) {
    this.register = new RegisterFlow(d.registrations, d.tokens, d.addresses);
  }

  /** The sender this proxy writes through (keep-alives share it). */
  transportSender(): Sender {
    return this.d.transport;
  }

  /** Entry point for every datagram. Never throws. */
  handle(dg: Datagram): void {
    this.counters.received++;
    try {
      this.dispatch(dg);
    } catch (err) {
      this.counters.dropped++;
      this.d.log.error('internal error, message dropped', {
        from: `${dg.address}:${dg.port}`,
        error: errorText(err),
      });
    }
  }

  private dispatch(dg: Datagram): void {
    const parsed = parseMessage(dg.data, { maxSize: this.d.maxMessageSize });
    if (!parsed.ok) {
      const e = parsed.error;
      if (e.reason === 'keepalive') return;
      this.counters.parseErrors++;
      if (e.partial && e.status > 0 && e.partial.method !== 'ACK') {
        this.d.log.info('bad request answered', {
          status: e.status,
          reason: e.reason,
          from: `${dg.address}:${dg.port}`,
        });
        this.reply(e.partial, dg, e.status, e.reason.slice(0, 100));
      } else {
        this.counters.dropped++;
        this.d.log.debug('unparsable datagram dropped', {
          reason: e.reason,
          from: `${dg.address}:${dg.port}`,
          code: e.code,
        });
      }
      return;
    }
    const msg = parsed.msg;
    const task = msg.type === 'request' ? this.onRequest(msg, dg) : this.onResponse(msg, dg);
    task.catch((err: unknown) => {
      this.counters.dropped++;
      this.d.log.error('internal error while forwarding', {
        call: getHeader(msg, 'call-id'),
        error: errorText(err),
      });
    });
  }

  private isSelf = (host: string, port: number | undefined): boolean => this.d.addresses.isSelf(host, port);

  private reply(req: SipRequest, dg: Datagram, status: number, reason?: string): void {
    if (req.method === 'ACK') return;
    const resp = createResponse(req, status, reason ? { reason } : {});
    if (status === 200 && req.method === 'OPTIONS')
      setHeader(
        resp,
        'allow',
        'INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO, PRACK, MESSAGE, SUBSCRIBE, NOTIFY, REFER',
      );
    this.counters.answered++;
    this.d.transport.send(
      dg.side,
      serializeMessage(resp),
      dg.address,
      dg.port,
      dg.intercepted === true,
      dg.transport,
    );
  }

  private async onRequest(req: SipRequest, dg: Datagram): Promise<void> {
    const callId = getHeader(req, 'call-id') ?? '';
    const log = this.d.log;
    if (dg.side === 'lan' && !this.d.addresses.isLanSource(dg.address)) {
      log.warn('request from a non-LAN source on the LAN side refused', { call: callId, from: dg.address });
      return this.reply(req, dg, 403, 'Forbidden');
    }
    if (!stampReceived(req, dg.address, dg.port, dg.transport === 'tcp'))
      return this.reply(req, dg, 400, 'Bad Via');
    // RFC 3261 §16.3 step 3 / §16.6 step 3: Max-Forwards checked, added (70) or decremented.
    const mf = getHeader(req, 'max-forwards');
    if (mf === undefined) setHeader(req, 'max-forwards', '70');
    else {
      const n = Number(mf);
      if (!(n > 0)) return this.reply(req, dg, 483, 'Too Many Hops');
      setHeader(req, 'max-forwards', String(n - 1));
    }
    processRoutes(req, this.isSelf);
    const decision = decide(req, dg.side, {
      isSelf: this.isSelf,
      wanAddress: this.d.addresses.wan,
      sipPort: this.d.addresses.sipPort,
      registrations: this.d.registrations,
      contacts: this.d.contacts,
      knownCall: (id) => this.d.calls.hasCallId(id),
      ...(this.d.proxyFor ? { proxyFor: this.d.proxyFor } : {}),
    });
    if (decision.kind === 'respond') {
      if (dg.side === 'wan' && decision.status >= 400)
        log.info('request from the WAN refused', {
          call: callId,
          method: req.method,
          uri: req.uri,
          status: decision.status,
          from: dg.address,
        });
      return this.reply(req, dg, decision.status, decision.reason);
    }
    if (decision.kind === 'to-wan') return this.toWan(req, dg, callId, decision.host, decision.port);
    return this.toPhone(req, dg, callId, decision);
  }

  /** A request from a phone, out to the internet. */
  private async toWan(
    req: SipRequest,
    dg: Datagram,
    callId: string,
    host: string,
    port: number | undefined,
  ): Promise<void> {
    const a = this.d.addresses;
    const branch = branchFor(req, 'lan', dg.intercepted === true);
    let pending = null;
    if (req.method === 'REGISTER') {
      pending = this.register.outbound(
        req,
        dg.address,
        dg.port,
        callId,
        dg.intercepted === true,
        dg.transport === 'tcp',
      );
      if (!pending) return this.reply(req, dg, 400, 'Bad To');
    } else {
      const aor = normalizeAor(getHeader(req, 'from')) ?? '';
      this.masquerade(req, aor, dg);
      if (req.method !== 'CANCEL' && req.method !== 'ACK')
        recordRoute(
          req,
          { host: a.lan, port: a.sipPort, tcp: dg.transport === 'tcp' },
          { host: a.public, port: a.sipPort },
        );
    }
    const entry = this.callFor(req, callId, 'lan', dg, '');
    if (entry && SDP_METHODS.has(req.method) && hasSdp(req)) {
      const outcome = await applySdp(req, this.d.control, entry, 'lan', this.d.log);
      if (outcome.kind === 'media-failed') return this.reply(req, dg, 503, 'Media Ports Exhausted');
      if (outcome.kind === 'bad-sdp') return this.reply(req, dg, 488, 'Not Acceptable Here');
    }
    let targets: Target[] = [];
    try {
      targets = await this.d.resolver.resolve(host, port);
    } catch (err) {
      this.d.log.warn('next hop unresolvable', { call: callId, host, error: errorText(err) });
    }
    if (targets.length === 0) return this.reply(req, dg, 503, 'Next Hop Unresolvable');
    // Our Via goes on last: an answer of our own above (400, 488, 503) must carry only the sender's Vias,
    // or the sender discards it (RFC 3261 §18.1.2).
    pushVia(req, a.public, a.sipPort, branch);
    this.d.memo.set(branch, {
      method: req.method,
      callId,
      sessionId: entry?.sessionId ?? null,
      register: pending,
      phoneAor: null,
    });
    this.counters.forwarded++;
    const companion = req.method === 'CANCEL' || req.method === 'ACK';
    const target = this.d.failover.dispatch(branch, serializeMessage(req), targets, callId, !companion);
    if (pending) pending.registrar = `${target.address}:${target.port}`;
    this.d.log.debug('forward to WAN', {
      call: callId,
      method: req.method,
      to: `${target.address}:${target.port}`,
    });
  }

  /** A request from the internet, in to a phone. */
  private async toPhone(
    req: SipRequest,
    dg: Datagram,
    callId: string,
    t: { user: string; contact: string; addr: string; port: number; intercepted: boolean; tcp: boolean },
  ): Promise<void> {
    const a = this.d.addresses;
    const branch = branchFor(req, 'wan');
    req.uri = t.contact;
    if (req.method !== 'CANCEL' && req.method !== 'ACK' && req.method !== 'REGISTER') {
      recordRoute(req, { host: a.public, port: a.sipPort }, { host: a.lan, port: a.sipPort, tcp: t.tcp });
    }
    const entry = this.callFor(req, callId, 'wan', { address: t.addr, port: t.port }, t.user);
    if (entry && SDP_METHODS.has(req.method) && hasSdp(req)) {
      const outcome = await applySdp(req, this.d.control, entry, 'wan', this.d.log);
      if (outcome.kind === 'media-failed') return this.reply(req, dg, 503, 'Media Ports Exhausted');
      if (outcome.kind === 'bad-sdp') return this.reply(req, dg, 488, 'Not Acceptable Here');
    }
    const phoneAor = normalizeAor(getHeader(req, 'to'));
    pushVia(req, a.lan, a.sipPort, branch, t.tcp ? 'TCP' : 'UDP'); // last, as in toWan
    this.d.memo.set(branch, {
      method: req.method,
      callId,
      sessionId: entry?.sessionId ?? null,
      register: null,
      phoneAor,
    });
    this.d.log.debug('forward to phone', { call: callId, method: req.method, to: `${t.addr}:${t.port}` });
    this.counters.forwarded++;
    this.d.transport.send('lan', serializeMessage(req), t.addr, t.port, t.intercepted, t.tcp ? 'tcp' : 'udp');
  }

  /**
   * The call entry a request belongs to, created for an initial INVITE; CANCEL and BYE end it and
   * release its media (RFC 3261 §9, §15).
   */
  private callFor(
    req: SipRequest,
    callId: string,
    from: Side,
    phone: { address: string; port: number },
    target: string,
  ): CallEntry | undefined {
    const calls = this.d.calls;
    const fromTag = getTag(getHeader(req, 'from') ?? '') ?? '';
    const toTag = getTag(getHeader(req, 'to') ?? '');
    let entry: CallEntry | undefined;
    if (toTag !== undefined) entry = calls.find(callId, fromTag, toTag);
    else if (req.method === 'INVITE') {
      const p = { addr: phone.address, port: phone.port };
      entry =
        from === 'lan' ? calls.outgoing(callId, fromTag, p) : calls.incoming(callId, fromTag, target, p);
      if (entry.state === 'terminated') {
        entry.state = 'early';
        entry.forgetAt = null;
      }
    } else if (req.method === 'CANCEL') {
      entry = calls
        .entries(callId)
        .find(
          (e) =>
            e.state === 'early' &&
            (from === 'lan'
              ? e.lanTag === fromTag && e.direction === 'outgoing'
              : e.wanTag === fromTag && e.target === target),
        );
    }
    if (entry && (req.method === 'BYE' || req.method === 'CANCEL'))
      this.endCall(entry, req.method === 'BYE' ? 'bye' : 'cancel');
    return entry;
  }

  endCall(entry: CallEntry, reason: 'bye' | 'cancel' | 'failure' | 'timeout'): void {
    if (entry.state === 'terminated') return;
    this.d.calls.terminate(entry);
    this.d.log.info('call ended', { call: entry.callId, reason, session: entry.sessionId });
    if (reason !== 'timeout') {
      this.d.control.release(entry.sessionId, reason).catch((err: unknown) => {
        this.d.log.warn('media release failed', { call: entry.callId, error: errorText(err) });
      });
    }
  }

  /** Masquerade the Contacts of a message the phone at `dg` sent, as the phone `aor`. */
  private masquerade(
    msg: SipRequest | SipResponse,
    aor: string,
    dg: {
      address: string;
      port: number;
      intercepted?: boolean | undefined;
      transport?: 'udp' | 'tcp' | undefined;
    },
  ): void {
    const a = this.d.addresses;
    masqueradeContacts(msg, a.public, a.sipPort, (contactUri, uri) => {
      const user =
        this.d.registrations.find(aor, contactUri)?.token ?? this.d.tokens.userFor(aor, contactUri, uri.user);
      if (!this.d.registrations.get(user))
        this.d.contacts.remember(
          user,
          contactUri,
          dg.address,
          dg.port,
          dg.intercepted === true,
          dg.transport === 'tcp',
        );
      return user;
    });
  }

  private async onResponse(resp: SipResponse, dg: Datagram): Promise<void> {
    const callId = getHeader(resp, 'call-id') ?? '';
    const popped = popOwnVia(resp, this.isSelf);
    if (!popped) {
      this.counters.dropped++;
      this.d.log.debug('response not for us dropped', {
        call: callId,
        status: resp.status,
        from: dg.address,
      });
      return;
    }
    // A response must come from the side the request was sent to, never from the side it came from.
    if (popped.back === dg.side) {
      this.counters.dropped++;
      return;
    }
    const dest = responseDestination(popped.next);
    if (!dest) {
      this.counters.dropped++;
      this.d.log.debug('response with no usable next Via dropped', { call: callId });
      return;
    }
    const memo = this.d.memo.get(popped.branch);
    const method = parseCSeq(getHeader(resp, 'cseq') ?? '')?.method ?? '';
    const toTag = getTag(getHeader(resp, 'to') ?? '');
    const entry = memo?.sessionId ? this.d.calls.bySession(memo.sessionId) : undefined;

    if (popped.back === 'lan') {
      // From the internet, for a phone's request. A 503 with another server left goes no further.
      if (this.d.failover.onResponse(popped.branch, resp.status)) return;
      if (memo?.register) {
        memo.register.registrar = `${dg.address}:${dg.port}`;
        this.register.inbound(resp, memo.register, this.d.clock.now());
      }
      if (entry && toTag && entry.direction === 'outgoing' && entry.wanTag === undefined && resp.status < 300)
        entry.wanTag = toTag;
    } else {
      // From a phone, answering a request from the internet.
      if (resp.status < 300 || resp.status >= 400)
        this.masquerade(resp, memo?.phoneAor ?? normalizeAor(getHeader(resp, 'to')) ?? '', dg);
      if (entry && toTag && entry.direction === 'incoming' && entry.lanTag === undefined && resp.status < 300)
        entry.lanTag = toTag;
    }
    if (entry && (method === 'INVITE' || method === 'UPDATE' || method === 'PRACK')) {
      if (resp.status < 300 && hasSdp(resp)) {
        const from: Side = popped.back === 'lan' ? 'wan' : 'lan';
        await applySdp(resp, this.d.control, entry, from, this.d.log);
        // A 2xx that crossed a CANCEL (RFC 3261 §9.1), or a 2xx retransmitted after the BYE: the call is
        // already over for us, so do not keep what this SDP allocated (no later BYE would release it).
        if (entry.state === 'terminated')
          this.d.control.release(entry.sessionId, 'cancel').catch((err: unknown) => {
            this.d.log.warn('media release failed', { call: callId, error: errorText(err) });
          });
      }
      if (method === 'INVITE' && resp.status >= 200 && resp.status < 300) this.d.calls.confirm(entry);
      if (method === 'INVITE' && resp.status >= 300 && entry.state === 'early')
        this.endCall(entry, 'failure');
    }
    this.counters.forwarded++;
    const overTcp = popped.back === 'lan' && popped.next.transport.toUpperCase() === 'TCP';
    this.d.transport.send(
      popped.back,
      serializeMessage(resp),
      dest.address,
      dest.port,
      popped.intercepted,
      overTcp ? 'tcp' : 'udp',
    );
  }
}
