import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertRecord, decodeRecord, encodeRecord } from '../../../../proxy/store/record-codec.ts';
import { makeRecord } from './binding-fixtures.ts';

describe('record codec', () => {
  it('round-trips a record, with and without an instance', () => {
    for (const record of [makeRecord('a'), makeRecord('b', { instance: '<urn:uuid:f81d4fae>' })]) {
      assert.deepEqual(decodeRecord(record.token, encodeRecord(record)), { ok: true, record });
    }
  });

  it('stores only the fields of BindingRecord', () => {
    const withExtra = { ...makeRecord('a'), secret: 'x' };
    assert.deepEqual(
      Object.keys(JSON.parse(encodeRecord(withExtra))).sort(),
      Object.keys(makeRecord('a')).sort(),
    );
  });

  it('reports stored data that cannot be a record, never throwing', () => {
    const cases: Array<[string, RegExp]> = [
      ['{"token":', /^not JSON/],
      ['[1,2]', /not a JSON object/],
      ['null', /not a JSON object/],
      [JSON.stringify({ ...makeRecord('t'), aor: 5 }), /aor is not a string/],
      [JSON.stringify({ ...makeRecord('t'), expiresAt: '1' }), /expiresAt is not a finite number/],
      [JSON.stringify({ ...makeRecord('t'), phonePort: 65536 }), /phonePort/],
      [JSON.stringify({ ...makeRecord('t'), instance: 3 }), /instance/],
      [JSON.stringify(makeRecord('other')), /differs from the row key/],
    ];
    for (const [data, error] of cases) {
      const result = decodeRecord('t', data);
      assert.equal(result.ok, false, data);
      if (!result.ok) assert.match(result.error, error);
    }
  });

  it('throws a TypeError for a record our own code got wrong', () => {
    assert.throws(() => assertRecord(makeRecord('')), /token is empty/);
    assert.throws(() => assertRecord(makeRecord('a', { updatedAt: Number.POSITIVE_INFINITY })), TypeError);
    assert.doesNotThrow(() => assertRecord(makeRecord('a')));
  });
});
