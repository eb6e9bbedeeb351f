/**
 * The one-way import graph of DESIGN.md §1, checked by reading every source file:
 * `proxy` -> `rtpproxy/control.ts` -> `common`; `common` imports nothing of ours; `rtpproxy` never
 * imports `proxy`; `proxy/sip/` and `proxy/sdp/` touch no sockets and no timers. And no file over 500
 * lines (DESIGN.md §4).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';

const ROOT = resolve(import.meta.dirname, '..', '..');
const TOP = ['common', 'rtpproxy', 'proxy'] as const;
const MAX_LINES = 500;

interface Source {
  /** Path from the repository root, with forward slashes. */
  readonly path: string;
  readonly text: string;
  /** Every module specifier the file imports, re-exports, dynamically imports or requires. */
  readonly specifiers: string[];
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Comments removed, so that an import quoted in a doc comment does not count. */
function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

function specifiersOf(text: string): string[] {
  const code = stripComments(text);
  const out: string[] = [];
  const patterns = [
    /\b(?:import|export)\s+(?:type\s+)?[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const re of patterns) for (const m of code.matchAll(re)) out.push(m[1]!);
  return out;
}

const SOURCES: Source[] = TOP.flatMap((top) =>
  walk(join(ROOT, top)).map((abs) => {
    const text = readFileSync(abs, 'utf8');
    return { path: relative(ROOT, abs).split('\\').join('/'), text, specifiers: specifiersOf(text) };
  }),
);

/** The repository path a relative specifier points at, or null for a package / node: built-in. */
function target(from: Source, spec: string): string | null {
  if (!spec.startsWith('.')) return null;
  return relative(ROOT, resolve(ROOT, dirname(from.path), spec))
    .split('\\')
    .join('/');
}

function violations(
  files: Source[],
  bad: (spec: string, to: string | null) => boolean | undefined,
): string[] {
  return files.flatMap((f) =>
    f.specifiers.filter((s) => bad(s, target(f, s))).map((s) => `${f.path} imports ${s}`),
  );
}

const under = (prefix: string) => SOURCES.filter((s) => s.path.startsWith(prefix));

describe('architecture', () => {
  it('finds the sources and reads their imports (the checks below are not vacuous)', () => {
    for (const top of TOP) assert.ok(under(`${top}/`).length > 0, `${top}/ has sources`);
    const proxy = SOURCES.find((s) => s.path === 'proxy/core/sip-proxy.ts');
    assert.ok(proxy?.specifiers.includes('../sip/parse.ts'));
    assert.ok(proxy?.specifiers.includes('../../rtpproxy/control.ts'));
    assert.deepEqual(
      specifiersOf("import {\n  a,\n  b,\n} from './x.ts';\n// import './y.ts'\nexport * from \"./z.ts\";"),
      ['./x.ts', './z.ts'],
    );
  });

  it('common/ imports nothing of ours outside common/', () => {
    assert.deepEqual(
      violations(under('common/'), (_s, to) => to !== null && !to.startsWith('common/')),
      [],
    );
  });

  it('common/ uses no npm package (only node: built-ins)', () => {
    assert.deepEqual(
      violations(under('common/'), (s, to) => to === null && !s.startsWith('node:')),
      [],
    );
  });

  it('rtpproxy/ never imports proxy/', () => {
    assert.deepEqual(
      violations(under('rtpproxy/'), (_s, to) => to !== null && (to === 'proxy' || to.startsWith('proxy/'))),
      [],
    );
    assert.deepEqual(
      violations(under('rtpproxy/'), (s) => /(^|\/)proxy\//.test(s) && !s.includes('rtpproxy/')),
      [],
    );
  });

  it('rtpproxy/control.ts, the seam, imports nothing at all', () => {
    const control = SOURCES.find((s) => s.path === 'rtpproxy/control.ts');
    assert.ok(control);
    assert.deepEqual(control.specifiers, []);
  });

  it('proxy/ reaches the media side only through rtpproxy/control.ts, except where the daemon wires it', () => {
    const WIRING = new Set(['proxy/daemon.ts', 'proxy/main.ts']);
    assert.deepEqual(
      violations(
        under('proxy/').filter((f) => !WIRING.has(f.path)),
        (_s, to) => to?.startsWith('rtpproxy/') && to !== 'rtpproxy/control.ts',
      ),
      [],
    );
  });

  it('proxy/sip/ and proxy/sdp/ are pure: no sockets, no timers, no files, no processes', () => {
    const pure = [...under('proxy/sip/'), ...under('proxy/sdp/')];
    assert.ok(pure.length > 0);
    const IO =
      /^node:(dgram|net|tls|http|https|http2|timers|timers\/promises|fs|fs\/promises|child_process|worker_threads|cluster|dns)$/;
    assert.deepEqual(
      violations(
        pure,
        (s) => IO.test(s) || ['dgram', 'net', 'timers', 'fs', 'child_process', 'dns'].includes(s),
      ),
      [],
    );
    const timers = pure.flatMap((f) =>
      /\b(setTimeout|setInterval|setImmediate|queueMicrotask)\s*\(/.test(stripComments(f.text))
        ? [f.path]
        : [],
    );
    assert.deepEqual(timers, [], 'no timer calls');
    assert.deepEqual(
      violations(
        pure,
        (_s, to) =>
          to !== null &&
          !to.startsWith('proxy/sip/') &&
          !to.startsWith('proxy/sdp/') &&
          !to.startsWith('common/') &&
          to !== 'rtpproxy/control.ts',
      ),
      [],
      'sip/ and sdp/ depend only on each other, common/ and the control seam types',
    );
  });

  it('no source file is over 500 lines', () => {
    const long = SOURCES.flatMap((f) => {
      const lines = f.text.split('\n').length - (f.text.endsWith('\n') ? 1 : 0);
      return lines > MAX_LINES ? [`${f.path}: ${lines} lines`] : [];
    });
    assert.deepEqual(long, []);
  });

  it('every relative import names an existing .ts file', () => {
    const known = new Set(SOURCES.map((s) => s.path));
    const missing = SOURCES.flatMap((f) =>
      f.specifiers.flatMap((s) => {
        const to = target(f, s);
        return to !== null && !known.has(to) ? [`${f.path} imports ${s}`] : [];
      }),
    );
    assert.deepEqual(missing, []);
  });
});
