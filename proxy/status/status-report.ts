/** The status snapshot `sipmasq status` prints: registrations, calls with their media, the store. */
import type { FirewallStatus, MediaControl, SessionStatus } from '../../rtpproxy/control.ts';
import type { Addresses } from '../core/address-book.ts';
import type { CallTable } from '../core/call-table.ts';
import type { RegistrationTable } from '../core/registration-table.ts';
import type { RegistrationStore } from '../store/registration-store.ts';

export interface StatusReport {
  version: string;
  pid: number;
  uptimeSeconds: number;
  addresses: Addresses;
  store: {
    kind: string;
    warning: string | null;
    pendingWrites: number;
    flushes: number;
    path: string | null;
  };
  sip: Record<string, number>;
  firewall: FirewallStatus;
  dns: Record<string, unknown>;
  tcp: unknown;
  registrations: Array<{
    aor: string;
    contact: string;
    token: string;
    phone: string;
    registrar: string;
    expiresAt: string;
    expiresIn: number;
  }>;
  calls: Array<{
    callId: string;
    sessionId: string;
    direction: string;
    state: string;
    phone: string;
    streams: SessionStatus['streams'];
  }>;
  warnings: string[];
}

export interface StatusSources {
  version: string;
  startedAt: number;
  now: number;
  addresses: Addresses;
  store: RegistrationStore;
  registrations: RegistrationTable;
  calls: CallTable;
  control: MediaControl;
  sipCounters: Record<string, number>;
  firewall: FirewallStatus;
  dns: Record<string, unknown>;
  tcp: unknown;
  warnings: string[];
}

export function buildStatus(s: StatusSources): StatusReport {
  const media = new Map(s.control.query().map((m) => [m.sessionId, m]));
  const stats = s.store.stats();
  return {
    version: s.version,
    pid: process.pid,
    uptimeSeconds: Math.round((s.now - s.startedAt) / 1000),
    addresses: s.addresses,
    store: {
      kind: s.store.kind,
      warning: s.store.warning,
      pendingWrites: stats.pendingWrites,
      flushes: stats.flushes,
      path: stats.path,
    },
    sip: { ...s.sipCounters },
    firewall: s.firewall,
    dns: s.dns,
    tcp: s.tcp,
    registrations: s.registrations.list().map((r) => ({
      aor: r.aor,
      contact: r.contact,
      token: r.token,
      phone: `${r.phoneAddr}:${r.phonePort}`,
      registrar: r.registrar,
      expiresAt: new Date(r.expiresAt).toISOString(),
      expiresIn: Math.max(0, Math.round((r.expiresAt - s.now) / 1000)),
    })),
    calls: s.calls
      .all()
      .filter((c) => c.state !== 'terminated')
      .map((c) => ({
        callId: c.callId,
        sessionId: c.sessionId,
        direction: c.direction,
        state: c.state,
        phone: `${c.phone.addr}:${c.phone.port}`,
        streams: media.get(c.sessionId)?.streams ?? [],
      })),
    warnings: [...s.warnings, ...(s.store.warning ? [s.store.warning] : []), ...s.firewall.warnings],
  };
}

/** Human-readable form of the report. */
export function formatStatus(r: StatusReport): string {
  const lines: string[] = [];
  lines.push(`sipmasq ${r.version} pid ${r.pid} up ${r.uptimeSeconds}s`);
  lines.push(
    `  LAN ${r.addresses.lanAddress}:${r.addresses.sipPort}  WAN ${r.addresses.wanAddress}:${r.addresses.sipPort}  public ${r.addresses.publicAddress}`,
  );
  lines.push(
    `  store ${r.store.kind}${r.store.path ? ` ${r.store.path}` : ''}, ${r.store.flushes} flushes, ${r.store.pendingWrites} pending`,
  );
  lines.push(
    `  firewall ${r.firewall.backend} (${r.firewall.reason})${r.firewall.healthy ? '' : ' UNHEALTHY'}, restored ${r.firewall.restored}x`,
  );
  for (const o of r.firewall.openings) lines.push(`    open ${o.replace(/\s*\(smq:[^)]*\)$/, '')}`);
  for (const w of r.warnings) lines.push(`  WARNING: ${w}`);
  lines.push('', `registrations (${r.registrations.length})`);
  for (const g of r.registrations)
    lines.push(
      `  ${g.aor}  phone ${g.phone} contact ${g.contact}  as ${g.token}  via ${g.registrar}  expires in ${g.expiresIn}s`,
    );
  lines.push('', `calls (${r.calls.length})`);
  for (const c of r.calls) {
    lines.push(`  ${c.callId}  ${c.direction} ${c.state}  phone ${c.phone}`);
    for (const m of c.streams) {
      lines.push(
        `    #${m.index} ${m.path}${m.onHold ? ' (hold)' : ''}  lan ${m.lanLocal}<->${m.lanPeer ?? '?'}  wan ${m.wanLocal}<->${m.wanPeer ?? '?'}`,
        `       lan->wan ${m.lanToWan.packets} pkts ${m.lanToWan.bytes} B (${m.lanToWan.dropped} dropped)  wan->lan ${m.wanToLan.packets} pkts ${m.wanToLan.bytes} B (${m.wanToLan.dropped} dropped)`,
      );
    }
  }
  return lines.join('\n');
}
