/**
 * Forgetting conntrack entries of a kernel-path stream. NAT is decided on a flow's first packet and
 * then lives in its conntrack entry: without deleting the entries, media of an ended call would keep
 * flowing through the old mapping (and a changed mapping would not take effect) until the UDP timeout.
 *
 * `conntrack -D` (conntrack-tools) exits 1 with "0 flow entries have been deleted" when nothing
 * matched, which is fine. When the tool is not installed (it is not in a default OpenWrt image), the
 * media of an ended call stops only with the conntrack timeout: said once, loudly, and in the status.
 */
import { errorText, isSipmasqError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { CommandRunner } from '../command-runner.ts';
import { checkAddress, checkPort } from './fw-rule.ts';

export interface ConntrackTarget {
  /** Public RTP port; X + 1 is cleaned too. */
  readonly x: number;
  readonly phone: string;
  readonly phoneRtp: number;
  readonly phoneRtcp: number;
}

export class ConntrackCleaner {
  private missing = false;
  private readonly cmd: string;

  constructor(
    private readonly runner: CommandRunner,
    private readonly logger: Logger,
    private readonly onMissing: (text: string) => void,
    cmd = 'conntrack',
  ) {
    this.cmd = cmd;
  }

  /** True once the tool was found missing. */
  get unavailable(): boolean {
    return this.missing;
  }

  /**
   * Delete the flows to WAN:X and WAN:X+1 (far side first, orig direction), the flows whose reply goes
   * to them (the phone first, SNAT'ed to X), and the phone's flows from its media ports (made before
   * our SNAT existed). Never rejects: failures are logged.
   */
  async forget(t: ConntrackTarget): Promise<void> {
    if (this.missing) return;
    const x = checkPort(t.x);
    const phone = checkAddress(t.phone, 4);
    const queries: string[][] = [];
    for (const port of [x, x + 1]) {
      queries.push(['-D', '-p', 'udp', '--orig-port-dst', String(port)]);
      queries.push(['-D', '-p', 'udp', '--reply-port-dst', String(port)]);
    }
    for (const port of new Set([checkPort(t.phoneRtp), checkPort(t.phoneRtcp)]))
      queries.push(['-D', '-p', 'udp', '--orig-src', phone, '--orig-port-src', String(port)]);
    // Independent deletions: all at once (a BYE waits for the slowest, not for the sum).
    await Promise.all(queries.map((args) => this.runOne(args)));
  }

  /** One deletion; false when the tool is missing (then it is not tried again). */
  private async runOne(args: string[]): Promise<boolean> {
    try {
      const res = await this.runner.run(this.cmd, args);
      if (res.code === 0 || /0 flow entries/.test(res.stderr)) return true;
      if (/exec of .* failed|not found|No such file/i.test(res.stderr)) {
        this.markMissing(res.stderr.trim());
        return false;
      }
      this.logger.warn('conntrack delete failed', {
        args: args.join(' '),
        code: res.code,
        error: res.stderr.trim(),
      });
      return true;
    } catch (err) {
      if (isSipmasqError(err) && err.details['errno'] === 'ENOENT') {
        this.markMissing(errorText(err));
        return false;
      }
      this.logger.warn('conntrack delete failed', { args: args.join(' '), error: errorText(err) });
      return true;
    }
  }

  private markMissing(detail: string): void {
    if (this.missing) return; // said once, even when several deletions found it missing at once
    this.missing = true;
    const text =
      'conntrack tool missing (install conntrack): media of ended kernel-path calls stops only at the conntrack timeout';
    this.logger.warn(text, { detail });
    this.onMissing(text);
  }
}
