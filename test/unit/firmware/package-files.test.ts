/**
 * The OpenWrt package's pieces agree with each other and with the daemon: the feed Makefile installs
 * what `npm run ipk` ships (same paths and modes) and carries the same control scripts; the UCI
 * options are the same in the shipped config, the init script's validation and the README; the JSON
 * the init script writes has exactly the keys of proxy/config.ts; the versions match.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { OPTIONS } from '../../../proxy/config.ts';

const REPO = join(import.meta.dirname, '..', '..', '..');
const PKG = join(REPO, 'firmware', 'sipmasq');
const read = (...p: string[]): string => readFileSync(join(...p), 'utf8');
const makefile = read(PKG, 'Makefile');
const init = read(PKG, 'files', 'sipmasq.init');
const uci = read(PKG, 'files', 'sipmasq.config');
const ipk = read(REPO, 'scripts', 'ipk.mjs');

function define(name: string): string {
  const m = new RegExp(`^define ${name.replaceAll('/', '\\/')}\\n([\\s\\S]*?)^endef`, 'm').exec(makefile);
  assert.ok(m, `Makefile defines ${name}`);
  return m[1] ?? '';
}

/** ['option', 'datatype', 'default'] from sipmasq_validate's tuples. */
const tuples = [...init.matchAll(/^\t\t'([a-z_]+):(.+?)(?::([^:']*))?' ?\\?$/gm)].map((m) => [
  m[1] ?? '',
  m[2] ?? '',
  m[3],
]);

describe('OpenWrt package consistency', () => {
  it('has the Makefile version of package.json', () => {
    const version = (JSON.parse(read(REPO, 'package.json')) as { version: string }).version;
    assert.equal(/^PKG_VERSION:=(.*)$/m.exec(makefile)?.[1], version);
  });

  it('installs in the Makefile every file the .ipk ships, with the same mode', () => {
    const shipped = [...ipk.matchAll(/\[(?:BUNDLE|'([^']+)'), '([^']+)', 0o(\d+)\]/g)].map((m) => ({
      src: m[1],
      dest: m[2] ?? '',
      mode: m[3],
    }));
    assert.equal(shipped.length, 12);
    const installs = define('Package/sipmasq/install');
    for (const f of shipped) {
      const line = installs.split('\n').find((l) => l.trimEnd().endsWith(`$(1)${f.dest}`));
      assert.ok(line, `Makefile installs ${f.dest}`);
      const macro = { '755': 'INSTALL_BIN', '644': 'INSTALL_DATA', '600': 'INSTALL_CONF' }[f.mode ?? ''];
      assert.ok(line.includes(`$(${macro})`), `${f.dest} installed with ${macro}`);
      if (f.src) assert.ok(line.includes(`./files/${f.src} `), `${f.dest} from files/${f.src}`);
    }
    assert.equal(
      installs.split('\n').filter((l) => /\$\(INSTALL_(BIN|DATA|CONF)\)/.test(l)).length,
      shipped.length,
    );
    assert.equal(define('Package/sipmasq/conffiles').trim(), '/etc/config/sipmasq');
  });

  it('carries the same package scripts in the Makefile and in files/ (used by the .ipk)', () => {
    for (const [def, file] of [
      ['Package/sipmasq/postinst', 'postinst-pkg'],
      ['Package/sipmasq/prerm', 'prerm-pkg'],
      ['Package/sipmasq/postrm', 'postrm'],
    ] as const)
      assert.equal(define(def).replaceAll('$$', '$'), read(PKG, 'files', file), def);
  });

  it('validates in the init script exactly the options of the shipped UCI config', () => {
    const shipped = [...uci.matchAll(/^\s*#?\s*(?:option|list) ([a-z_]+) /gm)].map((m) => m[1]);
    assert.deepEqual([...new Set(shipped)].sort(), tuples.map((t) => t[0]).sort());
    const listed = /SIPMASQ_OPTIONS='([^']*)'/.exec(init)?.[1]?.split(/\s+/).filter(Boolean);
    assert.deepEqual(
      listed,
      tuples.map((t) => t[0]),
    );
  });

  it('ships UCI values equal to the validation defaults', () => {
    for (const [opt, , def] of tuples) {
      const m = new RegExp(`^\\s*(?:option|list) ${opt} '([^']*)'`, 'm').exec(uci);
      if (def !== undefined && m) assert.equal(m[1], def, opt);
    }
  });

  it('writes JSON with exactly the keys of proxy/config.ts, in its order', () => {
    const keys = [...init.matchAll(/printf ' {2}"([A-Za-z]+)": /g)].map((m) => m[1]);
    assert.deepEqual(
      keys,
      OPTIONS.map((o) => o.key),
    );
  });

  it('documents every UCI option in the README (OpenWrt section)', () => {
    const readme = read(REPO, 'README.md');
    for (const [opt] of tuples) assert.match(readme, new RegExp(`^\\| \`${opt}\` \\|`, 'm'), opt);
  });
});
