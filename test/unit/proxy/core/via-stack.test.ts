import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AddressBook } from '../../../../proxy/core/address-book.ts';
import {
  branchFor,
  popOwnVia,
  pushVia,
  responseDestination,
  stampReceived,
} from '../../../../proxy/core/via-stack.ts';
import { getHeaderValues } from '../../../../proxy/sip/header-list.ts';
import type { SipMessage } from '../../../../proxy/sip/message.ts';
import { parseVia } from '../../../../proxy/sip/via.ts';
import { ADDRESSES, LAN, PHONE, PUBLIC, req, resp } from './fixtures.ts';

const book = new AddressBook(ADDRESSES);
const isSelf = (h: string, p: number | undefined) => book.isSelf(h, p);

function invite(via: string, method = 'INVITE', extra: string[] = []) {
  return req([
    `${method} sip:bob@voip.example.net SIP/2.0`,
    `Via: ${via}`,
    'Max-Forwards: 70',
    'From: <sip:alice@voip.example.net>;tag=a1',
    'To: <sip:bob@voip.example.net>',
    'Call-ID: call-1@phone',
    `CSeq: 1 ${method}`,
    ...extra,
  ]);
}

const topVia = (m: SipMessage) => getHeaderValues(m, 'via')[0]!;

describe('stampReceived', () => {
  it('adds received when the sent-by address differs from the source', () => {
    const m = invite(`SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK1`);
    assert.ok(stampReceived(m, PHONE, 5062));
    assert.equal(topVia(m), `SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK1;received=${PHONE}`);
  });

  it('adds received when the sent-by is a name', () => {
    const m = invite('SIP/2.0/UDP phone.lan;branch=z9hG4bK1');
    stampReceived(m, PHONE, 5060);
    assert.equal(topVia(m), `SIP/2.0/UDP phone.lan;branch=z9hG4bK1;received=${PHONE}`);
  });

  it('leaves a Via alone when sent-by is the source address and there is no rport', () => {
    const m = invite(`SIP/2.0/UDP ${PHONE}:5062;branch=z9hG4bK1`);
    const before = topVia(m);
    stampReceived(m, PHONE, 5062);
    assert.equal(topVia(m), before);
  });

  it('treats IPv4-mapped sources as the same address', () => {
    const m = invite(`SIP/2.0/UDP ${PHONE}:5062;branch=z9hG4bK1`);
    stampReceived(m, `::ffff:${PHONE}`, 5062);
    assert.ok(!topVia(m).includes('received'));
  });

  it('fills an empty rport with the source port and adds received too (RFC 3581 §4)', () => {
    const m = invite(`SIP/2.0/UDP ${PHONE}:5062;rport;branch=z9hG4bK1`);
    stampReceived(m, PHONE, 40000);
    assert.equal(topVia(m), `SIP/2.0/UDP ${PHONE}:5062;rport=40000;branch=z9hG4bK1;received=${PHONE}`);
  });

  it('keeps an rport that already has a value', () => {
    const m = invite(`SIP/2.0/UDP ${PHONE}:5062;rport=5062;branch=z9hG4bK1`);
    stampReceived(m, PHONE, 40000);
    assert.ok(topVia(m).includes('rport=5062'));
  });

  it('touches only the top Via', () => {
    const m = invite(`SIP/2.0/UDP 10.0.0.9;branch=z9hG4bK1, SIP/2.0/UDP 10.0.0.8;rport;branch=z9hG4bK0`);
    stampReceived(m, PHONE, 5060);
    assert.deepEqual(getHeaderValues(m, 'via').slice(1), ['SIP/2.0/UDP 10.0.0.8;rport;branch=z9hG4bK0']);
  });

  it('says false when the top Via cannot be read', () => {
    const m = invite(`SIP/2.0/UDP ${PHONE};branch=z9hG4bK1`);
    m.headers.find((h) => h.name === 'via')!.value = 'garbage';
    assert.equal(stampReceived(m, PHONE, 5060), false);
  });
});

describe('branchFor', () => {
  it('is the same for a retransmission and carries the magic cookie and our mark', () => {
    const a = branchFor(invite(`SIP/2.0/UDP ${PHONE}:5062;branch=z9hG4bKabc`), 'lan');
    const b = branchFor(invite(`SIP/2.0/UDP ${PHONE}:5062;branch=z9hG4bKabc`), 'lan');
    assert.equal(a, b);
    assert.match(a, /^z9hG4bKsmqL[A-Za-z0-9]{20}$/);
  });

  it('is the same for an INVITE and its CANCEL (RFC 3261 §9.1), and for the ACK of a non-2xx', () => {
    const via = `SIP/2.0/UDP ${PHONE}:5062;branch=z9hG4bKabc`;
    const b = branchFor(invite(via), 'lan');
    assert.equal(branchFor(invite(via, 'CANCEL'), 'lan'), b);
    assert.equal(branchFor(invite(via, 'ACK'), 'lan'), b);
  });

  it('differs for a new transaction and for the side it came from', () => {
    const via = `SIP/2.0/UDP ${PHONE}:5062;branch=z9hG4bKabc`;
    const lan = branchFor(invite(via), 'lan');
    const wan = branchFor(invite(via), 'wan');
    assert.match(wan, /^z9hG4bKsmqW/);
    assert.notEqual(lan, wan);
    assert.notEqual(branchFor(invite(`SIP/2.0/UDP ${PHONE}:5062;branch=z9hG4bKabd`), 'lan'), lan);
    assert.notEqual(
      branchFor(invite(`SIP/2.0/UDP 10.9.9.9:5062;branch=z9hG4bKabc`), 'lan'),
      lan,
      'same branch, other sender',
    );
  });

  it('hashes the RFC 2543 fields when the incoming branch has no magic cookie, stable for retransmission', () => {
    const via = `SIP/2.0/UDP ${PHONE}:5062`;
    const a = branchFor(invite(via), 'lan');
    assert.equal(branchFor(invite(via), 'lan'), a);
    assert.match(a, /^z9hG4bKsmqL/);
    assert.equal(branchFor(invite(via, 'CANCEL'), 'lan'), a, 'CANCEL matches its INVITE');
    assert.notEqual(branchFor(invite(via, 'ACK'), 'lan'), a, 'an old-style ACK is its own transaction');
    const other = invite(via);
    other.headers.find((h) => h.name === 'call-id')!.value = 'call-2@phone';
    assert.notEqual(branchFor(other, 'lan'), a);
  });
});

describe('pushVia and popOwnVia', () => {
  it('pushes our Via on top asking for rport and pops it from the response', () => {
    const m = invite(`SIP/2.0/UDP ${PHONE}:5062;branch=z9hG4bKabc;rport=5062;received=${PHONE}`);
    const branch = branchFor(m, 'lan');
    pushVia(m, PUBLIC, 5060, branch);
    assert.equal(topVia(m), `SIP/2.0/UDP ${PUBLIC}:5060;branch=${branch};rport`);
    const r = resp([
      'SIP/2.0 200 OK',
      ...getHeaderValues(m, 'via').map((v) => `Via: ${v}`),
      'From: <sip:alice@voip.example.net>;tag=a1',
      'To: <sip:bob@voip.example.net>;tag=b1',
      'Call-ID: call-1@phone',
      'CSeq: 1 INVITE',
    ]);
    const popped = popOwnVia(r, isSelf);
    assert.ok(popped);
    assert.equal(popped.back, 'lan');
    assert.equal(popped.branch, branch);
    assert.equal(popped.next.host, PHONE);
    assert.deepEqual(getHeaderValues(r, 'via').length, 1);
    assert.ok(topVia(r).includes('z9hG4bKabc'));
  });

  it('brackets an IPv6 address in the pushed Via', () => {
    const m = invite(`SIP/2.0/UDP ${PHONE}:5062;branch=z9hG4bKabc`);
    pushVia(m, '2001:db8::1', 5060, 'z9hG4bKsmqLx');
    assert.equal(parseVia(topVia(m))?.host, '2001:db8::1');
    assert.match(topVia(m), /^SIP\/2.0\/UDP \[2001:db8::1\]:5060;/);
  });

  it('tells the side to send back from the mark in the branch', () => {
    const r = resp([
      'SIP/2.0 180 Ringing',
      `Via: SIP/2.0/UDP ${LAN}:5060;branch=z9hG4bKsmqWabc`,
      'Via: SIP/2.0/UDP 198.51.100.77;branch=z9hG4bKfar;received=198.51.100.77',
      'From: <sip:a@b>;tag=1',
      'To: <sip:c@d>;tag=2',
      'Call-ID: x',
      'CSeq: 1 INVITE',
    ]);
    assert.equal(popOwnVia(r, isSelf)?.back, 'wan');
  });

  const response = (vias: string[]) =>
    resp([
      'SIP/2.0 200 OK',
      ...vias.map((v) => `Via: ${v}`),
      'From: <sip:a@b>;tag=1',
      'To: <sip:c@d>;tag=2',
      'Call-ID: x',
      'CSeq: 1 INVITE',
    ]);

  it('refuses a top Via that is not ours, leaving the response untouched', () => {
    const r = response([
      `SIP/2.0/UDP 198.51.100.9:5060;branch=z9hG4bKsmqLabc`,
      `SIP/2.0/UDP ${PHONE};branch=z9hG4bK1`,
    ]);
    assert.equal(popOwnVia(r, isSelf), null);
    assert.equal(getHeaderValues(r, 'via').length, 2);
  });

  it('refuses our address without our branch mark, or on another port', () => {
    assert.equal(
      popOwnVia(
        response([`SIP/2.0/UDP ${PUBLIC}:5060;branch=z9hG4bKother`, `SIP/2.0/UDP ${PHONE};branch=z9hG4bK1`]),
        isSelf,
      ),
      null,
    );
    assert.equal(
      popOwnVia(response([`SIP/2.0/UDP ${PUBLIC}:5060`, `SIP/2.0/UDP ${PHONE};branch=z9hG4bK1`]), isSelf),
      null,
    );
    assert.equal(
      popOwnVia(
        response([`SIP/2.0/UDP ${PUBLIC}:5070;branch=z9hG4bKsmqLa`, `SIP/2.0/UDP ${PHONE};branch=z9hG4bK1`]),
        isSelf,
      ),
      null,
    );
  });

  it('refuses a response with nothing under our Via (it was meant for us)', () => {
    assert.equal(popOwnVia(response([`SIP/2.0/UDP ${PUBLIC}:5060;branch=z9hG4bKsmqLabc`]), isSelf), null);
  });
});

describe('responseDestination', () => {
  const dest = (v: string) => responseDestination(parseVia(v)!);

  it('sends to received and rport when both are there', () => {
    assert.deepEqual(dest(`SIP/2.0/UDP 10.0.0.9:5062;received=${PHONE};rport=40000`), {
      address: PHONE,
      port: 40000,
    });
  });

  it('sends to the sent-by port when rport has no value or is absent', () => {
    assert.deepEqual(dest(`SIP/2.0/UDP 10.0.0.9:5062;received=${PHONE};rport`), {
      address: PHONE,
      port: 5062,
    });
    assert.deepEqual(dest(`SIP/2.0/UDP ${PHONE}:5062`), { address: PHONE, port: 5062 });
  });

  it('defaults the port to 5060', () => {
    assert.deepEqual(dest(`SIP/2.0/UDP ${PHONE}`), { address: PHONE, port: 5060 });
  });

  it('uses the sent-by address when there is no received, IPv6 included', () => {
    assert.deepEqual(dest('SIP/2.0/UDP [2001:db8::5]:5070;rport=5071'), {
      address: '2001:db8::5',
      port: 5071,
    });
  });

  it('cannot send to a name without received, and ignores a received that is not an address', () => {
    assert.equal(dest('SIP/2.0/UDP phone.lan:5060'), null);
    assert.equal(dest('SIP/2.0/UDP phone.lan:5060;received=nonsense'), null);
    assert.deepEqual(dest(`SIP/2.0/UDP ${PHONE}:5060;received=nonsense`), { address: PHONE, port: 5060 });
  });
});
