/**
 * Rules a previous run left behind (kill -9, power cut with a persistent firewall, ...), found by their
 * `smq:` comments before the first apply. Kernel-path mappings are kept in place (re-staged from their
 * comments, so the first apply does not cut the audio of calls that survived) until reconcile() learns
 * which sessions the proxy still knows: those are adopted by the router, the others removed and their
 * conntrack entries deleted. Relay pinholes are stale by definition (the relay's sockets died with the
 * process) and go at the first apply.
 */
import { errorText } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { Firewall } from '../firewall/firewall.ts';
import type { FwRule } from '../firewall/fw-rule.ts';
import { type KernelMapping, parseComment, sessionTag } from '../firewall/rule-comment.ts';

export interface LeftoverKey {
  readonly sessionTag: string;
  readonly index: number;
}

interface Kept extends LeftoverKey {
  readonly mapping: KernelMapping;
  rules: number;
}

export type Adopt = (sessionId: string, index: number, mapping: KernelMapping) => Promise<void>;

export class Leftovers {
  private readonly kept = new Map<string, Kept>();
  private readonly removed: KernelMapping[] = [];
  private stale = 0;

  constructor(
    private readonly firewall: Firewall,
    private readonly log: Logger,
    /** The rules to keep for a mapping now, or null when the kernel path is off (then it goes). */
    private readonly regenerate: (key: LeftoverKey, m: KernelMapping) => FwRule[] | null,
  ) {}

  /** Look at the live firewall and stage what must survive the first apply. */
  async take(): Promise<void> {
    const live = await this.firewall.inspect();
    for (const comment of live.keys()) {
      const p = parseComment(comment);
      if (p === null) continue;
      if (p.type === 'pinhole') this.stale++;
      if (p.type !== 'kernel') continue;
      const key = `${p.tag}#${p.index}`;
      const k = this.kept.get(key);
      if (k) k.rules++;
      else this.kept.set(key, { sessionTag: p.tag, index: p.index, mapping: p.mapping, rules: 1 });
    }
    for (const [key, k] of this.kept) {
      const rules = this.regenerate(k, k.mapping);
      if (rules === null) {
        this.stale += k.rules;
        this.removed.push(k.mapping);
        this.kept.delete(key);
      } else this.firewall.set(stagingKey(key), rules);
    }
  }

  /** Adopt the kept mappings of known sessions, unstage the others (the caller commits). */
  async reconcile(known: ReadonlySet<string>, adopt: Adopt): Promise<{ adopted: string[]; removed: number }> {
    const byTag = new Map<string, string>();
    for (const id of known) byTag.set(sessionTag(id), id);
    const adopted = new Set<string>();
    let removed = this.stale;
    this.stale = 0;
    for (const [key, k] of this.kept) {
      this.kept.delete(key);
      const sessionId = byTag.get(k.sessionTag);
      let ok = false;
      if (sessionId !== undefined) {
        try {
          await adopt(sessionId, k.index, k.mapping);
          ok = true;
          adopted.add(sessionId);
        } catch (err) {
          // Port not free, bind failed: the rules go like those of unknown sessions.
          this.log.warn('cannot adopt kernel stream: removing it', {
            session: sessionId,
            index: k.index,
            error: errorText(err),
          });
        }
      }
      this.firewall.delete(stagingKey(key));
      if (!ok) {
        removed += k.rules;
        this.removed.push(k.mapping);
      }
    }
    return { adopted: [...adopted], removed };
  }

  /** Delete the conntrack entries of removed mappings (after the commit). */
  async forgetRemoved(forget: (m: KernelMapping) => Promise<void>): Promise<void> {
    for (const m of this.removed.splice(0)) await forget(m);
  }
}

function stagingKey(key: string): string {
  return `@left:${key}`;
}
