#!/usr/bin/env node
// Build: one ES2022 bundle for Node 20, dist/sipmasq.mjs. better-sqlite3 stays external (native module);
// sipmasq runs memory-only when it is absent. `--check` also runs the type checker first.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8'));
if (process.argv.includes('--check'))
  execFileSync(`${root}node_modules/.bin/tsc`, ['--noEmit'], { cwd: root, stdio: 'inherit' });

await build({
  entryPoints: [`${root}proxy/main.ts`],
  outfile: `${root}dist/sipmasq.mjs`,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['better-sqlite3'],
  define: { SIPMASQ_VERSION: JSON.stringify(pkg.version) },
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __smqCreateRequire } from 'node:module';\nconst require = __smqCreateRequire(import.meta.url);",
  },
  legalComments: 'none',
  logLevel: 'warning',
});
console.log(`built dist/sipmasq.mjs (sipmasq ${pkg.version})`);
