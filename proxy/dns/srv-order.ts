/**
 * The order in which to try the targets of an SRV RRset, RFC 2782 "Usage rules".
 */
import type { SrvRecord } from './dns-record.ts';

/** A number in [0, 1), like Math.random; injected so that tests can seed it. */
export type RandomSource = () => number;

/**
 * RFC 2782: 'A Target of "." means that the service is decidedly not available at this domain.'
 * True when the RRset says so (and nothing else usable).
 */
export function srvSaysUnavailable(records: readonly SrvRecord[]): boolean {
  return records.length > 0 && records.every((r) => r.target === '.');
}

/**
 * RFC 2782, Priority: "A client MUST attempt to contact the target host with the lowest-numbered priority
 * it can reach; target hosts with the same priority SHOULD be tried in an order defined by the weight
 * field." Weight: "To select a target to be contacted next, arrange all SRV RRs (that have not been
 * ordered yet) in any order, except that all those with weight 0 are placed at the beginning of the list.
 * Compute the sum of the weights of those RRs, and with each RR associate the running sum in the selected
 * order. Then choose a uniform random number between 0 and the sum computed (inclusive), and select the RR
 * whose running sum value is the first in the selected order which is greater than or equal to the random
 * number selected. ... Remove this SRV RR from the set of the unordered SRV RRs and apply the described
 * algorithm to the unordered SRV RRs to select the next target host. Continue the ordering process until
 * there are no unordered SRV RRs. This process is repeated for each Priority."
 */
export function orderSrv(records: readonly SrvRecord[], random: RandomSource = Math.random): SrvRecord[] {
  const usable = records.filter((r) => r.target !== '.');
  const priorities = [...new Set(usable.map((r) => r.priority))].sort((a, b) => a - b);
  const out: SrvRecord[] = [];
  for (const priority of priorities) {
    const group = usable.filter((r) => r.priority === priority);
    // Weight 0 first, the rest in the order received (a stable sort keeps it).
    const unordered = [...group].sort((a, b) => (a.weight === 0 ? 0 : 1) - (b.weight === 0 ? 0 : 1));
    while (unordered.length) {
      const sum = unordered.reduce((s, r) => s + r.weight, 0);
      const pick = Math.min(sum, Math.floor(random() * (sum + 1)));
      let running = 0;
      let index = unordered.length - 1;
      for (let i = 0; i < unordered.length; i++) {
        running += unordered[i]!.weight;
        if (running >= pick) {
          index = i;
          break;
        }
      }
      out.push(...unordered.splice(index, 1));
    }
  }
  return out;
}
