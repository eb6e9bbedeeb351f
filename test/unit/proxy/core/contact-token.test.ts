import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ContactTokens } from '../../../../proxy/core/contact-token.ts';
import { TOKEN_KEY } from './fixtures.ts';

const AOR = 'sip:alice@voip.example.net';
const CONTACT = 'sip:alice@192.168.1.50:5062';
const SHAPE = /^alice-smq[a-z2-7]{12}$/;

describe('ContactTokens', () => {
  it('gives the same user for the same key, AOR and contact (refreshes keep the binding)', () => {
    const a = new ContactTokens(TOKEN_KEY).userFor(AOR, CONTACT, 'alice');
    const b = new ContactTokens(Buffer.from(TOKEN_KEY)).userFor(AOR, CONTACT, 'alice');
    assert.equal(a, b);
    assert.match(a, SHAPE);
  });

  it('gives different tokens for a different AOR, contact or key', () => {
    const t = new ContactTokens(TOKEN_KEY);
    const base = t.userFor(AOR, CONTACT, 'alice');
    assert.notEqual(t.userFor('sip:alice@other.example', CONTACT, 'alice'), base);
    assert.notEqual(t.userFor(AOR, 'sip:alice@192.168.1.50:5064', 'alice'), base);
    assert.notEqual(new ContactTokens(Buffer.alloc(16, 1)).userFor(AOR, CONTACT, 'alice'), base);
  });

  it('does not let the AOR and contact run into each other', () => {
    const t = new ContactTokens(TOKEN_KEY);
    assert.notEqual(t.userFor('sip:a', 'b@h', undefined), t.userFor('sip:ab', '@h', undefined));
  });

  it('uses a random key by default, so tokens cannot be predicted across instances', () => {
    assert.notEqual(
      new ContactTokens().userFor(AOR, CONTACT, 'alice'),
      new ContactTokens().userFor(AOR, CONTACT, 'alice'),
    );
  });

  it('is a bare smq token when the phone has no user part', () => {
    const user = new ContactTokens(TOKEN_KEY).userFor(AOR, 'sip:192.168.1.50', undefined);
    assert.match(user, /^smq[a-z2-7]{12}$/);
    assert.match(new ContactTokens(TOKEN_KEY).userFor(AOR, CONTACT, ''), /^smq[a-z2-7]{12}$/);
  });

  it('strips characters that are not unreserved from the phone user and caps its length', () => {
    const t = new ContactTokens(TOKEN_KEY);
    assert.match(t.userFor(AOR, CONTACT, 'a%40b;c=d&e:f'), /^a40bcdef-smq[a-z2-7]{12}$/);
    assert.match(t.userFor(AOR, CONTACT, '+49 (30) 1234'), /^\+49\(30\)1234-smq[a-z2-7]{12}$/);
    const long = t.userFor(AOR, CONTACT, 'x'.repeat(100));
    assert.match(long, /^x{32}-smq[a-z2-7]{12}$/);
    assert.match(t.userFor(AOR, CONTACT, '%%%'), /^smq[a-z2-7]{12}$/);
  });

  it('recognises its own users and nothing else', () => {
    const t = new ContactTokens(TOKEN_KEY);
    assert.ok(ContactTokens.looksMasqueraded(t.userFor(AOR, CONTACT, 'alice')));
    assert.ok(ContactTokens.looksMasqueraded(t.userFor(AOR, CONTACT, undefined)));
    for (const u of [
      undefined,
      '',
      'alice',
      'alice-smq',
      'alice-smqAAAAAAAAAAAA',
      'alice-smqaaaaaaaaaaa',
      'alicesmqaaaaaaaaaaaa',
      'alice-smqaaaaaaaaaaaa1',
      'alice-smqaaaaaaaaaaaa@x',
      'alice-smq0aaaaaaaaaaa',
    ])
      assert.ok(!ContactTokens.looksMasqueraded(u), String(u));
  });

  it('builds the masqueraded URI, IPv6 in brackets', () => {
    assert.equal(ContactTokens.uri('u-smqabc', '203.0.113.10', 5060), 'sip:u-smqabc@203.0.113.10:5060');
    assert.equal(ContactTokens.uri('u', '2001:db8::1', 5070), 'sip:u@[2001:db8::1]:5070');
  });
});
