/**
 * Bring the lab up by hand for debugging, or remove it:
 *
 *   node --import tsx test/e2e/lib/lab-cli.ts up [nftables|iptables]   # namespaces, firewall, kamailio
 *   node --import tsx test/e2e/lib/lab-cli.ts down                      # processes, namespaces
 *
 * `up` leaves everything running and prints where the logs are; `down` is what teardown does, plus
 * removing the temp dirs (<prefix>*, smqt- unless SMQ_LAB_PREFIX says otherwise) that kept labs left in the system temp dir.
 */
import { readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKamailio } from './kamailio.ts';
import { Lab, NS, PREFIX, removeLeftovers } from './lab.ts';

async function main(): Promise<void> {
  const [cmd, backend] = process.argv.slice(2);
  if (cmd === 'down') {
    await removeLeftovers();
    const dirs = readdirSync(tmpdir()).filter((d) => d.startsWith(PREFIX));
    for (const d of dirs) rmSync(join(tmpdir(), d), { recursive: true, force: true });
    console.log(`lab removed (and ${dirs.length} kept temp dir(s))`);
    return;
  }
  if (cmd === 'up') {
    if (backend !== undefined && backend !== 'nftables' && backend !== 'iptables')
      throw new Error('backend must be nftables or iptables');
    process.env.SMQ_KEEP_LAB = '1';
    const lab = await Lab.create({ name: 'manual', ...(backend ? { firewall: backend } : {}) });
    const kam = await startKamailio(lab);
    console.log(`lab up (${lab.firewall}); dir ${lab.dir}`);
    console.log(`kamailio ctl socket: ${kam.ctlSocket}; namespaces: ${Object.values(NS).join(' ')}`);
    await lab.teardown();
    return;
  }
  console.error('usage: lab-cli.ts up [nftables|iptables] | down');
  process.exitCode = 2;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
