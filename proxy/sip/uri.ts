/**
 * SIP, SIPS and tel URIs (RFC 3261 §19.1, §25.1; RFC 3966):
 *   SIP-URI  = "sip:" [ userinfo ] hostport uri-parameters [ headers ]
 *   userinfo = ( user / telephone-subscriber ) [ ":" password ] "@"
 *   user     = 1*( unreserved / escaped / user-unreserved )     ; no unescaped "@"
 *   headers  = "?" header *( "&" header )
 * User, password, parameter values and headers are kept as written (escapes not decoded), so a
 * formatted URI is byte-identical to the parsed one unless a field was changed.
 * A tel URI is returned as { scheme: 'tel', user: <number>, host: '' }. Other schemes give null.
 */
import { formatHostPort } from '../../common/net.ts';
import { scanHost, scanPort } from './host.ts';
import { formatParams, type Param, scanParams } from './params.ts';
import { Scanner } from './scanner.ts';

export interface SipUri {
  /** Lower-case: 'sip', 'sips' or 'tel'. */
  scheme: string;
  user: string | undefined;
  password: string | undefined;
  /** Without IPv6 brackets; '' for tel. */
  host: string;
  port: number | undefined;
  params: Param[];
  /** Raw text after '?', undefined if none. */
  headers: string | undefined;
}

/** RFC 3986 scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ). */
function schemeEnd(text: string): number {
  let i = 0;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const alpha = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
    if (alpha) continue;
    if (i > 0 && ((c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2d || c === 0x2e)) continue;
    break;
  }
  return i > 0 && text[i] === ':' ? i : -1;
}

/** Characters never allowed unescaped in a URI: CTL, SP, DQUOTE, "<", ">", and non-ASCII. */
function hasForbiddenChar(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 0x22 || c === 0x3c || c === 0x3e) return true;
  }
  return false;
}

/** "%" must be followed by two hex digits (RFC 3261 escaped = "%" HEXDIG HEXDIG). */
function escapesValid(text: string): boolean {
  for (let i = text.indexOf('%'); i >= 0; i = text.indexOf('%', i + 1)) {
    if (!/^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) return false;
  }
  return true;
}

/**
 * True for text shaped like an absoluteURI (RFC 3261 §25.1: Request-URI = SIP-URI / SIPS-URI /
 * absoluteURI): a scheme, ":", and at least one character, none of them whitespace, CTL, "<", ">".
 */
export function isAbsoluteUri(text: string): boolean {
  const end = schemeEnd(text);
  return end > 0 && end < text.length - 1 && !hasForbiddenChar(text) && escapesValid(text);
}

/** The lower-case scheme of a URI, or undefined. */
export function uriScheme(text: string): string | undefined {
  const end = schemeEnd(text);
  return end > 0 ? text.slice(0, end).toLowerCase() : undefined;
}

function parseTel(rest: string): SipUri | null {
  const sc = new Scanner(rest);
  const number = sc.until(';');
  if (!number) return null;
  const params = scanParams(sc, false);
  if (!params || !sc.done) return null;
  return {
    scheme: 'tel',
    user: number,
    password: undefined,
    host: '',
    port: undefined,
    params,
    headers: undefined,
  };
}

export function parseUri(text: string): SipUri | null {
  const end = schemeEnd(text);
  if (end < 0 || hasForbiddenChar(text) || !escapesValid(text)) return null;
  const scheme = text.slice(0, end).toLowerCase();
  const rest = text.slice(end + 1);
  if (scheme === 'tel') return parseTel(rest);
  if (scheme !== 'sip' && scheme !== 'sips') return null;
  // "@" cannot appear unescaped in user, password, host, parameters or headers: the first one ends userinfo.
  const at = rest.indexOf('@');
  let user: string | undefined;
  let password: string | undefined;
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    const colon = userinfo.indexOf(':');
    user = colon < 0 ? userinfo : userinfo.slice(0, colon);
    password = colon < 0 ? undefined : userinfo.slice(colon + 1);
    if (!user || /[[\]]/.test(userinfo)) return null;
  }
  const sc = new Scanner(rest);
  sc.pos = at + 1;
  const host = scanHost(sc);
  if (!host) return null;
  let port: number | undefined;
  if (sc.eat(':')) {
    const p = scanPort(sc);
    if (p === null || p === undefined) return null;
    port = p;
  }
  const params = scanParams(sc, false);
  if (!params) return null;
  let headers: string | undefined;
  if (sc.eat('?')) headers = sc.rest();
  if (!sc.done) return null;
  return { scheme, user, password, host, port, params, headers };
}

export function formatUri(u: SipUri): string {
  const params = formatParams(u.params);
  if (u.scheme === 'tel') return `tel:${u.user ?? ''}${params}`;
  const userinfo =
    u.user === undefined ? '' : `${u.user}${u.password === undefined ? '' : `:${u.password}`}@`;
  const headers = u.headers === undefined ? '' : `?${u.headers}`;
  return `${u.scheme}:${userinfo}${formatHostPort(u.host, u.port)}${params}${headers}`;
}
