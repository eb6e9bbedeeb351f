import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ErrorCatalogue,
  type ErrorCode,
  errorText,
  isSipmasqError,
  SipmasqError,
} from '../../../common/errors.ts';

const CODES = Object.keys(ErrorCatalogue) as ErrorCode[];

describe('error catalogue', () => {
  it('names every code SMQ_ERR_* with a non-empty message of its own', () => {
    assert.ok(CODES.length > 0);
    const messages = new Set<string>();
    for (const code of CODES) {
      assert.match(code, /^SMQ_ERR_[A-Z_]+$/);
      const message = ErrorCatalogue[code];
      assert.equal(typeof message, 'string');
      assert.ok(message.trim().length > 0, `${code} has a message`);
      assert.ok(!messages.has(message), `${code} has a distinct message`);
      messages.add(message);
    }
  });

  it('builds a SipmasqError for every code carrying that code, the catalogue text and frozen details', () => {
    for (const code of CODES) {
      const err = new SipmasqError(code, 'what happened', { option: 'x', n: 1 });
      assert.ok(err instanceof Error);
      assert.equal(err.name, 'SipmasqError');
      assert.equal(err.code, code);
      assert.equal(err.message, `${ErrorCatalogue[code]}: what happened`);
      assert.deepEqual(err.details, { option: 'x', n: 1 });
      assert.ok(Object.isFrozen(err.details));
      assert.ok(isSipmasqError(err));
      assert.ok(isSipmasqError(err, code));
      for (const other of CODES) if (other !== code) assert.equal(isSipmasqError(err, other), false);
      assert.equal(errorText(err), `${code}: ${err.message}`);
    }
  });

  it('uses the bare catalogue text when no message is given and defaults details to empty', () => {
    const err = new SipmasqError('SMQ_ERR_DNS');
    assert.equal(err.message, ErrorCatalogue.SMQ_ERR_DNS);
    assert.deepEqual(err.details, {});
  });

  it('copies details so that later changes to the caller object do not leak in', () => {
    const details: Record<string, unknown> = { host: 'a' };
    const err = new SipmasqError('SMQ_ERR_DNS', 'x', details);
    details.host = 'b';
    assert.equal(err.details.host, 'a');
  });

  it('keeps the cause given in options', () => {
    const cause = new Error('root');
    const err = new SipmasqError('SMQ_ERR_BIND', 'x', {}, { cause });
    assert.equal(err.cause, cause);
  });

  it('does not take plain errors or look-alike objects for SipmasqErrors', () => {
    assert.equal(isSipmasqError(new Error('x')), false);
    assert.equal(isSipmasqError({ code: 'SMQ_ERR_DNS', message: 'x' }), false);
    assert.equal(isSipmasqError(null), false);
    assert.equal(isSipmasqError(undefined, 'SMQ_ERR_DNS'), false);
  });

  it('gives the message of plain errors and the text of non-errors', () => {
    assert.equal(errorText(new TypeError('bad arg')), 'bad arg');
    assert.equal(errorText('just a string'), 'just a string');
    assert.equal(errorText(42), '42');
    assert.equal(errorText(undefined), 'undefined');
  });
});
