/**
 * The userspace relay behind the MediaControl seam: per session and media index a RelayStream with a
 * LAN-facing and a WAN-facing socket pair from the port pools, latching and strict source (RFC 7362),
 * symmetric RTP (RFC 4961), a=rtcp (RFC 3605) and rtcp-mux (RFC 5761), hold-aware idle timeouts.
 *
 * It is the composite MediaRouter (rtpproxy/media/) with no firewall and no kernel path: every stream
 * is relayed from its first SDP on. Kept as its own name for tests and for a relay-only set-up.
 */
import { MediaRouter, type MediaRouterOptions } from '../media/media-router.ts';

/** The relay alone: the media router without firewall or kernel path (options documented there). */
export type RelayOptions = Omit<MediaRouterOptions, 'firewall' | 'kernel'>;

export class RelayControl extends MediaRouter {
  constructor(opts: RelayOptions) {
    super({ ...opts, firewall: undefined, kernel: null });
  }
}
