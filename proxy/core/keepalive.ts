/**
 * Keep-alives toward every registrar a phone is registered with through us (RFC 6314 §3.2, RFC 5626
 * §3.5.1 double-CRLF). They keep the WAN-side conntrack entry of the SIP flow alive, so the provider can
 * reach sipmasq with an incoming call after the router's UDP timeout (OpenWrt: 60 s, 180 s once both
 * directions flowed) would otherwise have closed the flow. A registrar that ignores them loses nothing:
 * RFC 3261 §7.5 lets it skip CRLFs before a message.
 */
import type { Clock, Timer } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import type { Sender } from './sip-proxy.ts';

const PING = Buffer.from('\r\n\r\n');

export class Keepalive {
  private timer: Timer | null = null;
  sent = 0;

  constructor(
    private readonly targets: () => string[],
    private readonly transport: Sender,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  start(intervalSeconds: number): void {
    this.stop();
    if (intervalSeconds <= 0) return;
    this.timer = this.clock.setInterval(() => this.tick(), intervalSeconds * 1000);
  }

  tick(): void {
    for (const t of this.targets()) {
      const i = t.lastIndexOf(':');
      const address = t.slice(0, i);
      const port = Number(t.slice(i + 1));
      if (!address || !(port > 0)) continue;
      this.transport.send('wan', PING, address.replace(/^\[|\]$/g, ''), port);
      this.sent++;
    }
    this.log.debug('keep-alives sent', { total: this.sent });
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }
}
