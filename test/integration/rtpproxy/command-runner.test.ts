/**
 * SpawnRunner with real processes (sh, no namespace): exit status, stdin, timeout, and watch() for the
 * long-running `nft monitor`: lines as they come, a line cut at its cap, one onExit, stop() silent.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSipmasqError } from '../../../common/errors.ts';
import { SpawnRunner } from '../../../rtpproxy/command-runner.ts';

function waitFor<T>(what: string, get: () => T | undefined, ms = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = (): void => {
      const v = get();
      if (v !== undefined) resolve(v);
      else if (Date.now() - t0 > ms) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(tick, 20);
    };
    tick();
  });
}

describe('SpawnRunner', () => {
  it('runs without a shell, feeds stdin, reports the exit status and times out', async () => {
    const r = new SpawnRunner({ timeoutMs: 2000 });
    const res = await r.run('sh', ['-c', 'read x; echo "got $x"; echo err >&2; exit 3'], 'abc\n');
    assert.deepEqual(res, { code: 3, stdout: 'got abc\n', stderr: 'err\n' });
    const slow = new SpawnRunner({ timeoutMs: 200 });
    await assert.rejects(slow.run('sleep', ['5']), (e) => isSipmasqError(e, 'SMQ_ERR_FIREWALL'));
    await assert.rejects(r.run('/nonexistent/smq-tool', []), (e) => isSipmasqError(e, 'SMQ_ERR_FIREWALL'));
  });

  it('watch: every line as it comes, across chunks; one onExit with the status and stderr', async () => {
    const r = new SpawnRunner();
    const lines: string[] = [];
    let exit: string | undefined;
    r.watch(
      'sh',
      ['-c', 'printf "one\\ntw"; sleep 0.1; printf "o\\nthree\\n"; echo oops >&2; exit 4'],
      (l) => lines.push(l),
      (why) => {
        assert.equal(exit, undefined, 'onExit once');
        exit = why;
      },
    );
    const why = await waitFor('exit', () => exit);
    assert.deepEqual(lines, ['one', 'two', 'three']);
    assert.match(why, /sh ended \(4\): oops/);
  });

  it('watch: a line longer than the cap is cut, the rest of it dropped; the next line is whole', async () => {
    const r = new SpawnRunner();
    const lines: string[] = [];
    let exit: string | undefined;
    r.watch(
      'sh',
      ['-c', 'head -c 200000 /dev/zero | tr "\\0" x; echo; echo next'],
      (l) => lines.push(l),
      (why) => {
        exit = why;
      },
    );
    await waitFor('exit', () => exit);
    assert.equal(lines.length, 2);
    assert.equal(lines[0]!.length, 64 * 1024);
    assert.equal(lines[1], 'next');
  });

  it('watch: stop() ends the program without an onExit; a missing program is an onExit', async () => {
    const r = new SpawnRunner();
    let exit: string | undefined;
    const h = r.watch(
      'sleep',
      ['30'],
      () => undefined,
      (why) => {
        exit = why;
      },
    );
    h.stop();
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(exit, undefined);
    let missing: string | undefined;
    r.watch(
      '/nonexistent/smq-monitor',
      [],
      () => undefined,
      (why) => {
        missing = why;
      },
    );
    assert.match(await waitFor('missing', () => missing), /cannot run/);
  });
});
