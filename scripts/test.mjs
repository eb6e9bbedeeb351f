#!/usr/bin/env node
// Test runner: `npm test` runs unit, integration and e2e suites with node:test through tsx.
// `npm test -- unit` (or integration, e2e) runs one suite; further arguments filter files by substring.
// Node 20 does not expand globs for --test, so the files are found here.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const SUITES = ['unit', 'integration', 'e2e'];
const args = process.argv.slice(2);
const suites = args.filter((a) => SUITES.includes(a));
const filters = args.filter((a) => !SUITES.includes(a));
const chosen = suites.length ? suites : SUITES;

function find(dir) {
  let out = [];
  let entries = [];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = join(dir, e);
    if (e === 'node_modules' || e.startsWith('.')) continue;
    if (statSync(p).isDirectory()) out = out.concat(find(p));
    else if (/\.test\.(ts|mjs)$/.test(e)) out.push(p);
  }
  return out.sort();
}

let failed = false;
if (chosen.includes('e2e')) {
  // The end-to-end tests run the bundle, as it ships.
  const built = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], {
    cwd: root,
    stdio: 'inherit',
  });
  if (built.status !== 0) process.exit(1);
}
for (const suite of chosen) {
  const files = find(join(root, 'test', suite)).filter((f) => filters.every((x) => f.includes(x)));
  if (files.length === 0) continue;
  console.log(`\n# suite ${suite}: ${files.length} file(s)`);
  // e2e tests share the network-namespace lab: run them one at a time.
  const concurrency = suite === 'e2e' ? '1' : '2';
  const res = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      `--test-concurrency=${concurrency}`,
      '--test-reporter=spec',
      ...files.map((f) => relative(root, f)),
    ],
    { cwd: root, stdio: 'inherit', env: { ...process.env, SIPMASQ_TEST: '1' } },
  );
  if (res.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
