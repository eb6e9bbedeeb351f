/** The backend when there is no usable firewall (or `firewall: none`): nothing to apply, nothing to count. */
import type { FirewallBackend } from './firewall-backend.ts';
import type { Inspection } from './fw-rule.ts';

export class NoneBackend implements FirewallBackend {
  readonly name = 'none' as const;

  async apply(): Promise<void> {}

  async inspect(): Promise<Inspection> {
    return { hooked: true, marked: true, rules: new Map(), details: [] };
  }

  async remove(): Promise<void> {}
}
