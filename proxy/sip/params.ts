/**
 * `;name=value` parameter lists, as used by Via, URIs, name-addr values and most other headers.
 *
 * RFC 3261 §25.1:
 *   generic-param = token [ EQUAL gen-value ]
 *   gen-value     = token / host / quoted-string
 *   uri-parameter = transport-param / user-param / ... / other-param
 *   other-param   = pname [ "=" pvalue ]
 * Order is kept; names compare case-insensitively; a quoted value is kept with its quotes.
 */
import { Scanner } from './scanner.ts';

export type Param = [name: string, value: string | null];

function indexOf(params: Param[], name: string): number {
  const lower = name.toLowerCase();
  return params.findIndex(([n]) => n.toLowerCase() === lower);
}

/** undefined = absent, null = present without a value. */
export function getParam(params: Param[], name: string): string | null | undefined {
  const i = indexOf(params, name);
  return i < 0 ? undefined : params[i]![1];
}

export function hasParam(params: Param[], name: string): boolean {
  return indexOf(params, name) >= 0;
}

/** Replaces the value of the first parameter of that name (keeping its place), or appends one. */
export function setParam(params: Param[], name: string, value: string | null): void {
  const i = indexOf(params, name);
  if (i < 0) params.push([name, value]);
  else params[i] = [params[i]![0], value];
}

/** Removes every parameter of that name. */
export function deleteParam(params: Param[], name: string): void {
  for (let i = params.length - 1; i >= 0; i--)
    if (params[i]![0].toLowerCase() === name.toLowerCase()) params.splice(i, 1);
}

export function formatParams(params: Param[]): string {
  return params.map(([n, v]) => (v === null ? `;${n}` : `;${n}=${v}`)).join('');
}

/** Characters that end a parameter name or unquoted value. */
const STOP = ';,?=<>"';

/**
 * Reads `*( SWS ";" SWS name [ SWS "=" SWS value ] )` from the scanner. Stops (without consuming)
 * at the first character that does not start another parameter. Null on an empty name or value.
 * `lws` allows whitespace around ";" and "=" (header parameters); URI parameters allow none.
 */
export function scanParams(sc: Scanner, lws: boolean): Param[] | null {
  const params: Param[] = [];
  for (;;) {
    const save = sc.pos;
    if (!sc.eat(';', lws)) {
      sc.pos = save;
      return params;
    }
    if (lws) sc.skipWs();
    const name = sc.until(STOP);
    if (!name) return null;
    const beforeEq = sc.pos;
    if (sc.eat('=', lws)) {
      if (lws) sc.skipWs();
      const value = sc.peek() === '"' ? sc.quoted() : sc.until(STOP);
      if (!value) return null;
      params.push([name, value]);
    } else {
      sc.pos = beforeEq;
      params.push([name, null]);
    }
  }
}

/** Parses a whole `;a=b;c` string (header parameter syntax); null if anything is left over. */
export function parseParams(text: string): Param[] | null {
  const sc = new Scanner(text);
  const params = scanParams(sc, true);
  sc.skipWs();
  return params && sc.done ? params : null;
}
