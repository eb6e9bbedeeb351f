/**
 * Golden files: every test/fixtures/sdp/NAME.in.sdp rewritten by NAME.plan.json must equal NAME.out.sdp byte
 * for byte. The expected outputs were written by hand from the rules in proxy/sdp/rewrite.ts.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { isHoldAddress } from '../../../../proxy/sdp/connection-address.ts';
import { rewriteSdp, type SdpRewritePlan } from '../../../../proxy/sdp/rewrite.ts';
import { parseSdp, type SdpMedia } from '../../../../proxy/sdp/sdp-info.ts';

const dir = new URL('../../../fixtures/sdp/', import.meta.url);
const names = readdirSync(dir)
  .filter((f) => f.endsWith('.in.sdp'))
  .map((f) => f.slice(0, -'.in.sdp'.length))
  .sort();

function load(name: string): { input: string; plan: SdpRewritePlan; expected: string } {
  return {
    input: readFileSync(new URL(`${name}.in.sdp`, dir), 'utf8'),
    plan: JSON.parse(readFileSync(new URL(`${name}.plan.json`, dir), 'utf8')) as SdpRewritePlan,
    expected: readFileSync(new URL(`${name}.out.sdp`, dir), 'utf8'),
  };
}

describe('SDP rewrite golden files', () => {
  it('finds the fixtures', () => {
    assert.ok(names.length >= 20, `only ${names.length} fixtures found`);
  });

  for (const name of names) {
    it(`${name}: output equals the golden file byte for byte`, () => {
      const { input, plan, expected } = load(name);
      assert.equal(rewriteSdp(input, plan), expected);
    });

    it(`${name}: input and output parse, and the output says what the plan says`, () => {
      const { input, plan, expected } = load(name);
      const before = parseSdp(input);
      const after = parseSdp(expected);
      if (!before.ok) return assert.fail(`input: ${before.reason}`);
      if (!after.ok) return assert.fail(`output: ${after.reason}`);
      assert.equal(after.sdp.media.length, before.sdp.media.length);
      for (const p of plan.media) {
        const was: SdpMedia = before.sdp.media[p.index]!;
        const now: SdpMedia = after.sdp.media[p.index]!;
        assert.equal(now.port, was.port === 0 ? 0 : p.port, `media ${p.index} port`);
        const held = was.addr !== null && isHoldAddress(was.addr);
        if (was.port !== 0) assert.equal(now.addr, held ? was.addr : p.addr, `media ${p.index} addr`);
        assert.equal(now.direction, was.direction, `media ${p.index} direction`);
        assert.equal(now.rtcpMux, was.rtcpMux, `media ${p.index} rtcp-mux`);
        if (was.port !== 0 && !now.rtcpMux)
          assert.equal(now.rtcpPort, p.rtcpPort, `media ${p.index} rtcp port`);
      }
      for (const [i, was] of before.sdp.media.entries()) {
        if (plan.media.some((p) => p.index === i)) continue;
        const now: SdpMedia = after.sdp.media[i]!;
        // a disabled stream's address means nothing (RFC 3264 §6), so only an enabled one must keep it
        const addr = (m: SdpMedia) => (m.port === 0 ? null : m.addr);
        assert.deepEqual(
          { ...now, addr: addr(now) },
          { ...was, addr: addr(was) },
          `unplanned media ${i} keeps its meaning`,
        );
      }
      if (plan.originAddr !== undefined) assert.equal(after.sdp.originAddr, plan.originAddr);
      else assert.equal(after.sdp.originAddr, before.sdp.originAddr);
    });

    it(`${name}: no ICE line survives unless removeIce is false`, () => {
      const { plan, expected } = load(name);
      const ice = /^a=(candidate|ice-|remote-candidates|end-of-candidates)/m.test(expected);
      assert.equal(ice, plan.removeIce === false);
    });

    it(`${name}: rewriting is idempotent`, () => {
      const { plan, expected } = load(name);
      assert.equal(rewriteSdp(expected, plan), expected);
    });
  }
});
