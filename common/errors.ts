/**
 * The one catalogue of sipmasq error codes (in the manner of fastify's FST_ERR_* and undici's UND_ERR_*).
 * Every error sipmasq raises or logs as a failure carries one of these codes. Bad arguments from our own
 * code throw a plain TypeError instead.
 */
export const ErrorCatalogue = {
  SMQ_ERR_CONFIG_INVALID: 'Configuration option is invalid',
  SMQ_ERR_CONFIG_READ: 'Configuration file cannot be read',
  SMQ_ERR_INTERFACE: 'Network interface has no usable address',
  SMQ_ERR_BIND: 'Cannot bind a socket',
  SMQ_ERR_SIP_PARSE: 'SIP message cannot be parsed',
  SMQ_ERR_SIP_TOO_LARGE: 'SIP message exceeds the size limit',
  SMQ_ERR_SDP_PARSE: 'SDP body cannot be parsed',
  SMQ_ERR_ROUTE: 'No route for a SIP request',
  SMQ_ERR_DNS: 'DNS resolution failed',
  SMQ_ERR_FORBIDDEN: 'Request refused by policy',
  SMQ_ERR_PORTS_EXHAUSTED: 'No free media port pair in the configured range',
  SMQ_ERR_MEDIA_SESSION: 'Media session operation failed',
  SMQ_ERR_STORE: 'Registration store failure',
  SMQ_ERR_STORE_UNAVAILABLE: 'Native SQLite module unavailable, running memory-only',
  SMQ_ERR_FIREWALL: 'Firewall backend failure',
  SMQ_ERR_CONTROL_SOCKET: 'Status control socket failure',
} as const;

export type ErrorCode = keyof typeof ErrorCatalogue;

export class SipmasqError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(
    code: ErrorCode,
    message?: string,
    details: Record<string, unknown> = {},
    options?: ErrorOptions,
  ) {
    super(message ? `${ErrorCatalogue[code]}: ${message}` : ErrorCatalogue[code], options);
    this.name = 'SipmasqError';
    this.code = code;
    this.details = Object.freeze({ ...details });
  }
}

export function isSipmasqError(value: unknown, code?: ErrorCode): value is SipmasqError {
  return value instanceof SipmasqError && (code === undefined || value.code === code);
}

/** Message text of anything thrown, for logs. */
export function errorText(err: unknown): string {
  if (err instanceof Error) return isSipmasqError(err) ? `${err.code}: ${err.message}` : err.message;
  return String(err);
}
