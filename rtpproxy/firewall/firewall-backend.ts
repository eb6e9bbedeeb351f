/**
 * What every firewall backend (nftables for fw4, iptables for fw3, none) offers the Firewall: replace the
 * content of our chains atomically, look at what is live, and take everything of ours away again.
 */
import type { WatchHandle } from '../command-runner.ts';
import type { FwRule, Inspection, RuleCounter } from './fw-rule.ts';

export type BackendName = 'nftables' | 'iptables' | 'none';

export type InspectDetail = 'all' | 'counters' | 'hooks';

export interface FirewallBackend {
  readonly name: BackendName;
  /**
   * Make our chains hold exactly `rules` (checked already), creating chains and hooks that are missing.
   * `counters` (by comment) are written back into the new rules so that a re-apply does not reset them.
   * One atomic step per table; rejects with SMQ_ERR_FIREWALL when the firewall refused anything.
   * `applied` is what the last successful apply installed (null: unknown, e.g. after a firewall
   * reload): a backend may then change only the difference.
   */
  apply(
    rules: readonly FwRule[],
    counters: ReadonlyMap<string, RuleCounter>,
    applied?: readonly FwRule[] | null,
  ): Promise<void>;
  /**
   * Read the live state of our chains and hooks. How much (a backend may always give more):
   *   all       every rule of ours with its counters (default; crash reconcile)
   *   counters  hooks, markers and the counters of the forward rules at least (media activity, status)
   *   hooks     hooks and markers only (the watchdog's frequent look); rules holds what came for free
   */
  inspect(detail?: InspectDetail): Promise<Inspection>;
  /**
   * Watch the router's firewall for changes that may have taken our rules away (a reload): `onChange`
   * for each, `onLost` once if watching stops working. Null when the backend cannot watch: then the
   * Firewall looks every few seconds instead.
   */
  watch?(onChange: () => void, onLost: (why: string) => void): WatchHandle | null;
  /** Delete every jump to our chains and the chains themselves (clean stop). Idempotent. */
  remove(): Promise<void>;
}
