/**
 * Fuzz target for the SIP parser: seeded mutations of the RFC 4475 fixtures must never make
 * parseMessage throw, and every result must be well formed. A longer run:
 *   SIP_FUZZ_ITERATIONS=1000000 SIP_FUZZ_SEED=7 node --import tsx --test test/unit/fuzz/sip-parse.fuzz.test.ts
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { SipMessage } from '../../../proxy/sip/message.ts';
import { type ParseResult, parseMessage } from '../../../proxy/sip/parse.ts';
import { serializeMessage } from '../../../proxy/sip/serialize.ts';
import { createRng, mutate } from './sip-mutator.ts';

const ITERATIONS = Number(process.env.SIP_FUZZ_ITERATIONS ?? 20_000);
const SEED = Number(process.env.SIP_FUZZ_SEED ?? 4475);
const DIR = new URL('../../fixtures/sip/rfc4475/', import.meta.url);
const seeds = readdirSync(DIR)
  .filter((f) => f.endsWith('.sip'))
  .sort()
  .map((f) => readFileSync(new URL(f, DIR)));

function checkMessage(msg: SipMessage): void {
  assert.ok(msg.type === 'request' || msg.type === 'response');
  if (msg.type === 'request') {
    assert.equal(typeof msg.method, 'string');
    assert.ok(msg.method.length > 0);
    assert.equal(typeof msg.uri, 'string');
  } else {
    assert.ok(Number.isInteger(msg.status) && msg.status >= 100 && msg.status <= 699);
    assert.equal(typeof msg.reason, 'string');
  }
  assert.ok(Buffer.isBuffer(msg.body));
  for (const h of msg.headers) {
    assert.equal(typeof h.name, 'string');
    assert.equal(typeof h.value, 'string');
    assert.ok(!/[\r\n]/.test(h.value), 'no line ends in values');
    assert.equal(h.name, h.name.toLowerCase());
  }
}

function checkResult(r: ParseResult, input: Buffer): void {
  assert.equal(typeof r.ok, 'boolean');
  if (r.ok) {
    checkMessage(r.msg);
    // An accepted message serialises and parses again to the same message.
    const out = serializeMessage(r.msg);
    const again = parseMessage(out);
    assert.ok(
      again.ok,
      `re-parse failed: ${again.ok ? '' : again.error.reason}\n${JSON.stringify(input.toString('latin1'))}`,
    );
    const fields = (m: SipMessage) =>
      JSON.stringify([
        m.type,
        ...m.headers.filter((h) => h.name !== 'content-length').map((h) => [h.name, h.value]),
      ]);
    assert.equal(fields(again.msg), fields(r.msg));
    assert.ok(again.msg.body.equals(r.msg.body));
    assert.ok(serializeMessage(again.msg).equals(out), 'serialize is idempotent');
    return;
  }
  const e = r.error;
  assert.ok(e.code === 'SMQ_ERR_SIP_PARSE' || e.code === 'SMQ_ERR_SIP_TOO_LARGE');
  assert.ok(typeof e.reason === 'string' && e.reason.length > 0);
  assert.ok(!e.reason.startsWith('internal'), `${e.reason}\n${JSON.stringify(input.toString('latin1'))}`);
  assert.ok([0, 400, 505, 513].includes(e.status), `status ${e.status}`);
  assert.equal(e.partial !== null, e.status !== 0);
  if (e.partial) {
    checkMessage(e.partial);
    assert.equal(e.partial.type, 'request');
    assert.notEqual(e.partial.method, 'ACK');
  }
}

describe('SIP parser fuzz', () => {
  it(`survives ${ITERATIONS} seeded mutations (seed ${SEED}) with well-formed results`, () => {
    const rng = createRng(SEED);
    let accepted = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      const input = mutate(seeds[i % seeds.length]!, rng);
      let r: ParseResult;
      try {
        r = parseMessage(input);
      } catch (err) {
        assert.fail(`iteration ${i} threw ${String(err)} on ${JSON.stringify(input.toString('latin1'))}`);
      }
      checkResult(r, input);
      if (r.ok) accepted++;
    }
    // Mutations of valid messages must not all be rejected (the fuzzer would test only the error path).
    assert.ok(accepted > ITERATIONS / 20, `only ${accepted} accepted`);
  });

  it('survives the seed messages under tiny size limits', () => {
    for (const s of seeds)
      for (const maxSize of [1, 10, 100, 300]) checkResult(parseMessage(s, { maxSize }), s);
  });
});
