import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

/** The better-sqlite3 constructor. */
export type SqliteConstructor = typeof BetterSqlite3;
export type SqliteDatabase = BetterSqlite3.Database;

export type NativeLoad = { ok: true; Database: SqliteConstructor } | { ok: false; reason: string };

/**
 * Loads better-sqlite3 at run time, not at import: the bundle keeps it external and a router may lack
 * it or carry a build for another Node ABI. Throws whatever require() throws.
 */
export function requireBetterSqlite3(): unknown {
  return createRequire(import.meta.url)('better-sqlite3');
}

/** First line of an error, bounded: ABI mismatch messages run to several lines of paths. */
export function shortReason(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const line = text.split('\n', 1)[0]?.trim() || 'unknown error';
  return line.length > 200 ? `${line.slice(0, 197)}...` : line;
}

/**
 * Turns "load the native module" into a value. better-sqlite3 loads its addon on the first
 * `new Database()`, so a successful require() proves little: open a throwaway in-memory database too.
 */
export function loadNativeSqlite(loadNative: () => unknown = requireBetterSqlite3): NativeLoad {
  let mod: unknown;
  try {
    mod = loadNative();
  } catch (err) {
    return { ok: false, reason: shortReason(err) };
  }
  const Database = pickConstructor(mod);
  if (!Database) return { ok: false, reason: 'the module does not export a Database constructor' };
  try {
    new Database(':memory:').close();
  } catch (err) {
    return { ok: false, reason: shortReason(err) };
  }
  return { ok: true, Database };
}

function pickConstructor(mod: unknown): SqliteConstructor | null {
  if (typeof mod === 'function') return mod as SqliteConstructor;
  const inner = typeof mod === 'object' && mod !== null ? (mod as { default?: unknown }).default : undefined;
  return typeof inner === 'function' ? (inner as SqliteConstructor) : null;
}
