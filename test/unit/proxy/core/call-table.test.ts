import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../../../common/clock.ts';
import { CallTable } from '../../../../proxy/core/call-table.ts';
import { PHONE, PHONE2, T0 } from './fixtures.ts';

const P1 = { addr: PHONE, port: 5062 };
const P2 = { addr: PHONE2, port: 5060 };
const LINGER = 32_000;

function setup() {
  const clock = new ManualClock(T0);
  return { clock, calls: new CallTable(clock) };
}

describe('CallTable', () => {
  it('creates one early outgoing entry per Call-ID and phone tag, the same for retransmissions', () => {
    const { calls, clock } = setup();
    const a = calls.outgoing('c1', 'ph', P1);
    assert.equal(a.state, 'early');
    assert.equal(a.direction, 'outgoing');
    assert.equal(a.lanTag, 'ph');
    assert.equal(a.wanTag, undefined);
    clock.advance(500);
    const again = calls.outgoing('c1', 'ph', P1);
    assert.equal(again, a);
    assert.equal(a.updatedAt, T0 + 500);
    assert.equal(calls.entries('c1').length, 1);
    assert.notEqual(calls.outgoing('c1', 'other', P1).sessionId, a.sessionId);
  });

  it('creates one incoming entry per far-side tag and target, so forks to two phones get two sessions', () => {
    const { calls } = setup();
    const a = calls.incoming('c2', 'far', 'alice-smqaaaaaaaaaaaa', P1);
    const b = calls.incoming('c2', 'far', 'alice-smqbbbbbbbbbbbb', P2);
    assert.equal(calls.incoming('c2', 'far', 'alice-smqaaaaaaaaaaaa', P1), a);
    assert.notEqual(a.sessionId, b.sessionId);
    assert.equal(a.wanTag, 'far');
    assert.equal(a.lanTag, undefined);
    assert.equal(a.target, 'alice-smqaaaaaaaaaaaa');
    assert.equal(calls.entries('c2').length, 2);
  });

  it('derives session ids from the dialog, not from chance (same input, same id across tables)', () => {
    const one = setup().calls.outgoing('c1', 'ph', P1).sessionId;
    const two = setup().calls.outgoing('c1', 'ph', P1).sessionId;
    assert.equal(one, two);
    assert.notEqual(setup().calls.incoming('c1', 'ph', '', P1).sessionId, one, 'direction is part of the id');
  });

  it('finds a confirmed dialog by its two tags in either order', () => {
    const { calls } = setup();
    const e = calls.outgoing('c1', 'ph', P1);
    e.wanTag = 'far';
    assert.equal(calls.find('c1', 'ph', 'far'), e);
    assert.equal(calls.find('c1', 'far', 'ph'), e);
    assert.equal(calls.find('c1', 'ph', 'someone-else'), undefined);
    assert.equal(calls.find('c1', 'far', undefined), undefined);
    assert.equal(calls.find('other-call', 'ph', 'far'), undefined);
  });

  it('finds an early entry still missing one tag by the tag it has, so the first answer can fill it in', () => {
    const { calls } = setup();
    const out = calls.outgoing('c1', 'ph', P1);
    assert.equal(calls.find('c1', 'ph', 'far'), out);
    out.wanTag = 'far';
    assert.equal(calls.find('c1', 'far', 'ph'), out);
    const inc = calls.incoming('c2', 'far2', 't', P1);
    assert.equal(calls.find('c2', 'phone-tag', 'far2'), inc);
    inc.lanTag = 'phone-tag';
    assert.equal(calls.find('c2', 'far2', 'phone-tag'), inc);
    assert.equal(calls.find('c2', 'far2', 'another-phone-tag'), undefined, 'filled entries need both tags');
  });

  it('prefers the entry matching both tags over one matching a single tag', () => {
    const { calls } = setup();
    const early = calls.incoming('c3', 'far', 'alice-smqaaaaaaaaaaaa', P1);
    const answered = calls.incoming('c3', 'far', 'alice-smqbbbbbbbbbbbb', P2);
    answered.lanTag = 'p2';
    assert.equal(calls.find('c3', 'far', 'p2'), answered);
    assert.equal(calls.find('c3', 'far', 'p1'), early);
  });

  it('confirms only early entries and looks entries up by session', () => {
    const { calls } = setup();
    const e = calls.outgoing('c1', 'ph', P1);
    calls.confirm(e);
    assert.equal(e.state, 'confirmed');
    assert.equal(calls.bySession(e.sessionId), e);
    assert.equal(calls.bySession('nope'), undefined);
    calls.terminate(e);
    calls.confirm(e);
    assert.equal(e.state, 'terminated', 'a late 2xx does not revive an ended call');
  });

  it('keeps a terminated entry for late retransmissions, then forgets it on sweep', () => {
    const { calls, clock } = setup();
    const e = calls.outgoing('c1', 'ph', P1);
    e.wanTag = 'far';
    const live = calls.outgoing('c9', 'ph9', P1);
    assert.ok(calls.hasCallId('c1'));
    calls.terminate(e);
    assert.equal(e.state, 'terminated');
    assert.equal(e.forgetAt, T0 + LINGER);
    assert.ok(!calls.hasCallId('c1'), 'an ended call is no longer a known call');
    assert.equal(calls.find('c1', 'ph', 'far'), e, 'but a retransmitted BYE still finds it');
    clock.advance(LINGER - 1);
    calls.sweep();
    assert.equal(calls.entries('c1').length, 1);
    clock.advance(1);
    calls.sweep();
    assert.deepEqual(calls.entries('c1'), []);
    assert.equal(calls.find('c1', 'ph', 'far'), undefined);
    assert.deepEqual(calls.all(), [live], 'live entries are never swept');
  });

  it('holds at most 20000 entries, sweeping first and then evicting the least recently used', () => {
    const { calls, clock } = setup();
    const first = calls.outgoing('call-0', 't', P1);
    clock.advance(1);
    for (let i = 1; i < 20_000; i++) calls.outgoing(`call-${i}`, 't', P1);
    clock.advance(1);
    calls.outgoing('call-0', 't', P1);
    assert.equal(first.updatedAt, T0 + 2, 'touched: now the most recent');
    clock.advance(1);
    calls.outgoing('call-new', 't', P1);
    assert.equal(calls.all().length, 20_000);
    assert.deepEqual(calls.entries('call-1'), [], 'the least recently used went');
    assert.equal(calls.entries('call-0').length, 1);
    assert.equal(calls.entries('call-new').length, 1);
  });

  it('sweeps terminated entries before evicting live ones when full', () => {
    const { calls, clock } = setup();
    const dead = calls.outgoing('dead', 't', P1);
    for (let i = 1; i < 20_000; i++) calls.outgoing(`call-${i}`, 't', P1);
    calls.terminate(dead);
    clock.advance(LINGER);
    calls.outgoing('call-new', 't', P1);
    assert.equal(calls.all().length, 20_000);
    assert.deepEqual(calls.entries('dead'), []);
    assert.equal(calls.entries('call-1').length, 1, 'no live entry evicted');
  });
});
