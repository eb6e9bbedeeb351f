/**
 * Every shell file of the OpenWrt package (and the test harness standing in for OpenWrt) passes
 * `shellcheck -s sh`: OpenWrt's /bin/sh is busybox ash. Each `shellcheck disable=` gives its reason,
 * on the same line or in a comment naming the code. Without shellcheck the test skips, except in CI.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';

const REPO = join(import.meta.dirname, '..', '..', '..');
const have = spawnSync('shellcheck', ['--version']).status === 0;
const skip = !have && process.env.CI !== 'true' ? 'shellcheck is not installed' : false;

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

/** Shell files: a /bin/sh shebang (rc.common ones included) or a `shellcheck shell=sh` directive. */
function shellFiles(): string[] {
  const roots = [join(REPO, 'firmware'), join(REPO, 'test', 'integration', 'firmware', 'harness')];
  return roots
    .flatMap(walk)
    .filter((f) => {
      const head = readFileSync(f, 'utf8').slice(0, 200);
      return /^#!\/bin\/sh/.test(head) || /^# shellcheck shell=sh/m.test(head);
    })
    .sort();
}

describe('shellcheck', () => {
  it('finds the package scripts', () => {
    const names = shellFiles().map((f) => relative(REPO, f));
    for (const f of [
      'sipmasq.init',
      'sipmasq.hotplug',
      'sipmasq.wrapper',
      'firewall.sh',
      'postinst-pkg',
      'prerm-pkg',
      'postrm',
    ])
      assert.ok(names.includes(`firmware/sipmasq/files/${f}`), f);
  });

  for (const file of shellFiles()) {
    const name = relative(REPO, file);
    it(`${name} passes shellcheck -s sh`, { skip }, () => {
      assert.ok(have, 'shellcheck must be installed in CI (apt-get install shellcheck)');
      const res = spawnSync('shellcheck', ['-s', 'sh', '-x', '-P', REPO, file], {
        cwd: REPO,
        encoding: 'utf8',
      });
      assert.equal(res.status, 0, res.stdout + res.stderr);
    });

    it(`${name} says why for every shellcheck disable`, () => {
      const lines = readFileSync(file, 'utf8').split('\n');
      lines.forEach((line, i) => {
        const m = /#\s*shellcheck disable=([A-Z0-9,]+)(.*)$/.exec(line);
        if (!m) return;
        if (/#\s*\S/.test(m[2] ?? '')) return; // reason on the same line
        for (const code of (m[1] ?? '').split(',')) {
          const explained = lines
            .slice(0, i)
            .some((l) => new RegExp(`^\\s*#.*\\b${code}\\b.*\\S`).test(l) && !l.includes('disable='));
          assert.ok(explained, `${name}:${i + 1}: ${code} is disabled without a reason`);
        }
      });
    });
  }
});
