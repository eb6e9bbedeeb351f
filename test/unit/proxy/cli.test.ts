import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isSipmasqError } from '../../../common/errors.ts';
import { helpText, parseCli, readRawConfig } from '../../../proxy/cli.ts';
import { OPTIONS, validateConfig } from '../../../proxy/config.ts';

function throwsNaming(
  fn: () => unknown,
  code: 'SMQ_ERR_CONFIG_INVALID' | 'SMQ_ERR_CONFIG_READ',
  text: RegExp,
) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isSipmasqError(err, code), String(err));
    assert.match(err.message, text);
    return true;
  });
}

describe('parseCli', () => {
  it('runs the daemon with no arguments', () => {
    assert.deepEqual(parseCli([]), { command: 'run', configPath: null, overrides: {}, json: false });
  });

  it('reads the status, reload, check-config and run commands in first position', () => {
    assert.equal(parseCli(['status']).command, 'status');
    assert.equal(parseCli(['reload']).command, 'reload');
    assert.equal(parseCli(['check-config']).command, 'check-config');
    assert.equal(parseCli(['run']).command, 'run');
    const s = parseCli(['status', '--json', '--control-socket', '/tmp/s.sock']);
    assert.equal(s.json, true);
    assert.equal(s.overrides.controlSocket, '/tmp/s.sock');
  });

  it('refuses a command word anywhere but first', () => {
    throwsNaming(() => parseCli(['--json', 'status']), 'SMQ_ERR_CONFIG_INVALID', /unknown argument 'status'/);
  });

  it('turns -h/--help and -V/--version into commands', () => {
    assert.equal(parseCli(['-h']).command, 'help');
    assert.equal(parseCli(['--help']).command, 'help');
    assert.equal(parseCli(['-V']).command, 'version');
    assert.equal(parseCli(['--version']).command, 'version');
  });

  it('takes the config file from -c, --config FILE and --config=FILE', () => {
    assert.equal(parseCli(['-c', '/etc/a.json']).configPath, '/etc/a.json');
    assert.equal(parseCli(['--config', '/etc/b.json']).configPath, '/etc/b.json');
    assert.equal(parseCli(['--config=/etc/c.json']).configPath, '/etc/c.json');
  });

  it('maps every documented flag to its option, in both `--x y` and `--x=y` forms', () => {
    for (const o of OPTIONS) {
      if (!o.flag) continue;
      assert.deepEqual(parseCli([o.flag, 'v1']).overrides, { [o.key]: 'v1' }, o.flag);
      assert.deepEqual(parseCli([`${o.flag}=v2`]).overrides, { [o.key]: 'v2' }, o.flag);
    }
    assert.deepEqual(parseCli(['--modes', 'outbound,transparent']).overrides, {
      modes: 'outbound,transparent',
    });
  });

  it('keeps everything after the first = of an inline value, including an empty value', () => {
    assert.equal(parseCli(['--store=/a=b.db']).overrides.storePath, '/a=b.db');
    assert.equal(parseCli(['--store=']).overrides.storePath, '');
  });

  it('lets a later flag win over an earlier one', () => {
    assert.equal(parseCli(['--sip-port', '5070', '--sip-port=5080']).overrides.sipPort, '5080');
  });

  it('refuses an unknown argument, naming it', () => {
    for (const arg of ['--bogus', '--sip-prot=1', 'extra', '-x']) {
      assert.throws(
        () => parseCli(arg === 'extra' ? ['run', arg] : [arg]),
        (err: unknown) =>
          isSipmasqError(err, 'SMQ_ERR_CONFIG_INVALID') &&
          err.details.option === arg &&
          err.message.includes(arg),
      );
    }
  });

  it('refuses a flag that needs a value at the end of the line', () => {
    for (const flag of ['--sip-port', '--config', '-c', '--modes']) {
      assert.throws(
        () => parseCli(['run', flag]),
        (err: unknown) =>
          isSipmasqError(err, 'SMQ_ERR_CONFIG_INVALID') &&
          err.details.option === flag &&
          /needs a value/.test(err.message),
        flag,
      );
    }
  });

  it('takes the next word as the value, even when it looks like a flag', () => {
    assert.equal(parseCli(['--log-level', '--json']).overrides.logLevel, '--json');
  });
});

describe('readRawConfig', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'smq-cli-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const file = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  it('gives the flags alone when there is no file', () => {
    assert.deepEqual(readRawConfig(parseCli(['--sip-port', '5070'])), { sipPort: '5070' });
  });

  it('lets flags override the file, and the result validates', () => {
    const p = file('ok.json', JSON.stringify({ sipPort: 5060, logLevel: 'warn', storePath: '' }));
    const raw = readRawConfig(parseCli(['-c', p, '--sip-port=5070']));
    assert.deepEqual(raw, { sipPort: '5070', logLevel: 'warn', storePath: '' });
    const c = validateConfig(raw);
    assert.equal(c.sipPort, 5070);
    assert.equal(c.logLevel, 'warn');
  });

  it('says which file is missing', () => {
    const p = join(dir, 'missing.json');
    assert.throws(
      () => readRawConfig(parseCli(['-c', p])),
      (err: unknown) =>
        isSipmasqError(err, 'SMQ_ERR_CONFIG_READ') && err.details.path === p && err.message.includes(p),
    );
  });

  it('says which file is not valid JSON', () => {
    const p = file('bad.json', '{ "sipPort": 5060, }');
    throwsNaming(() => readRawConfig(parseCli(['-c', p])), 'SMQ_ERR_CONFIG_READ', /not valid JSON/);
  });

  it('refuses a file holding JSON that is not an object', () => {
    for (const [name, text] of [
      ['array.json', '[1,2]'],
      ['null.json', 'null'],
      ['num.json', '5'],
      ['str.json', '"x"'],
    ] as const) {
      const p = file(name, text);
      throwsNaming(
        () => readRawConfig(parseCli(['-c', p])),
        'SMQ_ERR_CONFIG_READ',
        /must hold a JSON object/,
      );
    }
  });
});

describe('helpText', () => {
  it('names the version, the commands and every option with its default', () => {
    const text = helpText('9.9.9');
    assert.match(text, /^sipmasq 9\.9\.9: /);
    for (const cmd of ['status', 'reload', 'check-config', '--help', '--version'])
      assert.ok(text.includes(cmd), cmd);
    for (const o of OPTIONS) {
      assert.ok(text.includes(`[${o.key}, default `), o.key);
      if (o.flag) assert.ok(text.includes(o.flag), o.flag);
    }
    assert.ok(text.includes('[sipPort, default 5060]'));
    assert.ok(text.includes('[wanInterface, default (auto)]'));
  });
});
