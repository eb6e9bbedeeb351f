/** Test doubles: a firewall backend that records what it is asked to apply, and a recording runner. */
import type { CommandResult, CommandRunner } from '../../../../rtpproxy/command-runner.ts';
import type { FirewallBackend } from '../../../../rtpproxy/firewall/firewall-backend.ts';
import type { FwRule, Inspection, RuleCounter } from '../../../../rtpproxy/firewall/fw-rule.ts';

export class FakeBackend implements FirewallBackend {
  readonly name = 'nftables' as const;
  readonly applies: FwRule[][] = [];
  /** What inspect() reports; a test flips these to simulate a firewall reload. */
  hooked = true;
  marked = true;
  counters = new Map<string, RuleCounter>();
  removed = 0;
  failNext: Error | null = null;

  get current(): readonly FwRule[] {
    return this.applies[this.applies.length - 1] ?? [];
  }

  async apply(
    rules: readonly FwRule[],
    _counters?: ReadonlyMap<string, RuleCounter>,
    _applied?: readonly FwRule[] | null,
  ): Promise<void> {
    if (this.failNext) {
      const e = this.failNext;
      this.failNext = null;
      throw e;
    }
    this.applies.push([...rules]);
    this.hooked = true;
    this.marked = true;
  }

  async inspect(): Promise<Inspection> {
    const rules = new Map<string, RuleCounter>();
    if (this.marked)
      for (const r of this.current)
        rules.set(r.comment, this.counters.get(r.comment) ?? { packets: 0, bytes: 0 });
    return { hooked: this.hooked, marked: this.marked, rules, details: [] };
  }

  async remove(): Promise<void> {
    this.removed++;
    this.applies.push([]);
  }
}

export interface RecordedCall {
  cmd: string;
  args: readonly string[];
  stdin: string | undefined;
}

/** Answers by the first matching rule; records every call. Unmatched commands exit 0 with no output. */
export class RecordingRunner implements CommandRunner {
  readonly calls: RecordedCall[] = [];
  private readonly rules: {
    match: (c: RecordedCall) => boolean;
    answer: (c: RecordedCall) => CommandResult | Error;
  }[] = [];

  on(match: (c: RecordedCall) => boolean, answer: (c: RecordedCall) => CommandResult | Error): this {
    this.rules.push({ match, answer });
    return this;
  }

  async run(cmd: string, args: readonly string[], stdin?: string): Promise<CommandResult> {
    const call = { cmd, args: [...args], stdin };
    this.calls.push(call);
    const rule = this.rules.find((r) => r.match(call));
    const res = rule ? rule.answer(call) : { code: 0, stdout: '', stderr: '' };
    if (res instanceof Error) throw res;
    return res;
  }

  commands(cmd: string): RecordedCall[] {
    return this.calls.filter((c) => c.cmd === cmd);
  }
}

export const ok = (stdout = ''): CommandResult => ({ code: 0, stdout, stderr: '' });
export const fail = (stderr: string, code = 1): CommandResult => ({ code, stdout: '', stderr });
