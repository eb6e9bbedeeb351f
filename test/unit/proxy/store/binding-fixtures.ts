// A BindingRecord for store tests; overrides change single fields.
import type { BindingRecord } from '../../../../proxy/store/binding-record.ts';

export function makeRecord(token: string, overrides: Partial<BindingRecord> = {}): BindingRecord {
  return {
    token,
    aor: `sip:${token}@provider.example`,
    contact: `<sip:${token}@192.168.1.20:5062;transport=udp>`,
    phoneAddr: '192.168.1.20',
    phonePort: 5062,
    registrar: '203.0.113.5:5060',
    expiresAt: 1_700_000_600_000,
    updatedAt: 1_700_000_000_000,
    callId: `call-${token}`,
    instance: null,
    ...overrides,
  };
}
