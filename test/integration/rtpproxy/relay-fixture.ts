/** Builds a RelayControl on loopback for tests, with a manual clock and an in-memory log. */
import { ManualClock } from '../../../common/clock.ts';
import { Logger, MemorySink } from '../../../common/logger.ts';
import { nodeSocketFactory } from '../../../common/socket-factory.ts';
import type { StreamEndpoint, StreamRequest, UpdateRequest } from '../../../rtpproxy/control.ts';
import { RelayControl, type RelayOptions } from '../../../rtpproxy/relay/relay-control.ts';

export interface Fixture {
  relay: RelayControl;
  clock: ManualClock;
  sink: MemorySink;
}

export function makeRelay(overrides: Partial<RelayOptions> = {}): Fixture {
  const clock = new ManualClock();
  const sink = new MemorySink();
  const base = 20_000 + Math.floor(Math.random() * 20_000) * 2;
  const relay = new RelayControl({
    lanAddress: '127.0.0.1',
    wanAddress: '127.0.0.1',
    publicAddress: () => '127.0.0.1',
    portMin: base,
    portMax: base + 999,
    idleTimeoutMs: 30_000,
    holdTimeoutMs: 600_000,
    clock,
    sockets: nodeSocketFactory,
    logger: Logger.root('debug', sink),
    ...overrides,
  });
  return { relay, clock, sink };
}

export function endpoint(addr: string, port: number, extra: Partial<StreamEndpoint> = {}): StreamEndpoint {
  return { addr, port, rtcpPort: port + 1, rtcpMux: false, ...extra };
}

export function stream(
  index: number,
  ep: StreamEndpoint | null,
  extra: Partial<StreamRequest> = {},
): StreamRequest {
  return { index, endpoint: ep, direction: 'sendrecv', proto: 'RTP/AVP', ...extra };
}

export function request(from: 'lan' | 'wan', streams: StreamRequest[], sessionId = 'sess-1'): UpdateRequest {
  return { sessionId, callId: `call-${sessionId}`, from, streams };
}
