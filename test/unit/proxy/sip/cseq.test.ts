import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatCSeq, parseCSeq } from '../../../../proxy/sip/cseq.ts';

describe('parseCSeq', () => {
  it('reads number and method, allowing leading zeros and LWS', () => {
    assert.deepEqual(parseCSeq('314159 INVITE'), { seq: 314159, method: 'INVITE' });
    assert.deepEqual(parseCSeq(' 0009 \t INVITE '), { seq: 9, method: 'INVITE' });
    assert.deepEqual(parseCSeq('2147483647 NEWMETHOD'), { seq: 2 ** 31 - 1, method: 'NEWMETHOD' });
  });

  it('rejects numbers of 2^31 and more, negatives and junk', () => {
    for (const bad of [
      '2147483648 INVITE',
      '36893488147419103232 REGISTER',
      '-1 INVITE',
      'INVITE',
      '1',
      '1 IN VITE',
      '1 <x>',
      '',
    ]) {
      assert.equal(parseCSeq(bad), null, bad);
    }
  });

  it('formats', () => {
    assert.equal(formatCSeq(2, 'ACK'), '2 ACK');
  });
});
