/**
 * CSeq (RFC 3261 §20.16, §8.1.1.5):
 *   CSeq = "CSeq" HCOLON 1*DIGIT LWS Method
 * "The sequence number MUST be expressible as a 32-bit unsigned integer and MUST be less than 2**31."
 */
import { isToken } from './scanner.ts';

export const MAX_CSEQ = 2 ** 31 - 1;

export function parseCSeq(value: string): { seq: number; method: string } | null {
  const parts = value.trim().split(/[ \t]+/);
  if (parts.length !== 2) return null;
  const [digits = '', method = ''] = parts;
  if (!/^[0-9]{1,10}$/.test(digits) || !isToken(method)) return null;
  const seq = Number(digits);
  return seq <= MAX_CSEQ ? { seq, method } : null;
}

export function formatCSeq(seq: number, method: string): string {
  return `${seq} ${method}`;
}
