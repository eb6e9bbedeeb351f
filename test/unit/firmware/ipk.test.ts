/**
 * `npm run ipk` (scripts/ipk.mjs): the .ipk is opkg's gzip'd tar of ./debian-binary, ./control.tar.gz
 * and ./data.tar.gz; read back with our own reader and cross-checked with the system tar. When the
 * daemon's entry point does not exist yet, a placeholder bundle is used from the test's temp dir only.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { readTarGz, type TarEntry } from './tar-reader.ts';

/** A temp dir removed when the test process exits. */
const madeDirs: string[] = [];
process.on('exit', () => {
  for (const d of madeDirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  madeDirs.push(d);
  return d;
}

const REPO = join(import.meta.dirname, '..', '..', '..');
const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
const EPOCH = '1700000000';

const DATA_FILES: Record<string, number> = {
  './usr/share/sipmasq/sipmasq.mjs': 0o644,
  './usr/share/sipmasq/firewall.sh': 0o755,
  './usr/bin/sipmasq': 0o755,
  './etc/init.d/sipmasq': 0o755,
  './etc/config/sipmasq': 0o600,
  './etc/hotplug.d/iface/40-sipmasq': 0o644,
  './etc/uci-defaults/90-sipmasq': 0o755,
  './usr/share/nftables.d/table-post/sipmasq.nft': 0o644,
  './usr/share/nftables.d/chain-pre/input/sipmasq.nft': 0o644,
  './usr/share/nftables.d/chain-pre/forward/sipmasq.nft': 0o644,
  './usr/share/nftables.d/chain-pre/dstnat/sipmasq.nft': 0o644,
  './usr/share/nftables.d/chain-pre/srcnat/sipmasq.nft': 0o644,
};

interface Built {
  readonly file: string;
  readonly bytes: Buffer;
  readonly bundle: Buffer;
}

function build(out: string): Built {
  const args = [join(REPO, 'scripts', 'ipk.mjs'), '--out', out];
  let bundlePath = join(REPO, 'dist', 'sipmasq.mjs');
  if (!existsSync(join(REPO, 'proxy', 'main.ts'))) {
    bundlePath = join(out, 'placeholder-bundle.mjs');
    writeFileSync(bundlePath, '#!/usr/bin/env node\n// test placeholder: proxy/main.ts does not exist yet\n');
    args.push('--bundle', bundlePath);
  }
  const res = spawnSync(process.execPath, args, {
    cwd: REPO,
    encoding: 'utf8',
    env: { ...process.env, SOURCE_DATE_EPOCH: EPOCH },
  });
  assert.equal(res.status, 0, `ipk.mjs failed: ${res.stdout}${res.stderr}`);
  const name = readdirSync(out).find((f) => f.endsWith('.ipk'));
  assert.ok(name, 'an .ipk is written');
  const file = join(out, name);
  return { file, bytes: readFileSync(file), bundle: readFileSync(bundlePath) };
}

const byName = (entries: TarEntry[]): Map<string, TarEntry> => new Map(entries.map((e) => [e.name, e]));

function fields(control: string): Map<string, string> {
  const out = new Map<string, string>();
  let last = '';
  for (const line of control.split('\n')) {
    if (line.startsWith(' ')) out.set(last, `${out.get(last)}\n${line.slice(1)}`);
    else if (line) {
      const i = line.indexOf(': ');
      last = line.slice(0, i);
      out.set(last, line.slice(i + 2));
    }
  }
  return out;
}

describe('sipmasq .ipk', () => {
  let built: Built;
  let outer: TarEntry[];
  let control: Map<string, TarEntry>;
  let data: Map<string, TarEntry>;

  before(() => {
    built = build(tempDir('sipmasq-ipk-'));
    outer = readTarGz(built.bytes);
    control = byName(readTarGz(outer.find((e) => e.name === './control.tar.gz')!.data));
    data = byName(readTarGz(outer.find((e) => e.name === './data.tar.gz')!.data));
  });

  it('is named sipmasq_<version>_all.ipk', () => {
    assert.match(built.file, new RegExp(`/sipmasq_${VERSION.replaceAll('.', '\\.')}-r\\d+_all\\.ipk$`));
  });

  it("is a gzip'd tar of ./debian-binary, ./control.tar.gz, ./data.tar.gz (opkg's form, not ar)", () => {
    assert.deepEqual(built.bytes.subarray(0, 2), Buffer.from([0x1f, 0x8b]));
    assert.deepEqual(
      outer.map((e) => e.name),
      ['./debian-binary', './control.tar.gz', './data.tar.gz'],
    );
    assert.equal(outer[0]?.data.toString(), '2.0\n');
  });

  it('has every entry in ustar format, owned by root (0:0), with the fixed mtime', () => {
    for (const e of [...outer, ...control.values(), ...data.values()]) {
      assert.equal(e.magic, 'ustar/00', e.name);
      assert.equal(e.uid, 0, e.name);
      assert.equal(e.gid, 0, e.name);
      assert.equal(e.uname, 'root', e.name);
      assert.equal(e.gname, 'root', e.name);
      assert.equal(e.mtime, Number(EPOCH), e.name);
    }
  });

  it('has the control fields opkg and OpenWrt expect', () => {
    const f = fields(control.get('./control')!.data.toString());
    assert.equal(f.get('Package'), 'sipmasq');
    assert.match(f.get('Version') ?? '', new RegExp(`^${VERSION.replaceAll('.', '\\.')}-r\\d+$`));
    assert.equal(f.get('Architecture'), 'all');
    assert.equal(f.get('Depends'), 'node, nftables | iptables');
    assert.equal(f.get('License'), 'GPL-2.0-only');
    assert.equal(f.get('Section'), 'net');
    assert.match(f.get('Maintainer') ?? '', /^.+ <.+@.+>$/);
    assert.ok(f.get('Source'));
    const size = [...data.values()].reduce((n, e) => n + e.data.length, 0);
    assert.equal(f.get('Installed-Size'), String(size));
    assert.match(f.get('Description') ?? '', /^SIP masquerading .*\n.+/);
  });

  it('lists the UCI config as a conffile', () => {
    assert.equal(control.get('./conffiles')?.data.toString(), '/etc/config/sipmasq\n');
    assert.equal(data.get('./etc/config/sipmasq')?.type, 'file');
  });

  it('has executable postinst/prerm following default_postinst/default_prerm, and the package parts', () => {
    for (const s of ['./postinst', './prerm', './postinst-pkg', './prerm-pkg', './postrm']) {
      assert.equal(control.get(s)?.mode, 0o755, s);
      assert.match(control.get(s)!.data.toString(), /^#!\/bin\/sh\n/, s);
    }
    assert.match(control.get('./postinst')!.data.toString(), /default_postinst \$0 \$@/);
    assert.match(control.get('./postinst')!.data.toString(), /IPKG_NO_SCRIPT/);
    assert.match(control.get('./prerm')!.data.toString(), /default_prerm \$0 \$@/);
    const postinst = control.get('./postinst-pkg')!.data.toString();
    assert.match(
      postinst,
      /\[ -z "\$\{IPKG_INSTROOT\}" \]/,
      'does nothing live while an image is being built',
    );
    assert.equal(
      control.get('./postinst-pkg')?.data.toString(),
      readFileSync(join(REPO, 'firmware/sipmasq/files/postinst-pkg'), 'utf8'),
    );
  });

  it('installs exactly the package files, with their modes, below directories that are 0755', () => {
    const files = [...data.values()].filter((e) => e.type === 'file');
    assert.deepEqual(Object.fromEntries(files.map((e) => [e.name, e.mode])), DATA_FILES);
    for (const e of data.values()) if (e.type === 'dir') assert.equal(e.mode, 0o755, e.name);
    for (const name of Object.keys(DATA_FILES)) {
      const parts = name.split('/');
      for (let i = 1; i < parts.length; i++)
        assert.equal(data.get(`${parts.slice(0, i).join('/')}/`)?.type, 'dir');
    }
  });

  it('ships the bundle it was given and the files from firmware/sipmasq/files unchanged', () => {
    assert.deepEqual(data.get('./usr/share/sipmasq/sipmasq.mjs')?.data, built.bundle);
    assert.deepEqual(
      data.get('./etc/init.d/sipmasq')?.data,
      readFileSync(join(REPO, 'firmware/sipmasq/files/sipmasq.init')),
    );
    assert.deepEqual(
      data.get('./etc/config/sipmasq')?.data,
      readFileSync(join(REPO, 'firmware/sipmasq/files/sipmasq.config')),
    );
  });

  it('reads the same with the system tar', {
    skip: spawnSync('tar', ['--version']).status !== 0 && 'no tar',
  }, () => {
    const dir = tempDir('sipmasq-ipk-x-');
    const list = spawnSync('tar', ['-tzf', built.file], { encoding: 'utf8' });
    assert.equal(list.status, 0, list.stderr);
    assert.deepEqual(list.stdout.trim().split('\n'), [
      './debian-binary',
      './control.tar.gz',
      './data.tar.gz',
    ]);
    assert.equal(spawnSync('tar', ['-xzf', built.file, '-C', dir]).status, 0);
    const inner = spawnSync('tar', ['-tvzf', join(dir, 'data.tar.gz')], { encoding: 'utf8' });
    assert.equal(inner.status, 0, inner.stderr);
    const lines = inner.stdout.trim().split('\n');
    assert.equal(lines.length, data.size);
    assert.ok(
      lines.every((l) => /^\S+ root\/root /.test(l)),
      'root/root',
    );
    assert.ok(lines.some((l) => l.startsWith('-rwxr-xr-x root/root') && l.endsWith(' ./etc/init.d/sipmasq')));
    const ctl = spawnSync('tar', ['-xzOf', join(dir, 'control.tar.gz'), './control'], { encoding: 'utf8' });
    assert.match(ctl.stdout, /^Package: sipmasq$/m);
  });

  it('is byte-for-byte reproducible', () => {
    const again = build(tempDir('sipmasq-ipk-'));
    assert.ok(again.bytes.equals(built.bytes));
  });
});
