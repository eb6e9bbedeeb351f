/**
 * Lab lifetimes for tests. `withLab(opts, fn)` builds a lab (namespaces, firewall, kamailio, the test
 * audio), runs fn and always tears it down. `useLab(opts)` does the same once per describe() with
 * before()/after(), for files whose tests share one lab. `guard(env, fn)` wraps a test body so that a
 * failure carries the tails of the lab's logs (the temp dir is removed at teardown).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { PACKETS_PER_SECOND, writePcmuRaw } from './audio.ts';
import { type Kamailio, type KamailioOptions, startKamailio } from './kamailio.ts';
import { Lab, type LabOptions } from './lab.ts';

/** Seconds of audio in ./audio.pcmu, the file every sipp rtp_stream plays once. */
export const AUDIO_SECONDS = 4;
/** RTP packets one endpoint sends for one call. */
export const AUDIO_PACKETS = AUDIO_SECONDS * PACKETS_PER_SECOND;
/** sipp -d for calls: long enough for the whole file to be played before BYE. */
export const CALL_HOLD_MS = AUDIO_SECONDS * 1000 + 1000;

export interface LabEnv {
  readonly lab: Lab;
  readonly kamailio: Kamailio;
}

export interface EnvOptions extends LabOptions {
  readonly kamailio?: KamailioOptions;
}

export async function setupEnv(opts: EnvOptions = {}): Promise<LabEnv> {
  const lab = await Lab.create(opts);
  try {
    writePcmuRaw(lab.path('audio.pcmu'), AUDIO_SECONDS);
    const kamailio = await startKamailio(lab, opts.kamailio);
    return { lab, kamailio };
  } catch (err) {
    await lab.teardown({ force: true });
    throw err;
  }
}

/** The last lines of every process log in the lab's dir, newest files last. */
export function diagnostics(lab: Lab, lines = 25): string {
  let files: string[] = [];
  try {
    files = readdirSync(lab.dir)
      .filter((f) => f.endsWith('.log') && !f.includes('-messages') && !f.includes('-errors'))
      .sort();
  } catch {
    return '(lab dir gone)';
  }
  return files
    .map((f) => {
      const p = join(lab.dir, f);
      if (!statSync(p).isFile()) return '';
      const text = readFileSync(p, 'utf8').split('\n').slice(-lines).join('\n');
      return `----- ${f} -----\n${text}`;
    })
    .join('\n');
}

/** Run a test body; on failure add the lab's log tails to the error. */
export async function guard<T>(env: LabEnv | Lab, fn: () => Promise<T>): Promise<T> {
  const lab = env instanceof Lab ? env : env.lab;
  try {
    return await fn();
  } catch (err) {
    if (err instanceof Error && process.env.SMQ_E2E_QUIET !== '1')
      err.message = `${err.message}\n\n===== lab logs (${lab.dir}) =====\n${diagnostics(lab)}`;
    throw err;
  }
}

export async function withLab<T>(opts: EnvOptions, fn: (env: LabEnv) => Promise<T>): Promise<T> {
  const env = await setupEnv(opts);
  try {
    return await guard(env, () => fn(env));
  } finally {
    await env.lab.teardown();
  }
}

/**
 * One lab per describe(): call at the top of the describe body; the returned function gives the
 * environment inside tests.
 */
export function useLab(opts: EnvOptions = {}): () => LabEnv {
  let env: LabEnv | undefined;
  before(async () => {
    env = await setupEnv(opts);
  });
  after(async () => {
    await env?.lab.teardown();
  });
  return () => {
    if (!env) throw new Error('lab not set up (before() failed?)');
    return env;
  };
}
