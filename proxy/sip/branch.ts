/**
 * Via branch parameters (RFC 3261 §8.1.1.7): "The branch ID inserted by an element compliant with
 * this specification MUST always begin with the characters "z9hG4bK"."
 */
import { randomBytes } from 'node:crypto';

export const MAGIC_COOKIE = 'z9hG4bK';

/** True if the branch was made by an RFC 3261 element (starts with the magic cookie). */
export function isRfc3261Branch(branch: string | null | undefined): boolean {
  return typeof branch === 'string' && branch.startsWith(MAGIC_COOKIE) && branch.length > MAGIC_COOKIE.length;
}

/** A fresh random branch: the magic cookie and 16 hex digits (64 random bits). */
export function createBranch(): string {
  return MAGIC_COOKIE + randomBytes(8).toString('hex');
}
