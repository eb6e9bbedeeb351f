/**
 * Header masquerading between the LAN and the WAN: Contacts (the phone's private address becomes a
 * public one sipmasq owns, and back), Route (our own entries removed, RFC 3261 §16.4) and
 * Record-Route (two entries, one per side, as RFC 5658 describes for a proxy between two networks).
 */
import { formatHostPort } from '../../common/net.ts';
import { getHeaderValues, prependHeader, setHeaderValues } from '../sip/header-list.ts';
import type { SipMessage, SipRequest } from '../sip/message.ts';
import { formatNameAddr, parseNameAddr } from '../sip/name-addr.ts';
import { formatUri, parseUri, type SipUri } from '../sip/uri.ts';

export type IsSelf = (host: string, port: number | undefined) => boolean;

/** An address-of-record as a stable key: scheme:user@host[:port], no parameters, host lower-cased. */
export function normalizeAor(value: string | undefined): string | null {
  if (!value) return null;
  const na = parseNameAddr(value);
  const uri = na ? parseUri(na.uri) : parseUri(value);
  if (!uri) return null;
  const host = uri.host.toLowerCase();
  const port = uri.port !== undefined ? `:${uri.port}` : '';
  return uri.user !== undefined
    ? `${uri.scheme}:${uri.user}@${formatHostPort(host)}${port}`
    : `${uri.scheme}:${formatHostPort(host)}${port}`;
}

export interface ContactRewrite {
  /** The masqueraded user part. */
  readonly user: string;
  /** The phone's own Contact URI. */
  readonly contact: string;
  /** Header parameters of the Contact value (expires, +sip.instance, ...). */
  readonly expires: number | null;
  readonly instance: string | null;
}

/**
 * Replace every Contact URI in `msg` (except `*`) by `sip:<user>@<host>:<port>` where `userFor` names
 * the user. URI parameters are kept (a phone may use them, e.g. Snom's line=) except transport, since
 * sipmasq is reached over UDP; header parameters (expires, q, +sip.instance, reg-id) are kept.
 */
export function masqueradeContacts(
  msg: SipMessage,
  host: string,
  port: number,
  userFor: (contactUri: string, uri: SipUri) => string,
): ContactRewrite[] {
  const values = getHeaderValues(msg, 'contact');
  if (values.length === 0) return [];
  const out: ContactRewrite[] = [];
  const rewritten = values.map((value) => {
    const na = parseNameAddr(value);
    if (!na || na.star) return value;
    const uri = parseUri(na.uri);
    if (!uri || (uri.scheme !== 'sip' && uri.scheme !== 'sips')) return value;
    const user = userFor(na.uri, uri);
    const params = uri.params.filter(([n]) => n.toLowerCase() !== 'transport');
    const masq: SipUri = { scheme: 'sip', user, password: undefined, host, port, params, headers: undefined };
    const expires = na.params.find(([n]) => n.toLowerCase() === 'expires')?.[1];
    const instance = na.params.find(([n]) => n.toLowerCase() === '+sip.instance')?.[1];
    out.push({
      user,
      contact: na.uri,
      expires: expires != null && /^\d+$/.test(expires) ? Number(expires) : null,
      instance: instance ?? null,
    });
    return formatNameAddr({ ...na, uri: formatUri(masq) });
  });
  setHeaderValues(msg, 'contact', rewritten);
  return out;
}

/** Put the phone's own Contact back into the Contact values that name one of our users. */
export function unmasqueradeContacts(msg: SipMessage, lookup: (user: string) => string | undefined): void {
  const values = getHeaderValues(msg, 'contact');
  if (values.length === 0) return;
  let changed = false;
  const next = values.map((value) => {
    const na = parseNameAddr(value);
    const uri = na && !na.star ? parseUri(na.uri) : null;
    const original = uri?.user !== undefined ? lookup(uri.user) : undefined;
    if (!na || !original) return value;
    changed = true;
    return formatNameAddr({ ...na, uri: original });
  });
  if (changed) setHeaderValues(msg, 'contact', next);
}

/**
 * RFC 3261 §16.4: "If the Request-URI contains a value this proxy previously placed into a
 * Record-Route header field ..., the proxy MUST replace the Request-URI in the request with the last
 * value from the Route header field, and remove that value from the Route header field." (a strict
 * router sent it). Then: "If the first value in the Route header field indicates this proxy, the
 * proxy MUST remove that value from the request." — repeated, since we record-route twice.
 */
export function processRoutes(req: SipRequest, isSelf: IsSelf): void {
  let routes = getHeaderValues(req, 'route');
  const ruri = parseUri(req.uri);
  if (ruri && ruri.user === undefined && isSelf(ruri.host, ruri.port) && routes.length > 0) {
    const last = parseNameAddr(routes[routes.length - 1]!);
    if (last) {
      req.uri = last.uri;
      routes = routes.slice(0, -1);
    }
  }
  let removed = 0;
  while (removed < routes.length) {
    const na = parseNameAddr(routes[removed]!);
    const uri = na ? parseUri(na.uri) : null;
    if (!uri || !isSelf(uri.host, uri.port)) break;
    removed++;
  }
  if (removed > 0 || routes.length !== getHeaderValues(req, 'route').length)
    setHeaderValues(req, 'route', routes.slice(removed));
}

/** The URI of the first remaining Route, or null. */
export function topRoute(req: SipRequest): SipUri | null {
  const first = getHeaderValues(req, 'route')[0];
  const na = first !== undefined ? parseNameAddr(first) : null;
  return na ? parseUri(na.uri) : null;
}

/**
 * RFC 3261 §16.6 step 4 with RFC 5658 double record-routing: the entry that faces the next hop goes on
 * top, the one facing where the request came from under it, so each side's route set names an address
 * it can reach.
 */
export function recordRoute(
  req: SipRequest,
  inbound: { host: string; port: number; tcp?: boolean },
  outbound: { host: string; port: number; tcp?: boolean },
): void {
  // A TCP phone's entry names TCP, so the phone keeps the dialog on its connection (RFC 3261 §16.6).
  const entry = (e: { host: string; port: number; tcp?: boolean }) =>
    `<sip:${formatHostPort(e.host, e.port)}${e.tcp ? ';transport=tcp' : ''};lr>`;
  prependHeader(req, 'record-route', entry(inbound));
  prependHeader(req, 'record-route', entry(outbound));
}
