#!/usr/bin/env node
// `npm run ipk`: an installable OpenWrt package without the SDK. Builds the bundle (scripts/build.mjs),
// then writes dist/sipmasq_<version>_all.ipk in opkg's format: a gzip'd tar of ./debian-binary,
// ./control.tar.gz and ./data.tar.gz (OpenWrt's opkg does not read Debian's `ar` form).
// Package fields come from firmware/sipmasq/Makefile (the feed package) and package.json, the files
// from firmware/sipmasq/files/, installed at the same paths and modes as the Makefile installs them.
// The control scripts follow the SDK's: postinst/prerm call default_postinst/default_prerm from
// /lib/functions.sh (enable+start / stop+disable the init script, run the uci-defaults), which in
// turn run the package-specific postinst-pkg/prerm-pkg.
//
//   node scripts/ipk.mjs [--bundle FILE] [--out DIR]
//     --bundle FILE  use this bundle instead of building dist/sipmasq.mjs (tests)
//     --out DIR      where to write the .ipk (default: dist/)
// Timestamps: $SOURCE_DATE_EPOCH, else the last commit's time, else 0: the same tree gives the same bytes.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzip, tar, withParents } from './lib/tar.mjs';

const root = new URL('..', import.meta.url).pathname;
const pkgDir = join(root, 'firmware', 'sipmasq');
const files = join(pkgDir, 'files');

/** [source (relative to files/, or BUNDLE), destination, mode]: the Makefile's Package/sipmasq/install. */
const BUNDLE = Symbol('bundle');
const DATA = [
  [BUNDLE, '/usr/share/sipmasq/sipmasq.mjs', 0o644],
  ['firewall.sh', '/usr/share/sipmasq/firewall.sh', 0o755],
  ['sipmasq.wrapper', '/usr/bin/sipmasq', 0o755],
  ['sipmasq.init', '/etc/init.d/sipmasq', 0o755],
  ['sipmasq.config', '/etc/config/sipmasq', 0o600],
  ['sipmasq.hotplug', '/etc/hotplug.d/iface/40-sipmasq', 0o644],
  ['sipmasq.uci-defaults', '/etc/uci-defaults/90-sipmasq', 0o755],
  ['nftables.d/table-post/sipmasq.nft', '/usr/share/nftables.d/table-post/sipmasq.nft', 0o644],
  ['nftables.d/chain-pre/input/sipmasq.nft', '/usr/share/nftables.d/chain-pre/input/sipmasq.nft', 0o644],
  ['nftables.d/chain-pre/forward/sipmasq.nft', '/usr/share/nftables.d/chain-pre/forward/sipmasq.nft', 0o644],
  ['nftables.d/chain-pre/dstnat/sipmasq.nft', '/usr/share/nftables.d/chain-pre/dstnat/sipmasq.nft', 0o644],
  ['nftables.d/chain-pre/srcnat/sipmasq.nft', '/usr/share/nftables.d/chain-pre/srcnat/sipmasq.nft', 0o644],
];
const CONFFILES = ['/etc/config/sipmasq'];
const DEPENDS = 'node, nftables | iptables';

const POSTINST = `#!/bin/sh
[ "\${IPKG_NO_SCRIPT}" = "1" ] && exit 0
[ -s \${IPKG_INSTROOT}/lib/functions.sh ] || exit 0
. \${IPKG_INSTROOT}/lib/functions.sh
default_postinst $0 $@
`;
const PRERM = `#!/bin/sh
[ -s \${IPKG_INSTROOT}/lib/functions.sh ] || exit 0
. \${IPKG_INSTROOT}/lib/functions.sh
default_prerm $0 $@
`;

function args(argv) {
  const out = { bundle: null, out: join(root, 'dist') };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--bundle') out.bundle = resolve(argv[++i] ?? '');
    else if (argv[i] === '--out') out.out = resolve(argv[++i] ?? '');
    else throw new Error(`ipk: unknown argument ${argv[i]}`);
  }
  return out;
}

/** `VAR:=value` and `define NAME ... endef` from the feed Makefile. */
function makefile() {
  const text = readFileSync(join(pkgDir, 'Makefile'), 'utf8');
  const vars = Object.fromEntries(
    [...text.matchAll(/^\s*([A-Z_]+):=(.*)$/gm)].map((m) => [m[1], m[2].trim()]),
  );
  const define = (name) => {
    const m = new RegExp(`^define ${name.replace(/[/]/g, '\\/')}\\n([\\s\\S]*?)^endef`, 'm').exec(text);
    if (!m) throw new Error(`ipk: Makefile has no define ${name}`);
    return m[1];
  };
  const pkgBlock = define('Package/sipmasq');
  const title = /TITLE:=(.*)/.exec(pkgBlock)?.[1]?.trim();
  const section = /SECTION:=(.*)/.exec(pkgBlock)?.[1]?.trim();
  const description = define('Package/sipmasq/description')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  for (const k of ['PKG_NAME', 'PKG_VERSION', 'PKG_RELEASE', 'PKG_LICENSE', 'PKG_MAINTAINER'])
    if (!vars[k]) throw new Error(`ipk: Makefile lacks ${k}`);
  if (!title || !section) throw new Error('ipk: Makefile Package/sipmasq lacks TITLE or SECTION');
  return { vars, title, section, description };
}

function sourceDateEpoch() {
  if (process.env.SOURCE_DATE_EPOCH) return Number.parseInt(process.env.SOURCE_DATE_EPOCH, 10);
  try {
    return (
      Number.parseInt(
        execFileSync('git', ['log', '-1', '--format=%ct'], { cwd: root, encoding: 'utf8' }).trim(),
        10,
      ) || 0
    );
  } catch {
    return 0;
  }
}

function main() {
  const opt = args(process.argv.slice(2));
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const mk = makefile();
  if (mk.vars.PKG_VERSION !== pkg.version)
    throw new Error(
      `ipk: firmware/sipmasq/Makefile PKG_VERSION ${mk.vars.PKG_VERSION} != package.json version ${pkg.version}`,
    );

  let bundle = opt.bundle;
  if (!bundle) {
    execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' });
    bundle = join(root, 'dist', 'sipmasq.mjs');
  }

  const mtime = sourceDateEpoch();
  const dataFiles = DATA.map(([src, dest, mode]) => ({
    name: `.${dest}`,
    type: 'file',
    mode,
    data: readFileSync(src === BUNDLE ? bundle : join(files, src)),
  }));
  const installedSize = dataFiles.reduce((n, f) => n + f.data.length, 0);
  const version = `${pkg.version}-r${mk.vars.PKG_RELEASE}`;
  const arch = 'all';

  const control = [
    `Package: ${mk.vars.PKG_NAME}`,
    `Version: ${version}`,
    `Depends: ${DEPENDS}`,
    `Source: firmware/${mk.vars.PKG_NAME}`,
    `SourceName: ${mk.vars.PKG_NAME}`,
    `License: ${mk.vars.PKG_LICENSE}`,
    `Section: ${mk.section}`,
    `SourceDateEpoch: ${mtime}`,
    `Maintainer: ${mk.vars.PKG_MAINTAINER}`,
    `Architecture: ${arch}`,
    `Installed-Size: ${installedSize}`,
    `Description: ${mk.title}`,
    ...mk.description.map((l) => ` ${l}`),
    '',
  ].join('\n');

  const text = (name) => readFileSync(join(files, name));
  const controlTar = tar(
    withParents([
      { name: './control', type: 'file', mode: 0o644, data: Buffer.from(control) },
      { name: './conffiles', type: 'file', mode: 0o644, data: Buffer.from(`${CONFFILES.join('\n')}\n`) },
      { name: './postinst', type: 'file', mode: 0o755, data: Buffer.from(POSTINST) },
      { name: './postinst-pkg', type: 'file', mode: 0o755, data: text('postinst-pkg') },
      { name: './prerm', type: 'file', mode: 0o755, data: Buffer.from(PRERM) },
      { name: './prerm-pkg', type: 'file', mode: 0o755, data: text('prerm-pkg') },
      { name: './postrm', type: 'file', mode: 0o755, data: text('postrm') },
    ]),
    mtime,
  );
  const dataTar = tar(withParents(dataFiles), mtime);

  const ipk = gzip(
    tar(
      [
        { name: './debian-binary', type: 'file', mode: 0o644, data: Buffer.from('2.0\n') },
        { name: './control.tar.gz', type: 'file', mode: 0o644, data: gzip(controlTar) },
        { name: './data.tar.gz', type: 'file', mode: 0o644, data: gzip(dataTar) },
      ],
      mtime,
    ),
  );
  mkdirSync(opt.out, { recursive: true });
  const out = join(opt.out, `${mk.vars.PKG_NAME}_${version}_${arch}.ipk`);
  writeFileSync(out, ipk);
  console.log(`built ${out} (${ipk.length} bytes)`);
}

try {
  main();
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
}
