/**
 * One Via value (RFC 3261 §20.42, §25.1; RFC 3581 rport):
 *   via-parm      = sent-protocol LWS sent-by *( SEMI via-params )
 *   sent-protocol = protocol-name SLASH protocol-version SLASH transport
 *   sent-by       = host [ COLON port ]
 *   via-params    = via-ttl / via-maddr / via-received / via-branch / response-port / via-extension
 *   response-port = "rport" [EQUAL 1*DIGIT]
 * SLASH, COLON, SEMI and EQUAL allow whitespace on both sides ("SIP  / 2.0  / UDP" is legal).
 * A header line may carry several via-parms separated by commas: split with getHeaderValues first.
 */
import { formatHostPort } from '../../common/net.ts';
import { scanHost, scanPort } from './host.ts';
import { formatParams, type Param, scanParams } from './params.ts';
import { Scanner } from './scanner.ts';

export interface Via {
  /** `SIP/2.0` (protocol-name "/" protocol-version, whitespace removed, name upper-cased). */
  protocol: string;
  /** Upper-case: UDP, TCP, TLS, SCTP, WS, WSS or an extension. */
  transport: string;
  /** Without IPv6 brackets. */
  host: string;
  port: number | undefined;
  params: Param[];
}

/** Parses one via-parm; null if it is malformed. */
export function parseVia(value: string): Via | null {
  const sc = new Scanner(value);
  sc.skipWs();
  const name = sc.token();
  if (!name || !sc.eat('/', true)) return null;
  sc.skipWs();
  const version = sc.token();
  if (!version || !sc.eat('/', true)) return null;
  sc.skipWs();
  const transport = sc.token();
  if (!transport) return null;
  if (!sc.skipWs()) return null;
  const host = scanHost(sc);
  if (host === null) return null;
  let port: number | undefined;
  if (sc.eat(':', true)) {
    sc.skipWs();
    const p = scanPort(sc);
    if (p === null || p === undefined) return null;
    port = p;
  }
  const params = scanParams(sc, true);
  if (!params) return null;
  sc.skipWs();
  if (!sc.done) return null;
  return {
    protocol: `${name.toUpperCase()}/${version}`,
    transport: transport.toUpperCase(),
    host,
    port,
    params,
  };
}

/** `SIP/2.0/UDP host:port;params` (IPv6 hosts in brackets). */
export function formatVia(v: Via): string {
  return `${v.protocol}/${v.transport} ${formatHostPort(v.host, v.port)}${formatParams(v.params)}`;
}
