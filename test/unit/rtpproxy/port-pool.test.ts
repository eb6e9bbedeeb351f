import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../../common/clock.ts';
import { isSipmasqError } from '../../../common/errors.ts';
import { PortPool } from '../../../rtpproxy/relay/port-pool.ts';

const ok = async (port: number): Promise<number> => port;
const inUse = (busy: number[]) => async (port: number) => {
  if (busy.includes(port)) throw Object.assign(new Error('bind EADDRINUSE'), { code: 'EADDRINUSE' });
  return port;
};

function pool(random: () => number, portMin = 10_000, portMax = 10_009, cooldownMs = 30_000) {
  return new PortPool({ portMin, portMax, clock: new ManualClock(), random, cooldownMs });
}

describe('PortPool', () => {
  it('starts the search at a random even port in the range', async () => {
    assert.equal((await pool(() => 0).acquire(ok)).port, 10_000);
    assert.equal((await pool(() => 0.5).acquire(ok)).port, 10_004);
    assert.equal((await pool(() => 0.9999).acquire(ok)).port, 10_008);
  });

  it('uses only even RTP ports whose odd partner is inside the range', async () => {
    const p = pool(() => 0, 10_001, 10_006);
    assert.equal(p.capacity, 2);
    const ports = [(await p.acquire(ok)).port, (await p.acquire(ok)).port];
    assert.deepEqual(ports.sort(), [10_002, 10_004]);
    await assert.rejects(p.acquire(ok), (e) => isSipmasqError(e, 'SMQ_ERR_PORTS_EXHAUSTED'));
  });

  it('wraps around the end of the range', async () => {
    const p = pool(() => 0.9999);
    assert.equal((await p.acquire(ok)).port, 10_008);
    assert.equal((await p.acquire(ok)).port, 10_000);
  });

  it('skips pairs whose bind fails with EADDRINUSE', async () => {
    const p = pool(() => 0);
    assert.equal((await p.acquire(inUse([10_000, 10_002]))).port, 10_004);
    assert.equal(p.used, 1);
  });

  it('rethrows bind errors other than "in use" and keeps the pair free', async () => {
    const p = pool(() => 0);
    const fail = async (): Promise<number> => {
      throw Object.assign(new Error('bind EADDRNOTAVAIL'), { code: 'EADDRNOTAVAIL' });
    };
    await assert.rejects(p.acquire(fail), { code: 'EADDRNOTAVAIL' });
    assert.equal(p.used, 0);
  });

  it('throws SMQ_ERR_PORTS_EXHAUSTED when every pair is used or unbindable', async () => {
    const p = pool(() => 0);
    for (let i = 0; i < 4; i++) await p.acquire(ok);
    await assert.rejects(p.acquire(inUse([10_000, 10_002, 10_004, 10_006, 10_008])), (e) =>
      isSipmasqError(e, 'SMQ_ERR_PORTS_EXHAUSTED'),
    );
    assert.equal(p.used, 4);
  });

  it('returns released pairs to the pool', async () => {
    const p = pool(() => 0);
    const got: number[] = [];
    for (let i = 0; i < 5; i++) got.push((await p.acquire(ok)).port);
    p.release(10_004);
    p.release(10_004); // twice is harmless
    p.release(12_345); // unknown is ignored
    assert.equal(p.used, 4);
    assert.equal((await p.acquire(ok)).port, 10_004);
  });

  it('avoids a just-released pair while other pairs are free', async () => {
    const clock = new ManualClock();
    const p = new PortPool({ portMin: 10_000, portMax: 10_009, clock, random: () => 0, cooldownMs: 10_000 });
    const { port } = await p.acquire(ok);
    assert.equal(port, 10_000);
    p.release(port);
    assert.equal((await p.acquire(ok)).port, 10_002);
    clock.advance(10_000);
    assert.equal((await p.acquire(ok)).port, 10_000); // cooled down
  });

  it('falls back to the pair released longest ago when all free pairs are cooling down', async () => {
    const clock = new ManualClock();
    const p = new PortPool({ portMin: 10_000, portMax: 10_005, clock, random: () => 0 });
    for (let i = 0; i < 3; i++) await p.acquire(ok);
    p.release(10_004);
    clock.advance(1);
    p.release(10_000);
    assert.equal((await p.acquire(ok)).port, 10_004);
    assert.equal((await p.acquire(ok)).port, 10_000);
  });

  it('hands each pair out once under concurrent acquisition', async () => {
    const p = pool(() => 0);
    const slow = (port: number) => new Promise<number>((r) => setTimeout(() => r(port), 5));
    const ports = (await Promise.all([1, 2, 3, 4, 5].map(() => p.acquire(slow)))).map((r) => r.port);
    assert.equal(new Set(ports).size, 5);
  });

  it('rejects a range without a pair', () => {
    assert.throws(() => pool(() => 0, 10_001, 10_001), TypeError);
    assert.throws(() => pool(() => 0, 0, 10), TypeError);
  });

  it('claims one given pair for an adopted stream, and never an odd, foreign or used one', async () => {
    const p = new PortPool({ portMin: 10_000, portMax: 10_009, clock: new ManualClock(), random: () => 0 });
    assert.equal(p.claim(10_004), true);
    assert.equal(p.claim(10_004), false);
    assert.equal(p.claim(10_005), false);
    assert.equal(p.claim(10_010), false);
    assert.equal(p.claim(9_998), false);
    const got: number[] = [];
    for (let i = 0; i < 4; i++) got.push((await p.acquire(async (port) => port)).port);
    assert.ok(!got.includes(10_004));
    p.release(10_004);
    assert.equal(p.used, 4);
  });
});
