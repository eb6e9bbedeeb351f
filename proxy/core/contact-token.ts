/**
 * Contact masquerading. A phone's Contact (a private address) is replaced on the WAN side by
 * `sip:<user>-smq<token>@<public>:<port>`: an address the internet can reach, with a user part that
 * sipmasq owns and maps back to the phone. The token is a keyed hash of the phone's address-of-record
 * and its Contact URI, so the same phone keeps the same token across refreshes and the provider's
 * binding stays the same, and a token cannot be guessed from outside.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { formatHostPort } from '../../common/net.ts';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const TOKEN_MARK = 'smq';

function base32(buf: Buffer, chars: number): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of buf) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < chars) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    if (out.length >= chars) break;
  }
  return out;
}

/** Characters allowed unescaped in a SIP user part that we copy into the token (RFC 3261 §25.1 unreserved). */
function safeUser(user: string | undefined): string {
  if (!user) return '';
  const cleaned = user.replace(/[^A-Za-z0-9_.!~*'()+-]/g, '');
  return cleaned.slice(0, 32);
}

export class ContactTokens {
  private readonly key: Buffer;

  constructor(key: Buffer = randomBytes(16)) {
    this.key = key;
  }

  /** The masqueraded user part for a phone (aor and contact as normalised text). */
  userFor(aor: string, contactUri: string, phoneUser: string | undefined): string {
    const digest = createHmac('sha256', this.key).update(`${aor}\n${contactUri}`).digest();
    const token = `${TOKEN_MARK}${base32(digest, 12)}`;
    const user = safeUser(phoneUser);
    return user ? `${user}-${token}` : token;
  }

  /** True when a user part has the shape of one of our masqueraded users. */
  static looksMasqueraded(user: string | undefined): boolean {
    return !!user && /(^|-)smq[a-z2-7]{12}$/.test(user);
  }

  static uri(user: string, host: string, port: number): string {
    return `sip:${user}@${formatHostPort(host, port)}`;
  }
}
