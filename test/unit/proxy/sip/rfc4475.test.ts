import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { getHeader } from '../../../../proxy/sip/header-list.ts';
import { parseMessage } from '../../../../proxy/sip/parse.ts';
import { serializeMessage } from '../../../../proxy/sip/serialize.ts';

const DIR = new URL('../../../fixtures/sip/rfc4475/', import.meta.url);

interface Case {
  file: string;
  expect: 'accept' | 'reject';
  status?: number;
  note?: string;
}

const cases = JSON.parse(readFileSync(new URL('cases.json', DIR), 'utf8')) as Case[];

function load(file: string): Buffer {
  return readFileSync(new URL(file, DIR));
}

/** The bytes serialize must give back: the input up to the end of Content-Length octets (RFC 3261 §18.3). */
function expectedRoundTrip(buf: Buffer, bodyLength: number): Buffer {
  const headEnd = buf.indexOf('\r\n\r\n') + 4;
  return buf.subarray(0, headEnd + bodyLength);
}

describe('RFC 4475 torture messages', () => {
  it('has fixtures for both outcomes', () => {
    assert.ok(cases.filter((c) => c.expect === 'accept').length >= 15);
    assert.ok(cases.filter((c) => c.expect === 'reject').length >= 15);
  });

  for (const c of cases) {
    it(`${c.file}: ${c.expect}${c.status !== undefined ? ` ${c.status}` : ''} (${c.note ?? ''})`, () => {
      const buf = load(c.file);
      const r = parseMessage(buf);
      if (c.expect === 'accept') {
        assert.ok(r.ok, r.ok ? '' : r.error.reason);
        const out = serializeMessage(r.msg);
        assert.deepEqual(out, expectedRoundTrip(buf, r.msg.body.length), 'untouched message round-trips');
        const again = parseMessage(out);
        assert.ok(again.ok);
        assert.deepEqual(again.msg, r.msg);
      } else {
        assert.equal(r.ok, false);
        if (r.ok) return;
        assert.equal(r.error.status, c.status);
        assert.equal(r.error.code, 'SMQ_ERR_SIP_PARSE');
        assert.ok(r.error.reason.length > 0);
        assert.equal(
          r.error.partial !== null,
          r.error.status !== 0,
          'partial present exactly when a response is suggested',
        );
      }
    });
  }

  it('wsinv: folded and compact headers are unfolded and canonically named', () => {
    const r = parseMessage(load('wsinv.sip'));
    assert.ok(r.ok);
    assert.equal(getHeader(r.msg, 'CSeq'), '0009 INVITE');
    assert.equal(getHeader(r.msg, 'max-forwards'), '0068');
    assert.equal(getHeader(r.msg, 'subject'), '');
    assert.equal(getHeader(r.msg, 'NewFangledHeader'), 'newfangled value continued newfangled value');
    assert.equal(r.msg.headers.filter((h) => h.name === 'via').length, 2);
    assert.equal(r.msg.headers.find((h) => h.name === 'contact')?.value.startsWith('"Quoted string'), true);
  });

  it('intmeth: token method, CTLs in quoted-pairs and UTF-8 values are kept', () => {
    const r = parseMessage(load('intmeth.sip'));
    assert.ok(r.ok && r.msg.type === 'request');
    assert.equal(r.msg.method, "!interesting-Method0123456789_*+`.%indeed'~");
    assert.equal(getHeader(r.msg, "extensionHeader-!.%*+_`'~"), '\ufeff大停電');
    assert.ok(getHeader(r.msg, 'to')?.includes('\u0000'));
  });

  it('dblreq: only the first request is taken', () => {
    const r = parseMessage(load('dblreq.sip'));
    assert.ok(r.ok && r.msg.type === 'request');
    assert.equal(r.msg.method, 'REGISTER');
    assert.equal(r.msg.body.length, 0);
  });

  it('mpart01: binary body octets are kept exactly', () => {
    const buf = load('mpart01.sip');
    const r = parseMessage(buf);
    assert.ok(r.ok);
    assert.deepEqual(r.msg.body, buf.subarray(buf.indexOf('\r\n\r\n') + 4));
  });

  it('noreason and unreason: empty and UTF-8 reason phrases', () => {
    const a = parseMessage(load('noreason.sip'));
    assert.ok(a.ok && a.msg.type === 'response');
    assert.equal(a.msg.status, 100);
    assert.equal(a.msg.reason, '');
    const b = parseMessage(load('unreason.sip'));
    assert.ok(b.ok && b.msg.type === 'response');
    assert.match(b.msg.reason, /^= 2\*\*3 \* 5\*\*2 но сто/);
  });

  it('rejected requests carry a partial request with the headers needed for a response', () => {
    const r = parseMessage(load('mismatch01.sip'));
    assert.ok(!r.ok);
    const p = r.error.partial;
    assert.ok(p);
    assert.equal(p.method, 'OPTIONS');
    assert.equal(getHeader(p, 'call-id'), 'mismatch01.dj0234sxdfl3');
    assert.equal(p.body.length, 0);
  });
});
