/**
 * Which NAPTR records of a SIP domain to follow, RFC 3263 §4.1 with RFC 3403.
 */
import type { NaptrRecord } from './dns-record.ts';

export type SipTransport = 'udp' | 'tcp' | 'tls';

export interface NaptrChoice {
  readonly transport: SipTransport;
  /** The SRV name to ask next. */
  readonly replacement: string;
  readonly order: number;
  readonly preference: number;
}

/*
 * RFC 3263 §4.1: "The services relevant for the task of transport protocol selection are those with NAPTR
 * service fields with values "SIP+D2X" and "SIPS+D2X", where X is a letter that corresponds to a
 * transport protocol supported by the domain. This specification defines D2U for UDP, D2T for TCP, and
 * D2S for SCTP." SIPS+D2T is TLS over TCP. SCTP (and RFC 7118's D2W) are not ours.
 */
const SERVICES: Record<string, { transport: SipTransport; secure: boolean }> = {
  'sip+d2u': { transport: 'udp', secure: false },
  'sip+d2t': { transport: 'tcp', secure: false },
  'sips+d2t': { transport: 'tls', secure: true },
};

/**
 * The records to follow, best first. RFC 3263 §4.1: "A client resolving a SIPS URI MUST discard any
 * services that do not contain "SIPS" as the protocol in the service field. The converse is not true,
 * however. A client resolving a SIP URI SHOULD retain records with "SIPS" as the protocol, if the client
 * supports TLS." "... the client discards any records with services it does not support" (it may not
 * use them), and "the "s" flag means that the next lookup should be for SRV records".
 *
 * RFC 3403 §4.1, ORDER: "the order in which the NAPTR records MUST be processed ... If two records have the
 * same order value then they are considered to be the same rule and should be selected based on the
 * combination of the Preference values and Services offered." So only the lowest ORDER among the usable
 * records counts; within it, PREFERENCE ascending gives the failover list (and then our own transport
 * order in `supported`, for equal preferences).
 */
export function selectNaptr(
  records: readonly NaptrRecord[],
  secure: boolean,
  supported: readonly SipTransport[],
): NaptrChoice[] {
  const usable: NaptrChoice[] = [];
  for (const r of records) {
    const service = SERVICES[r.services.toLowerCase()];
    if (!service || (secure && !service.secure) || !supported.includes(service.transport)) continue;
    // A terminal "S" rule carries no regexp and names its SRV owner in REPLACEMENT (RFC 3403 §4.1).
    if (r.flags.toLowerCase() !== 's' || r.regexp !== '' || r.replacement === '.') continue;
    usable.push({
      transport: service.transport,
      replacement: r.replacement,
      order: r.order,
      preference: r.preference,
    });
  }
  if (!usable.length) return [];
  const lowest = Math.min(...usable.map((c) => c.order));
  return usable
    .filter((c) => c.order === lowest)
    .sort(
      (a, b) =>
        a.preference - b.preference || supported.indexOf(a.transport) - supported.indexOf(b.transport),
    );
}
