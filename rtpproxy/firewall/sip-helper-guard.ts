/**
 * The sipHelper policy: what sipmasq does about the kernel SIP helper it found (sip-helper.ts).
 *
 * `warn`: nothing changes; when a rule attaches the helper, a clear warning goes to the log and to
 * FirewallStatus.warnings.
 *
 * `disable`: keep the helper off the flows sipmasq handles, by rules of sipmasq's own helper chain
 * that come before the router's helper assignment (both first-wins mechanisms in the kernel):
 *   nftables  `ct helper set` attaches only to a flow that has no helper yet, and fw4 does it from its
 *             `prerouting` chain (priority filter, after dstnat). Our chain is jumped to from the top
 *             of that chain and `accept`s new flows ending at sipmasq's port on the router (redirected
 *             ones included: after dstnat their destination is sipmasq's port): that base chain
 *             ends for them, and it holds nothing but the jumps to fw4's helper_<zone> chains.
 *   iptables  the CT target sets a conntrack template only on a packet that has none; our chain,
 *             first in raw PREROUTING, gives sipmasq's flows (to the router's SIP port, and LAN SIP
 *             about to be redirected) a template without helper, so fw3's `-j CT --helper sip` that
 *             follows does nothing.
 *   old kernels  nf_conntrack_helper=1 attaches by port whatever the rules say: it is set to 0 while
 *             sipmasq runs (and back at close).
 *
 * Not chosen, and why:
 *   notrack (`notrack` / `-j CT --notrack` at raw priority) keeps helpers off, but also NAT and state:
 *     transparent-mode REDIRECT, the source mappings and the replies to sipmasq's outbound TCP need
 *     conntrack. It is not needed where the above works.
 *   rmmod nf_nat_sip nf_conntrack_sip fails while fw4's `ct helper` objects hold the module (until a
 *     firewall reload), cannot work for built-in helpers, acts on the whole router and is not undone
 *     at exit. Removing the module for good is the firmware's business (kmod-nf-nathelper-extra).
 *   Deleting the router's helper rules: they come back at every firewall reload, and they are not ours.
 *
 * Helper attachments the hook does not precede (another table, raw OUTPUT, a custom chain) are
 * reported as a warning: the helper may still act there.
 */
import { writeFile } from 'node:fs/promises';
import { errorText } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { SipHelperPolicy, SipHelperStatus, SipRedirect } from '../control.ts';
import type { BackendName } from './firewall-backend.ts';
import type { FwRule, L4 } from './fw-rule.ts';
import { noHelperComment } from './rule-comment.ts';
import type { SipHelperFinding } from './sip-helper.ts';

export const HELPER_ACTIVE_WARNING =
  "nf_conntrack_sip is active: it rewrites SIP behind sipmasq; set sipHelper 'disable' or unload it";

export interface SipHelperGuardOptions {
  readonly policy: SipHelperPolicy;
  readonly backend: BackendName;
  readonly finding: SipHelperFinding;
  /** Where the hook goes, for the status text (`inet fw4 prerouting`, `raw PREROUTING`). */
  readonly hookedFrom: string;
  readonly sipPort: number;
  readonly lanDevice: string | null;
  /** The auto-assignment sysctl file (written only when it was 1 and the policy is disable). */
  readonly autoAssignPath: string;
  readonly logger: Logger;
  /** Adds a warning to the firewall status (and logs it once). */
  readonly warn: (text: string) => void;
}

export class SipHelperGuard {
  /** True when sipmasq's helper chain is wanted (see rules()). */
  readonly active: boolean;
  private action: string;
  private autoAssignOff = false;
  private closed = false;

  constructor(private readonly opts: SipHelperGuardOptions) {
    const f = opts.finding;
    const loaded = f.modules.length > 0;
    const where = f.attachments.map((a) => a.where).join(', ');
    this.active = opts.policy === 'disable' && loaded && f.problem === null && f.hookable;
    if (!loaded) this.action = 'none: not loaded';
    else if (f.problem !== null) {
      this.action = `unknown: ${f.problem}`;
      opts.warn(
        `nf_conntrack_sip is loaded and sipmasq cannot see what attaches it (${f.problem}): unload it`,
      );
    } else if (opts.policy === 'warn') {
      this.action = this.attached
        ? `warned (attached in ${where || 'auto-assignment'})`
        : 'none: attached by no rule';
      if (this.attached) opts.warn(HELPER_ACTIVE_WARNING);
    } else if (this.active) {
      this.action = `disabled: sipmasq's flows skip it (sipmasq_helper first in ${opts.hookedFrom})`;
      const uncovered = f.attachments.filter((a) => !a.covered).map((a) => a.where);
      if (uncovered.length > 0)
        opts.warn(
          `nf_conntrack_sip is attached in ${uncovered.join(', ')}, which sipmasq cannot keep it off: it may still rewrite SIP; unload it`,
        );
    } else if (f.attachments.length > 0) {
      this.action = `not disabled: no ${opts.hookedFrom} chain to hook`;
      opts.warn(`${HELPER_ACTIVE_WARNING} (attached in ${where}; no ${opts.hookedFrom} chain to hook)`);
    } else this.action = 'none: attached by no rule';
  }

  get loaded(): boolean {
    return this.opts.finding.modules.length > 0;
  }

  get attached(): boolean {
    return this.opts.finding.attachments.length > 0 || this.opts.finding.autoAssign;
  }

  /** The helper chain's rules for sipmasq's own port and for each redirect (none when not active). */
  rules(redirects: readonly SipRedirect[]): FwRule[] {
    if (!this.active) return [];
    const out: FwRule[] = (['udp', 'tcp'] as const).map((proto: L4) => ({
      kind: 'no-helper',
      comment: noHelperComment(proto, this.opts.sipPort, false),
      proto,
      dport: this.opts.sipPort,
      dev: null,
      toPort: null,
    }));
    if (this.opts.lanDevice !== null)
      for (const r of redirects)
        out.push({
          kind: 'no-helper',
          comment: noHelperComment(r.proto, r.port, true),
          proto: r.proto,
          dport: r.port,
          dev: this.opts.lanDevice,
          toPort: r.toPort,
        });
    return out;
  }

  /** Turn the old auto-assignment off when the policy is disable (never rejects). */
  async start(): Promise<void> {
    if (this.opts.policy !== 'disable' || !this.loaded || !this.opts.finding.autoAssign) return;
    try {
      await writeFile(this.opts.autoAssignPath, '0\n');
      this.autoAssignOff = true;
      this.action += '; auto-assignment turned off (nf_conntrack_helper=0 until sipmasq stops)';
      this.opts.logger.info('kernel helper auto-assignment turned off', { path: this.opts.autoAssignPath });
    } catch (err) {
      this.opts.warn(
        `nf_conntrack_helper=1 assigns the SIP helper by port and could not be set to 0: ${errorText(err)}`,
      );
    }
  }

  status(): SipHelperStatus {
    return { loaded: this.loaded, attached: this.attached, action: this.action };
  }

  /** Put the auto-assignment sysctl back as it was. Idempotent, never rejects. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.autoAssignOff) return;
    try {
      await writeFile(this.opts.autoAssignPath, '1\n');
    } catch (err) {
      this.opts.logger.error('could not restore nf_conntrack_helper=1', { error: errorText(err) });
    }
  }
}
