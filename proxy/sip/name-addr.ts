/**
 * From / To / Contact / Route / Record-Route values (RFC 3261 §20.10, §25.1):
 *   name-addr    = [ display-name ] LAQUOT addr-spec RAQUOT
 *   addr-spec    = SIP-URI / SIPS-URI / absoluteURI
 *   display-name = *(token LWS)/ quoted-string
 *
 * RFC 3261 §20.10: "Even if the "display-name" is empty, the "name-addr" form MUST be used if the
 * "addr-spec" contains a comma, semicolon, or question mark." and "If the URI is not enclosed in
 * angle brackets, any semicolon-delimited parameters are header-parameters, not URI parameters."
 */
import { formatParams, getParam, type Param, scanParams } from './params.ts';
import { isTokenChar, isWs, Scanner } from './scanner.ts';
import { isAbsoluteUri, parseUri, uriScheme } from './uri.ts';

export interface NameAddr {
  /** Raw display name, quotes and escapes kept; undefined if none. */
  display: string | undefined;
  /** Raw URI text (without < >). '*' for a star Contact. */
  uri: string;
  /** Header parameters (after the URI / after '>'). */
  params: Param[];
  /** `Contact: *` */
  star: boolean;
}

function uriValid(uri: string): boolean {
  if (!isAbsoluteUri(uri)) return false;
  const scheme = uriScheme(uri);
  return scheme === 'sip' || scheme === 'sips' || scheme === 'tel' ? parseUri(uri) !== null : true;
}

export function parseNameAddr(value: string): NameAddr | null {
  const sc = new Scanner(value);
  sc.skipWs();
  if (value.trim() === '*') return { display: undefined, uri: '*', params: [], star: true };
  let display: string | undefined;
  let uri: string;
  const start = sc.pos;
  let quoted: string | null = null;
  if (sc.peek() === '"') {
    quoted = sc.quoted();
    if (quoted === null) return null;
    sc.skipWs();
  } else {
    // *(token LWS): stops at the first other character, ':' of a bare URI included.
    while (!sc.done && (isTokenChar(value.charCodeAt(sc.pos)) || isWs(value.charCodeAt(sc.pos)))) sc.pos++;
  }
  if (sc.peek() === '<') {
    display = quoted ?? (value.slice(start, sc.pos).trim() || undefined);
    sc.pos++;
    const gt = value.indexOf('>', sc.pos);
    if (gt < 0) return null;
    uri = value.slice(sc.pos, gt);
    sc.pos = gt + 1;
  } else {
    // addr-spec form: no display name allowed, the URI ends at the first ';'.
    if (quoted !== null) return null;
    sc.pos = start;
    uri = sc.until(';,?');
    if (sc.peek() === '?' || sc.peek() === ',') return null;
  }
  if (!uriValid(uri)) return null;
  const params = scanParams(sc, true);
  if (!params) return null;
  sc.skipWs();
  if (!sc.done) return null;
  return { display, uri, params, star: false };
}

/** Always the `<uri>` form: `"Display" <sip:u@h>;tag=x`. */
export function formatNameAddr(na: NameAddr): string {
  if (na.star) return '*';
  const display = na.display ? `${na.display} ` : '';
  return `${display}<${na.uri}>${formatParams(na.params)}`;
}

/** The tag parameter of a From or To value; undefined if absent, valueless or the value is malformed. */
export function getTag(value: string): string | undefined {
  const na = parseNameAddr(value);
  if (!na) return undefined;
  return getParam(na.params, 'tag') ?? undefined;
}
