import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createBranch, isRfc3261Branch, MAGIC_COOKIE } from '../../../../proxy/sip/branch.ts';
import { canonicalName, displayName } from '../../../../proxy/sip/message.ts';

describe('header names', () => {
  it('maps compact forms and case to the lower-case long form', () => {
    const pairs: Array<[string, string]> = [
      ['v', 'via'],
      ['F', 'from'],
      ['t', 'to'],
      ['i', 'call-id'],
      ['m', 'contact'],
      ['l', 'content-length'],
      ['c', 'content-type'],
      ['k', 'supported'],
      ['s', 'subject'],
      ['e', 'content-encoding'],
      ['o', 'event'],
      ['r', 'refer-to'],
      ['u', 'allow-events'],
      ['b', 'referred-by'],
      ['x', 'session-expires'],
      ['y', 'identity'],
      ['Call-Id', 'call-id'],
      ['X-Custom', 'x-custom'],
    ];
    for (const [a, b] of pairs) assert.equal(canonicalName(a), b, a);
  });

  it('writes the conventional capitalisation', () => {
    assert.equal(displayName('call-id'), 'Call-ID');
    assert.equal(displayName('i'), 'Call-ID');
    assert.equal(displayName('cseq'), 'CSeq');
    assert.equal(displayName('www-authenticate'), 'WWW-Authenticate');
    assert.equal(displayName('record-route'), 'Record-Route');
    assert.equal(displayName('max-forwards'), 'Max-Forwards');
    assert.equal(displayName('x-my-header'), 'X-My-Header');
  });
});

describe('branch', () => {
  it('creates unique magic-cookie branches', () => {
    const a = createBranch();
    assert.ok(a.startsWith(MAGIC_COOKIE));
    assert.notEqual(a, createBranch());
    assert.ok(isRfc3261Branch(a));
    assert.ok(!isRfc3261Branch('z9hG4bK'));
    assert.ok(!isRfc3261Branch('390skdjuw'));
    assert.ok(!isRfc3261Branch(null));
  });
});
