import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  deleteParam,
  formatParams,
  getParam,
  hasParam,
  type Param,
  parseParams,
  setParam,
} from '../../../../proxy/sip/params.ts';

describe('params', () => {
  it('parses header parameters with LWS, valueless and quoted values', () => {
    assert.deepEqual(parseParams(' ; a = 1 ;b; c="x y;z"'), [
      ['a', '1'],
      ['b', null],
      ['c', '"x y;z"'],
    ]);
    assert.deepEqual(parseParams(''), []);
    assert.equal(parseParams(';'), null);
    assert.equal(parseParams(';a='), null);
    assert.equal(parseParams(';a b'), null);
  });

  it('gets case-insensitively and tells absent from valueless', () => {
    const p: Param[] = [
      ['Branch', 'z9hG4bK1'],
      ['rport', null],
    ];
    assert.equal(getParam(p, 'branch'), 'z9hG4bK1');
    assert.equal(getParam(p, 'RPORT'), null);
    assert.equal(getParam(p, 'received'), undefined);
    assert.ok(hasParam(p, 'rport'));
  });

  it('sets in place keeping order and the original name spelling, or appends', () => {
    const p: Param[] = [
      ['a', '1'],
      ['RPort', null],
      ['c', null],
    ];
    setParam(p, 'rport', '5060');
    setParam(p, 'received', '192.0.2.1');
    assert.equal(formatParams(p), ';a=1;RPort=5060;c;received=192.0.2.1');
  });

  it('deletes every parameter of the name', () => {
    const p: Param[] = [
      ['x', '1'],
      ['y', null],
      ['X', '2'],
    ];
    deleteParam(p, 'x');
    assert.deepEqual(p, [['y', null]]);
  });
});
