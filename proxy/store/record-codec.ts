import type { BindingRecord } from './binding-record.ts';

/** A stored row read back: the record, or why it cannot be used. Stored bytes are input, not trusted. */
export type DecodeResult = { ok: true; record: BindingRecord } | { ok: false; error: string };

/** The JSON kept in `bindings.data`: exactly the fields of BindingRecord, nothing else. */
export function encodeRecord(record: BindingRecord): string {
  return JSON.stringify({
    token: record.token,
    aor: record.aor,
    contact: record.contact,
    phoneAddr: record.phoneAddr,
    phonePort: record.phonePort,
    registrar: record.registrar,
    expiresAt: record.expiresAt,
    updatedAt: record.updatedAt,
    callId: record.callId,
    instance: record.instance,
    ...(record.intercepted ? { intercepted: true } : {}),
    ...(record.transport === 'tcp' ? { transport: 'tcp' } : {}),
  });
}

const STRING_FIELDS = ['token', 'aor', 'contact', 'phoneAddr', 'registrar', 'callId'] as const;
const TIME_FIELDS = ['expiresAt', 'updatedAt'] as const;

/** What is wrong with a would-be record, or null when it has the shape of a BindingRecord. */
export function recordProblem(o: Readonly<Record<string, unknown>>): string | null {
  for (const key of STRING_FIELDS) {
    if (typeof o[key] !== 'string') return `${key} is not a string`;
  }
  if (o['token'] === '') return 'token is empty';
  for (const key of TIME_FIELDS) {
    if (typeof o[key] !== 'number' || !Number.isFinite(o[key])) return `${key} is not a finite number`;
  }
  const port = o['phonePort'];
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    return 'phonePort is not a port number';
  }
  const instance = o['instance'];
  if (instance !== null && typeof instance !== 'string') return 'instance is neither a string nor null';
  const intercepted = o['intercepted'];
  if (intercepted !== undefined && typeof intercepted !== 'boolean') return 'intercepted is not a boolean';
  const transport = o['transport'];
  if (transport !== undefined && transport !== 'tcp') return 'transport is not tcp';
  return null;
}

/** Parses and checks one row's JSON; `token` is the row's key, which the JSON must agree with. */
export function decodeRecord(token: string, data: string): DecodeResult {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch (err) {
    return { ok: false, error: `not JSON (${err instanceof Error ? err.message : String(err)})` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, error: 'not a JSON object' };
  }
  const o = value as Record<string, unknown>;
  const problem = recordProblem(o);
  if (problem) return { ok: false, error: problem };
  if (o['token'] !== token) return { ok: false, error: 'token in data differs from the row key' };
  return {
    ok: true,
    record: {
      token,
      aor: o['aor'] as string,
      contact: o['contact'] as string,
      phoneAddr: o['phoneAddr'] as string,
      phonePort: o['phonePort'] as number,
      registrar: o['registrar'] as string,
      expiresAt: o['expiresAt'] as number,
      updatedAt: o['updatedAt'] as number,
      callId: o['callId'] as string,
      instance: o['instance'] as string | null,
      ...(o['intercepted'] === true ? { intercepted: true } : {}),
      ...(o['transport'] === 'tcp' ? { transport: 'tcp' as const } : {}),
    },
  };
}

/** Bad records from our own code are a TypeError (DESIGN.md §4), caught at put() rather than at flush. */
export function assertRecord(record: BindingRecord): void {
  const problem =
    typeof record === 'object' && record !== null
      ? recordProblem(record as unknown as Record<string, unknown>)
      : 'not an object';
  if (problem) throw new TypeError(`invalid BindingRecord: ${problem}`);
}
