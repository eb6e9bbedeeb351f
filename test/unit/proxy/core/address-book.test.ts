import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AddressBook } from '../../../../proxy/core/address-book.ts';
import { ADDRESSES, LAN, PUBLIC, WAN } from './fixtures.ts';

describe('AddressBook', () => {
  it('exposes the LAN, WAN and public addresses and the SIP port', () => {
    const book = new AddressBook(ADDRESSES);
    assert.equal(book.lan, LAN);
    assert.equal(book.wan, WAN);
    assert.equal(book.public, PUBLIC);
    assert.equal(book.sipPort, 5060);
    assert.ok(Object.isFrozen(book.snapshot()));
  });

  it('counts only sources inside the LAN networks as LAN sources', () => {
    const book = new AddressBook(ADDRESSES);
    assert.ok(book.isLanSource('192.168.1.77'));
    assert.ok(book.isLanSource('::ffff:192.168.1.77'));
    assert.ok(!book.isLanSource('192.168.2.1'));
    assert.ok(!book.isLanSource('203.0.113.5'));
  });

  it('recognises itself on any of its addresses at its SIP port, 5060 when no port is written', () => {
    const book = new AddressBook(ADDRESSES);
    for (const a of [LAN, WAN, PUBLIC]) {
      assert.ok(book.isSelf(a, 5060), a);
      assert.ok(book.isSelf(a, undefined), a);
      assert.ok(!book.isSelf(a, 5070), `${a}:5070`);
    }
    assert.ok(!book.isSelf('192.168.1.2', 5060));
    assert.ok(!book.isSelf('router.lan', 5060));
  });

  it('recognises itself through IPv6 brackets and IPv4-mapped forms', () => {
    const book = new AddressBook({ ...ADDRESSES, wanAddress: '2001:db8::2' });
    assert.ok(book.isSelf('[2001:db8::2]', 5060));
    assert.ok(book.isSelf('2001:DB8:0::2', 5060));
    assert.ok(book.isSelf('::ffff:192.168.1.1', 5060));
  });

  it('needs the port written when sipmasq listens elsewhere than 5060', () => {
    const book = new AddressBook({ ...ADDRESSES, sipPort: 5070 });
    assert.ok(book.isSelf(LAN, 5070));
    assert.ok(!book.isSelf(LAN, undefined));
  });

  it('applies an update (hotplug) and says whether anything changed', () => {
    const book = new AddressBook(ADDRESSES);
    assert.equal(book.update({ ...ADDRESSES }), false);
    assert.equal(
      book.update({ ...ADDRESSES, publicAddress: '203.0.113.99', lanNetworks: ['10.0.0.0/8'] }),
      true,
    );
    assert.equal(book.public, '203.0.113.99');
    assert.ok(!book.isSelf(PUBLIC, 5060));
    assert.ok(book.isLanSource('10.1.2.3'));
    assert.ok(!book.isLanSource('192.168.1.50'));
  });

  it('refuses an invalid LAN network as a programming error', () => {
    assert.throws(() => new AddressBook({ ...ADDRESSES, lanNetworks: ['192.168.1.0/99'] }), TypeError);
    const book = new AddressBook(ADDRESSES);
    assert.throws(() => book.update({ ...ADDRESSES, lanNetworks: ['x'] }), TypeError);
  });
});
