/**
 * Seeded mutations of SIP messages for the parser fuzz target. Deterministic for a given seed, so a
 * failure can be replayed: `SIP_FUZZ_SEED=<n> SIP_FUZZ_ITERATIONS=<n> node --import tsx --test ...`.
 */

export type Rng = () => number;

/** mulberry32: a small, fast, seedable PRNG returning floats in [0, 1). */
export function createRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function int(rng: Rng, n: number): number {
  return Math.floor(rng() * n);
}

const TOKENS = [
  '\r',
  '\n',
  '\r\n',
  ':',
  ';',
  '<',
  '>',
  '"',
  ',',
  '\\',
  ' ',
  '\t',
  '%',
  '[',
  ']',
  '@',
  '=',
  '/',
  '?',
  '*',
  '\0',
  '\r\n ',
  '\r\n\r\n',
  'SIP/2.0',
  'Content-Length: 99\r\n',
  'v: ',
  '\u00ff',
  '\ud800',
];
const NUMBERS = ['0', '-1', '4294967296', '99999999999999999999', '65536', '2147483648', '256', '007', ''];

type Mutation = (buf: Buffer, rng: Rng) => Buffer;

const mutations: Mutation[] = [
  // flip one bit
  (b, r) => {
    if (b.length === 0) return b;
    const c = Buffer.from(b);
    const i = int(r, c.length);
    c[i] = c[i]! ^ (1 << int(r, 8));
    return c;
  },
  // set a random byte
  (b, r) => {
    if (b.length === 0) return b;
    const c = Buffer.from(b);
    c[int(r, c.length)] = int(r, 256);
    return c;
  },
  // truncate
  (b, r) => b.subarray(0, int(r, b.length + 1)),
  // delete a slice
  (b, r) => {
    const i = int(r, b.length + 1);
    const j = Math.min(b.length, i + 1 + int(r, 40));
    return Buffer.concat([b.subarray(0, i), b.subarray(j)]);
  },
  // duplicate a slice in place
  (b, r) => {
    const i = int(r, b.length + 1);
    const j = Math.min(b.length, i + 1 + int(r, 200));
    return Buffer.concat([b.subarray(0, j), b.subarray(i, j), b.subarray(j)]);
  },
  // insert a structural token
  (b, r) => {
    const i = int(r, b.length + 1);
    return Buffer.concat([b.subarray(0, i), Buffer.from(TOKENS[int(r, TOKENS.length)]!), b.subarray(i)]);
  },
  // duplicate or drop a whole line
  (b, r) => {
    const lines = b.toString('latin1').split('\r\n');
    const i = int(r, lines.length);
    if (r() < 0.5) lines.splice(i, 0, lines[i] ?? '');
    else lines.splice(i, 1);
    return Buffer.from(lines.join('\r\n'), 'latin1');
  },
  // replace a run of digits with an edge-case number
  (b, r) => {
    const text = b.toString('latin1');
    const runs = [...text.matchAll(/[0-9]+/g)];
    const m = runs[int(r, runs.length)];
    if (!m || m.index === undefined) return b;
    const n = NUMBERS[int(r, NUMBERS.length)]!;
    return Buffer.from(text.slice(0, m.index) + n + text.slice(m.index + m[0].length), 'latin1');
  },
  // whitespace: usually a little, rarely a lot (up to ~60 KB)
  (b, r) => {
    const i = int(r, b.length + 1);
    const size = r() < 0.02 ? 1000 + int(r, 60_000) : 1 + int(r, 64);
    const ws = Buffer.alloc(size, r() < 0.5 ? 0x20 : 0x09);
    return Buffer.concat([b.subarray(0, i), ws, b.subarray(i)]);
  },
];

/** Applies 1 to 4 random mutations to a copy of `seed`. */
export function mutate(seed: Buffer, rng: Rng): Buffer {
  let out = seed;
  const n = 1 + int(rng, 4);
  for (let k = 0; k < n; k++) out = mutations[int(rng, mutations.length)]!(out, rng);
  return out;
}
