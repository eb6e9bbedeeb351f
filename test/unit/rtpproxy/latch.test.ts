import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Latch } from '../../../rtpproxy/relay/latch.ts';

function latch(): Latch {
  const l = new Latch(2000);
  l.signal('10.0.0.10', 4000);
  return l;
}

describe('Latch', () => {
  it('sends toward the signalled endpoint before latching', () => {
    const l = latch();
    assert.equal(l.destAddr, '10.0.0.10');
    assert.equal(l.destPort, 4000);
    assert.equal(l.latched, false);
  });

  it('latches to the source of the first valid packet only', () => {
    const l = latch();
    assert.equal(l.admit('198.51.100.7', 5555, false, 0), false);
    assert.equal(l.latched, false);
    assert.equal(l.admit('198.51.100.7', 5556, true, 0), true);
    assert.equal(l.matches('198.51.100.7', 5556), true);
    assert.equal(l.destPort, 5556);
  });

  it('re-latches once to the exact signalled address inside the window, then is strict', () => {
    const l = latch();
    l.admit('198.51.100.7', 5556, true, 1000);
    assert.equal(l.admit('10.0.0.10', 4001, true, 1500), false); // not the exact signalled port
    assert.equal(l.admit('10.0.0.10', 4000, true, 1500), true);
    assert.equal(l.locked, true);
    assert.equal(l.admit('198.51.100.7', 5556, true, 1600), false);
  });

  it('locks when the first packet comes from the signalled address', () => {
    const l = latch();
    l.admit('10.0.0.10', 4000, true, 0);
    assert.equal(l.locked, true);
    assert.equal(l.admit('198.51.100.7', 5556, true, 1), false);
  });

  it('does not re-latch after the window', () => {
    const l = latch();
    l.admit('198.51.100.7', 5556, true, 0);
    assert.equal(l.admit('10.0.0.10', 4000, true, 2001), false);
    assert.equal(l.destAddr, '198.51.100.7');
  });

  it('keeps what it learnt for the same endpoint and resets on a changed one', () => {
    const l = latch();
    l.admit('198.51.100.7', 5556, true, 0);
    assert.equal(l.signal('10.0.0.10', 4000), false);
    assert.equal(l.latched, true);
    assert.equal(l.signal('10.0.0.10', 4002), true);
    assert.equal(l.latched, false);
    assert.equal(l.destPort, 4002);
  });

  it('treats IPv6 spellings of the same address as the same endpoint', () => {
    const l = new Latch(2000);
    l.signal('2001:DB8:0:0::1', 4000);
    assert.equal(l.signalledAddr, '2001:db8::1');
    assert.equal(l.signal('2001:db8::1', 4000), false);
  });

  it('never sends toward 0.0.0.0 or port 0', () => {
    const l = new Latch(2000);
    l.signal('0.0.0.0', 4000);
    assert.equal(l.destPort, 0);
    l.signal('192.0.2.1', 0);
    assert.equal(l.destPort, 0);
    l.signal('::', 4000);
    assert.equal(l.destPort, 0);
  });
});

describe('Latch against RTP injection (RFC 7362 §5.2)', () => {
  it('learns nothing before the SDP has named the peer', () => {
    const l = new Latch(2000);
    assert.equal(l.admit('198.51.100.66', 5004, true, 0), false);
    assert.equal(l.latched, false);
  });

  it('with a public signalled address, learns only from that address (any port)', () => {
    const l = new Latch(2000);
    l.signal('203.0.113.20', 4000);
    assert.equal(l.admit('203.0.113.66', 4000, true, 0), false, 'a sprayer elsewhere is never learnt');
    assert.equal(l.admit('203.0.113.20', 4010, true, 0), true, 'the peer itself, from another port');
    assert.equal(l.admit('203.0.113.66', 4000, true, 10), false);
  });

  it('with a private signalled address (a NAT’d peer), learns the first valid source', () => {
    const l = new Latch(2000);
    l.signal('10.1.2.3', 4000);
    assert.equal(l.admit('198.51.100.9', 31000, true, 0), true);
  });
});
