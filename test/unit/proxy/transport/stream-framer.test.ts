import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseMessage } from '../../../../proxy/sip/parse.ts';
import {
  contentLengthOf,
  type FramerEvent,
  type FramingError,
  StreamFramer,
} from '../../../../proxy/transport/stream-framer.ts';

function message(method: string, body = '', extra: string[] = [], cl: string | null = null): string {
  const head = [
    `${method} sip:registrar.example.com SIP/2.0`,
    'Via: SIP/2.0/TCP 192.168.1.10:5060;branch=z9hG4bK776asdhds;rport',
    'Max-Forwards: 70',
    'To: <sip:100@example.com>',
    'From: <sip:100@example.com>;tag=1928301774',
    'Call-ID: a84b4c76e66710',
    `CSeq: 1 ${method}`,
    ...extra,
    ...(cl === null
      ? [`Content-Length: ${Buffer.byteLength(body)}`]
      : cl === ''
        ? []
        : [`Content-Length: ${cl}`]),
  ];
  return `${head.join('\r\n')}\r\n\r\n${body}`;
}

const SDP = 'v=0\r\no=- 1 1 IN IP4 192.168.1.10\r\ns=-\r\nc=IN IP4 192.168.1.10\r\nt=0 0\r\n';
const FIRST = message('REGISTER');
const SECOND = message('INVITE', SDP, ['Content-Type: application/sdp']);

function messages(events: FramerEvent[]): string[] {
  return events.flatMap((e) => (e.kind === 'message' ? [e.data.toString('latin1')] : []));
}

function errorOf(events: FramerEvent[]): FramingError {
  const last = events.at(-1);
  assert.ok(last && last.kind === 'error', `expected a framing error, got ${JSON.stringify(events)}`);
  return last.error;
}

describe('StreamFramer: framing by Content-Length (RFC 3261 §18.3)', () => {
  it('frames two messages sent in one chunk, in order, each parsable', () => {
    const f = new StreamFramer();
    const out = messages(f.push(Buffer.from(FIRST + SECOND)));
    assert.deepEqual(out, [FIRST, SECOND]);
    for (const m of out) assert.ok(parseMessage(Buffer.from(m)).ok);
    assert.equal(f.buffered, 0);
  });

  it('frames the same two messages when the stream is split at every byte position', () => {
    const stream = Buffer.from(FIRST + SECOND);
    for (let cut = 0; cut <= stream.length; cut++) {
      const f = new StreamFramer();
      const out = [...f.push(stream.subarray(0, cut)), ...f.push(stream.subarray(cut))];
      assert.deepEqual(messages(out), [FIRST, SECOND], `split at ${cut}`);
      assert.equal(out.length, 2, `split at ${cut}`);
    }
  });

  it('frames them when fed one byte at a time', () => {
    const stream = Buffer.from(FIRST + SECOND);
    const f = new StreamFramer();
    const out: FramerEvent[] = [];
    for (let i = 0; i < stream.length; i++) out.push(...f.push(stream.subarray(i, i + 1)));
    assert.deepEqual(messages(out), [FIRST, SECOND]);
  });

  it('splits at both of two cut points (three chunks) for every pair in a short stream', () => {
    const a = message('OPTIONS');
    const b = message('MESSAGE', 'hi', ['Content-Type: text/plain']);
    const stream = Buffer.from(a + b);
    for (let i = 0; i <= stream.length; i += 7)
      for (let j = i; j <= stream.length; j += 5) {
        const f = new StreamFramer();
        const out = [
          ...f.push(stream.subarray(0, i)),
          ...f.push(stream.subarray(i, j)),
          ...f.push(stream.subarray(j)),
        ];
        assert.deepEqual(messages(out), [a, b], `cuts ${i},${j}`);
      }
  });

  it('keeps body bytes that look like a head end, taking exactly Content-Length bytes', () => {
    const body = '\r\n\r\nINVITE x SIP/2.0\r\n\r\n';
    const m = message('MESSAGE', body, ['Content-Type: text/plain']);
    assert.deepEqual(messages(new StreamFramer().push(Buffer.from(m + FIRST))), [m, FIRST]);
  });

  it('reads the compact form, spacing before the colon and a folded value', () => {
    const compact = message('MESSAGE', 'abc', [], '').replace('\r\n\r\n', '\r\nl :\r\n  3\r\n\r\n');
    assert.deepEqual(messages(new StreamFramer().push(Buffer.from(compact + FIRST))), [compact, FIRST]);
  });

  it('accepts a head ended by bare LF line ends (as the parser does)', () => {
    const lf = FIRST.replace(/\r\n/g, '\n');
    assert.deepEqual(messages(new StreamFramer().push(Buffer.from(lf + FIRST))), [lf, FIRST]);
  });

  it('accepts two identical Content-Length headers', () => {
    const m = message('MESSAGE', 'abc', ['Content-Length: 3'], '3');
    assert.deepEqual(messages(new StreamFramer().push(Buffer.from(m))), [m]);
  });

  it('holds no more than the incomplete message', () => {
    const f = new StreamFramer();
    f.push(Buffer.from(FIRST + SECOND.slice(0, 50)));
    assert.equal(f.buffered, 50);
  });
});

describe('StreamFramer: CRLF keep-alives (RFC 3261 §7.5, RFC 5626 §3.5.1)', () => {
  it('reports a double-CRLF ping on its own as a keep-alive', () => {
    assert.deepEqual(new StreamFramer().push(Buffer.from('\r\n\r\n')), [{ kind: 'keepalive' }]);
  });

  it('reports a ping split across chunks once', () => {
    const f = new StreamFramer();
    assert.deepEqual(
      [...f.push(Buffer.from('\r\n\r')), ...f.push(Buffer.from('\n'))],
      [{ kind: 'keepalive' }],
    );
  });

  it('reports pings between messages, in stream order, and skips single CRLFs', () => {
    const f = new StreamFramer();
    const events = f.push(Buffer.from(`\r\n${FIRST}\r\n\r\n${SECOND}\r\n\r\n\r\n\r\n\r\n`));
    assert.deepEqual(
      events.map((e) => e.kind),
      ['message', 'keepalive', 'message', 'keepalive', 'keepalive'],
    );
    assert.equal(f.buffered, 0);
  });

  it('does not count bare LFs as a ping', () => {
    assert.deepEqual(new StreamFramer().push(Buffer.from('\n\n\n\n')), []);
  });

  it('buffers nothing for an endless stream of line ends', () => {
    const f = new StreamFramer({ maxSize: 100 });
    for (let i = 0; i < 100; i++) f.push(Buffer.alloc(1000, '\n'));
    assert.equal(f.buffered, 0);
    assert.equal(f.failed, false);
  });
});

describe('StreamFramer: bounded; bad framing is an error value', () => {
  it('rejects a head without Content-Length (mandatory on TCP) with 400 and the head', () => {
    const m = message('REGISTER', '', [], '');
    const e = errorOf(new StreamFramer().push(Buffer.from(m)));
    assert.equal(e.status, 400);
    assert.equal(e.code, 'SMQ_ERR_SIP_PARSE');
    assert.match(e.reason, /missing Content-Length/);
    assert.equal(e.head.toString('latin1'), m);
  });

  it('rejects junk lines without Content-Length and then accepts nothing more', () => {
    const f = new StreamFramer();
    const e = errorOf(f.push(Buffer.from('hello there\r\nthis is not SIP\r\n\r\n')));
    assert.equal(e.status, 400);
    assert.equal(f.failed, true);
    assert.deepEqual(f.push(Buffer.from(FIRST)), []);
  });

  it('rejects junk without any line end once it passes maxSize, never buffering more', () => {
    const f = new StreamFramer({ maxSize: 1000 });
    const out: FramerEvent[] = [];
    for (let i = 0; i < 20 && !f.failed; i++) {
      out.push(...f.push(Buffer.alloc(100, 'x')));
      assert.ok(f.buffered <= 1100);
    }
    const e = errorOf(out);
    assert.equal(e.status, 513);
    assert.equal(e.code, 'SMQ_ERR_SIP_TOO_LARGE');
    assert.equal(e.head.length, 1000);
    assert.equal(f.buffered, 0);
  });

  it('rejects a head larger than maxSize even when it ends in the same chunk', () => {
    const big = message('REGISTER', '', [`X-Pad: ${'a'.repeat(2000)}`]);
    const e = errorOf(new StreamFramer({ maxSize: 1000 }).push(Buffer.from(big)));
    assert.equal(e.status, 513);
  });

  it('rejects a Content-Length larger than maxSize before the body arrives', () => {
    const f = new StreamFramer({ maxSize: 1000 });
    const e = errorOf(f.push(Buffer.from(message('MESSAGE', '', [], '5000'))));
    assert.equal(e.status, 513);
    assert.match(e.reason, /larger than 1000/);
  });

  it('rejects a message whose head plus body passes maxSize', () => {
    const m = message('MESSAGE', 'b'.repeat(800));
    assert.ok(m.length > 1000 && m.length - 800 < 1000);
    assert.equal(errorOf(new StreamFramer({ maxSize: 1000 }).push(Buffer.from(m))).status, 513);
    assert.deepEqual(messages(new StreamFramer({ maxSize: m.length }).push(Buffer.from(m))), [m]);
  });

  for (const [what, cl] of [
    ['negative', '-1'],
    ['signed', '+5'],
    ['fractional', '1.5'],
    ['hexadecimal', '0x10'],
    ['empty', ' '],
    ['list', '5, 5'],
    ['eleven digits', '12345678901'],
  ] as const) {
    it(`rejects a ${what} Content-Length with 400`, () => {
      const e = errorOf(new StreamFramer().push(Buffer.from(message('MESSAGE', '', [], cl))));
      assert.equal(e.status, 400);
      assert.match(e.reason, /malformed Content-Length/);
    });
  }

  it('rejects duplicate Content-Length headers that disagree', () => {
    const m = message('MESSAGE', 'abc', ['l: 30'], '3');
    const e = errorOf(new StreamFramer().push(Buffer.from(m)));
    assert.equal(e.status, 400);
    assert.match(e.reason, /conflicting/);
  });

  it('treats CR-only line ends as one unterminated line, bounded by maxSize', () => {
    const crOnly = message('REGISTER').replace(/\r\n/g, '\r');
    const f = new StreamFramer({ maxSize: 1000 });
    let out: FramerEvent[] = [];
    for (let i = 0; i < 10 && !f.failed; i++) out = out.concat(f.push(Buffer.from(crOnly)));
    assert.equal(errorOf(out).status, 513);
    assert.deepEqual(messages(out), []);
  });

  it('frames a message after a lone CR only once a real head end comes', () => {
    const f = new StreamFramer();
    assert.deepEqual(f.push(Buffer.from('\r')), []);
    assert.deepEqual(messages(f.push(Buffer.from(`\n${FIRST}`))), [FIRST]);
  });

  it('takes linear time: 20,000 one-byte chunks of an incomplete head, then a large stream', () => {
    const f = new StreamFramer({ maxSize: 65535 });
    const head = `REGISTER sip:x SIP/2.0\r\nX: ${'a'.repeat(20_000)}`;
    const started = process.hrtime.bigint();
    for (let i = 0; i < head.length; i++) f.push(Buffer.from(head[i]!));
    assert.equal(f.buffered, head.length);
    const many = Buffer.from(FIRST.repeat(5000));
    const g = new StreamFramer();
    assert.equal(messages(g.push(many)).length, 5000);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    assert.ok(ms < 2000, `took ${ms} ms`);
  });

  it('refuses a bad maxSize from our own code with TypeError', () => {
    assert.throws(() => new StreamFramer({ maxSize: 0 }), TypeError);
  });
});

describe('contentLengthOf', () => {
  it('ignores the start line and headers that only contain the name', () => {
    const head = Buffer.from('X-Content-Length: 9\r\nX-Content-Length: 4\r\nContent-Length: 2\r\n\r\n');
    assert.equal(contentLengthOf(Buffer.from(`MESSAGE l SIP/2.0\r\n${head.toString()}`)), 2);
  });
});
