/**
 * Choosing the firewall backend once at start.
 *
 *   auto      nft runs and table `inet fw4` exists -> nftables (fw4, OpenWrt 22.03+);
 *             else iptables runs and lists its filter table -> iptables (fw3);
 *             else none (the relay still works; WAN openings are then up to the router's config).
 *   nftables / iptables   forced: it must be usable, or start fails with SMQ_ERR_FIREWALL (a firewall
 *             that was asked for and silently not used would be a backend failure returning success).
 *   none      no rules at all.
 */
import { errorText, SipmasqError } from '../../common/errors.ts';
import type { CommandRunner } from '../command-runner.ts';
import type { FirewallChoice } from '../control.ts';
import type { FirewallBackend } from './firewall-backend.ts';
import { IptablesBackend, type IptablesBackendOptions } from './iptables-backend.ts';
import { NftBackend, type NftBackendOptions } from './nft-backend.ts';
import { NoneBackend } from './none-backend.ts';

export interface DetectOptions {
  runner: CommandRunner;
  nft?: Omit<NftBackendOptions, 'runner'>;
  iptables?: Omit<IptablesBackendOptions, 'runner'>;
}

export interface Detected {
  readonly backend: FirewallBackend;
  readonly reason: string;
}

async function probe(runner: CommandRunner, cmd: string, args: string[]): Promise<string | null> {
  try {
    const res = await runner.run(cmd, args);
    return res.code === 0 ? null : `${cmd} exited ${res.code}: ${res.stderr.trim().split('\n')[0] ?? ''}`;
  } catch (err) {
    return errorText(err);
  }
}

export async function detectBackend(choice: FirewallChoice, opts: DetectOptions): Promise<Detected> {
  if (choice === 'none') return { backend: new NoneBackend(), reason: 'forced: firewall none' };
  const nft = new NftBackend({ ...opts.nft, runner: opts.runner });
  const ipt = new IptablesBackend({ ...opts.iptables, runner: opts.runner });
  const nftProblem = async (): Promise<string | null> =>
    probe(opts.runner, opts.nft?.nft ?? 'nft', ['list', 'table', nft.names.family, nft.names.table]);
  const iptProblem = async (): Promise<string | null> =>
    probe(opts.runner, opts.iptables?.iptables ?? 'iptables', ['-w', '-t', 'filter', '-n', '-L', 'INPUT']);
  if (choice === 'nftables') {
    const why = await nftProblem();
    if (why) throw new SipmasqError('SMQ_ERR_FIREWALL', `firewall nftables unusable: ${why}`);
    return { backend: nft, reason: `forced: table ${nft.names.family} ${nft.names.table}` };
  }
  if (choice === 'iptables') {
    const why = await iptProblem();
    if (why) throw new SipmasqError('SMQ_ERR_FIREWALL', `firewall iptables unusable: ${why}`);
    return { backend: ipt, reason: 'forced: iptables filter table' };
  }
  if (choice !== 'auto') throw new TypeError(`unknown firewall choice ${String(choice)}`);
  const n = await nftProblem();
  if (n === null)
    return { backend: nft, reason: `detected table ${nft.names.family} ${nft.names.table} (fw4)` };
  const i = await iptProblem();
  if (i === null) return { backend: ipt, reason: `detected iptables filter table (fw3); nft: ${n}` };
  return { backend: new NoneBackend(), reason: `unavailable: nft: ${n}; iptables: ${i}` };
}
