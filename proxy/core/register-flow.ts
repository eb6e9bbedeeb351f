/**
 * REGISTER through sipmasq (RFC 3261 §10): the phone's Contacts are masqueraded on the way out; the
 * registrar's 2xx tells which bindings exist and for how long, and only then does the registration
 * table change. The 2xx is given back to the phone with its own Contacts in it, so the phone sees the
 * binding it asked for.
 */
import { getHeader, getHeaderValues } from '../sip/header-list.ts';
import type { SipRequest, SipResponse } from '../sip/message.ts';
import { parseNameAddr } from '../sip/name-addr.ts';
import { getParam } from '../sip/params.ts';
import { parseUri } from '../sip/uri.ts';
import type { AddressBook } from './address-book.ts';
import { ContactTokens } from './contact-token.ts';
import { masqueradeContacts, normalizeAor, unmasqueradeContacts } from './masquerade.ts';
import type { RegistrationTable } from './registration-table.ts';
import type { PendingRegister } from './transaction-memo.ts';

/** RFC 3261 §10.2.1.1: with no expires anywhere, the registrar picks; 3600 s is the recommended default. */
const DEFAULT_EXPIRES = 3600;

function intOrNull(v: string | null | undefined): number | null {
  return typeof v === 'string' && /^\d{1,10}$/.test(v.trim()) ? Number(v.trim()) : null;
}

export class RegisterFlow {
  constructor(
    private readonly table: RegistrationTable,
    private readonly tokens: ContactTokens,
    private readonly addresses: AddressBook,
  ) {}

  /** Masquerade a phone's REGISTER; null when its To header is unusable. */
  outbound(
    req: SipRequest,
    phoneAddr: string,
    phonePort: number,
    callId: string,
    intercepted = false,
    tcp = false,
  ): PendingRegister | null {
    const aor = normalizeAor(getHeader(req, 'to'));
    if (!aor) return null;
    const star = getHeaderValues(req, 'contact').some((v) => parseNameAddr(v)?.star);
    const contacts = masqueradeContacts(
      req,
      this.addresses.public,
      this.addresses.sipPort,
      (contactUri, uri) => {
        return this.table.find(aor, contactUri)?.token ?? this.tokens.userFor(aor, contactUri, uri.user);
      },
    );
    return {
      aor,
      callId,
      phoneAddr,
      phonePort,
      registrar: '',
      contacts,
      star,
      expiresHeader: intOrNull(getHeader(req, 'expires')),
      intercepted,
      tcp,
    };
  }

  /** The registrar answered: update the table on 2xx and give the phone its own Contacts back. */
  inbound(resp: SipResponse, pending: PendingRegister, now: number): void {
    if (resp.status >= 200 && resp.status < 300) this.apply(resp, pending, now);
    unmasqueradeContacts(
      resp,
      (user) => pending.contacts.find((c) => c.user === user)?.contact ?? this.table.get(user)?.contact,
    );
  }

  private apply(resp: SipResponse, pending: PendingRegister, now: number): void {
    if (pending.star) {
      for (const rec of this.table.byAor(pending.aor))
        this.table.remove(rec.token, 'unregistered all (Contact: *)');
      return;
    }
    const granted = new Map<string, number>();
    const values = getHeaderValues(resp, 'contact');
    const respExpires = intOrNull(getHeader(resp, 'expires'));
    for (const v of values) {
      const na = parseNameAddr(v);
      const uri = na && !na.star ? parseUri(na.uri) : null;
      if (!na || !uri?.user || !ContactTokens.looksMasqueraded(uri.user)) continue;
      const e = intOrNull(getParam(na.params, 'expires')) ?? respExpires;
      granted.set(uri.user, e ?? DEFAULT_EXPIRES);
    }
    for (const c of pending.contacts) {
      let expires = granted.get(c.user);
      // A registrar that lists no Contact at all in its 2xx: believe the request (RFC 3261 §10.3 says it
      // SHOULD list them all, not every one does).
      if (expires === undefined && values.length === 0)
        expires = c.expires ?? pending.expiresHeader ?? DEFAULT_EXPIRES;
      if (!expires) {
        this.table.remove(c.user, 'expires 0 or not in the registrar answer');
        continue;
      }
      this.table.put({
        token: c.user,
        aor: pending.aor,
        contact: c.contact,
        phoneAddr: pending.phoneAddr,
        phonePort: pending.phonePort,
        registrar: pending.registrar,
        expiresAt: now + expires * 1000,
        updatedAt: now,
        callId: pending.callId,
        instance: c.instance,
        ...(pending.intercepted ? { intercepted: true } : {}),
        ...(pending.tcp ? { transport: 'tcp' as const } : {}),
      });
    }
  }
}
