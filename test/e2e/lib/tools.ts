/**
 * What the lab needs from the machine. A test file asks `labSkip([...tools])` for its describe()'s
 * `skip` option: it returns false when everything is there; otherwise, with CI=true it throws (a CI
 * machine without the tools must fail loudly, not pass by skipping), and elsewhere it returns the
 * reason so the suite is skipped.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export type Tool =
  | 'ip'
  | 'nft'
  | 'iptables-restore'
  | 'sysctl'
  | 'tcpdump'
  | 'sipp'
  | 'kamailio'
  | 'kamcmd'
  | 'baresip'
  | 'conntrack'
  | 'ss';

/** The tools every lab needs, whatever the test. */
export const BASE_TOOLS: readonly Tool[] = ['ip', 'sysctl', 'nft', 'iptables-restore', 'tcpdump', 'ss'];

const EXTRA_PATH = ['/usr/sbin', '/sbin', '/usr/local/sbin', '/usr/local/bin', '/usr/bin', '/bin'];

export function which(tool: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), ...EXTRA_PATH];
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, tool);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return null;
}

/** Problems that prevent the lab from running: missing tools, not root. Empty when all is well. */
export function labProblems(tools: readonly Tool[]): string[] {
  const problems: string[] = [];
  if (process.platform !== 'linux') problems.push('the lab needs Linux network namespaces');
  if (typeof process.getuid === 'function' && process.getuid() !== 0)
    problems.push('the lab needs root (network namespaces, firewall rules)');
  const missing = [...new Set([...BASE_TOOLS, ...tools])].filter((t) => which(t) === null);
  if (missing.length) problems.push(`missing tools: ${missing.join(', ')}`);
  return problems;
}

/**
 * For describe(name, { skip: labSkip([...]) }): false when the lab can run; the reason otherwise.
 * With CI=true a missing prerequisite is an error, not a skip.
 */
export function labSkip(tools: readonly Tool[]): false | string {
  const problems = labProblems(tools);
  if (problems.length === 0) return false;
  const reason = `e2e lab unavailable: ${problems.join('; ')}`;
  if (process.env.CI === 'true') throw new Error(`${reason} (CI=true: the e2e tools must be installed)`);
  return reason;
}
