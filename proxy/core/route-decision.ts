/**
 * Where a request goes (RFC 3261 §16.5 target determination, narrowed to what a masquerading edge
 * proxy may do). From the LAN: to the next hop its Route or Request-URI names (a LAN source may use
 * sipmasq as outbound proxy). From the WAN: only to a phone with a live registration, or to a phone in
 * a dialog it was given a masqueraded Contact for; anything else is refused, never forwarded — sipmasq
 * is not an open relay.
 */

import type { Side } from '../../rtpproxy/control.ts';
import { getHeader } from '../sip/header-list.ts';
import type { SipRequest } from '../sip/message.ts';
import { getTag, parseNameAddr } from '../sip/name-addr.ts';
import { getParam } from '../sip/params.ts';
import { parseUri } from '../sip/uri.ts';
import type { BindingRecord } from '../store/binding-record.ts';
import type { ContactMap } from './contact-map.ts';
import { type IsSelf, normalizeAor, topRoute } from './masquerade.ts';
import type { RegistrationTable } from './registration-table.ts';

export type Decision =
  | { readonly kind: 'respond'; readonly status: number; readonly reason?: string }
  | { readonly kind: 'to-wan'; readonly host: string; readonly port: number | undefined }
  | {
      readonly kind: 'to-phone';
      /** Masqueraded user that chose the phone (tells forks apart). */
      readonly user: string;
      /** The phone's own Contact: the new Request-URI. */
      readonly contact: string;
      readonly addr: string;
      readonly port: number;
      /** Send from the intercept socket (the phone was intercepted, transparent mode). */
      readonly intercepted: boolean;
      /** Over the phone's TCP connection. */
      readonly tcp: boolean;
    };

export interface DecisionDeps {
  readonly isSelf: IsSelf;
  readonly wanAddress: string;
  readonly sipPort: number;
  readonly registrations: RegistrationTable;
  readonly contacts: ContactMap;
  readonly knownCall: (callId: string) => boolean;
  /** A configured outbound proxy for a domain (overrides DNS), if any. */
  readonly proxyFor?: (domain: string) => { host: string; port: number | undefined } | undefined;
}

/** RFC 3261 §19.1.1: maddr overrides the host as the address to send to. */
function hostOf(uri: { host: string; params: [string, string | null][] }): string {
  const maddr = getParam(uri.params, 'maddr');
  return typeof maddr === 'string' && maddr ? maddr : uri.host;
}

export function decide(req: SipRequest, side: Side, deps: DecisionDeps): Decision {
  const ruri = parseUri(req.uri);
  if (!ruri) return { kind: 'respond', status: 416, reason: 'Unsupported URI Scheme' };
  const route = topRoute(req);
  if (route) {
    if (side === 'lan') return { kind: 'to-wan', host: hostOf(route), port: route.port };
    return { kind: 'respond', status: 403, reason: 'Relaying Denied' };
  }
  if (ruri.scheme !== 'sip' && ruri.scheme !== 'sips') {
    return { kind: 'respond', status: 416, reason: 'Unsupported URI Scheme' };
  }
  if (deps.isSelf(ruri.host, ruri.port)) {
    if (!ruri.user) {
      if (req.method === 'OPTIONS') return { kind: 'respond', status: 200 };
      return { kind: 'respond', status: 404, reason: 'Not Found' };
    }
    // A LAN phone addressing another phone's masqueraded Contact (two phones in one dialog when the
    // provider does not record-route): send it round through our own WAN side, so each leg is handled
    // exactly like a call to and from the internet.
    if (side === 'lan') return { kind: 'to-wan', host: deps.wanAddress, port: deps.sipPort };
    return toPhone(req, ruri.user, deps);
  }
  if (side === 'lan') {
    const configured = deps.proxyFor?.(ruri.host.toLowerCase());
    if (configured) return { kind: 'to-wan', host: configured.host, port: configured.port };
    return { kind: 'to-wan', host: hostOf(ruri), port: ruri.port };
  }
  // The provider addressed an AOR (its own domain) but sent it to us: route by the registration.
  const aor = normalizeAor(req.uri);
  const match = ruri.user ? deps.registrations.byUser(ruri.user).find((r) => r.aor === aor) : undefined;
  if (match) return phoneOf(match);
  return { kind: 'respond', status: 403, reason: 'Relaying Denied' };
}

/** Send to a registered phone: to where its REGISTER came from, through the socket it used. */
function phoneOf(reg: BindingRecord): Decision {
  return {
    kind: 'to-phone',
    user: reg.token,
    contact: reg.contact,
    addr: reg.phoneAddr,
    port: reg.phonePort,
    intercepted: reg.intercepted === true,
    tcp: reg.transport === 'tcp',
  };
}

function toPhone(req: SipRequest, user: string, deps: DecisionDeps): Decision {
  const reg = deps.registrations.get(user);
  if (reg) return phoneOf(reg);
  const inDialog = getTag(getHeader(req, 'to') ?? '') !== undefined;
  const mapped = deps.contacts.get(user);
  if (mapped) {
    const callId = getHeader(req, 'call-id') ?? '';
    if (inDialog || deps.knownCall(callId)) {
      return {
        kind: 'to-phone',
        user,
        contact: mapped.contact,
        addr: mapped.addr,
        port: mapped.port,
        intercepted: mapped.intercepted,
        tcp: mapped.tcp,
      };
    }
    return { kind: 'respond', status: 404, reason: 'Not Found' };
  }
  // Providers that route by the number or the AOR user instead of the Contact we gave them.
  const toAddr = parseNameAddr(getHeader(req, 'to') ?? '');
  const toUser = toAddr ? parseUri(toAddr.uri)?.user : undefined;
  const fallback =
    deps.registrations.byUser(user)[0] ?? (toUser ? deps.registrations.byUser(toUser)[0] : undefined);
  if (fallback) return phoneOf(fallback);
  if (inDialog) return { kind: 'respond', status: 481, reason: 'Call/Transaction Does Not Exist' };
  return { kind: 'respond', status: 404, reason: 'Not Found' };
}
