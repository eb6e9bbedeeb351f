/**
 * The one seam the proxy uses to reach the media side. It knows nothing of SIP or SDP: the proxy turns
 * each SDP it forwards into a list of streams, asks for the address and ports to write into the SDP it
 * sends on, and releases the session when the dialog ends.
 *
 * Identity: a session is named by the proxy (`sessionId`, one per dialog or early-dialog branch: the
 * proxy derives it from Call-ID, From tag, To tag and the LAN target); a stream by its media index
 * (the position of its m= line). Every call is idempotent for the same (sessionId, index) and the same
 * input: a retransmitted offer gets the same ports back.
 *
 * Sides: `lan` is the phone's side, `wan` the far side. An SDP that came from the phone (`from: 'lan'`)
 * is answered with the WAN-facing address and ports (what the far side must send to); an SDP from the
 * far side is answered with the LAN-facing ones.
 */

export type Side = 'lan' | 'wan';
export type MediaDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
export type MediaPath = 'relay' | 'kernel';

/** Where one side says it receives a stream (RFC 3264 / RFC 3605 / RFC 5761). */
export interface StreamEndpoint {
  /** RTP address; '0.0.0.0' (or '::') is the old RFC 2543 hold form. */
  readonly addr: string;
  readonly port: number;
  /** RTCP port: a=rtcp if given, else port + 1. Ignored with rtcpMux. */
  readonly rtcpPort: number;
  /** RTCP address from a=rtcp, when it differs from addr. */
  readonly rtcpAddr?: string;
  readonly rtcpMux: boolean;
}

export interface StreamRequest {
  /** Position of the m= line, from 0. */
  readonly index: number;
  /** null when the m= line is disabled (port 0): the stream is released if it existed. */
  readonly endpoint: StreamEndpoint | null;
  /** The direction the SDP's sender declared; hold is sendonly/inactive or a 0.0.0.0 address. */
  readonly direction: MediaDirection;
  /** Transport of the m= line (RTP/AVP, RTP/SAVP, UDP/TLS/RTP/SAVPF, udptl, ...). */
  readonly proto: string;
}

export interface UpdateRequest {
  readonly sessionId: string;
  /** For logs and status only. */
  readonly callId: string;
  /** Which side sent the SDP. */
  readonly from: Side;
  readonly streams: readonly StreamRequest[];
}

export interface StreamGrant {
  readonly index: number;
  /** Address to write into the SDP sent to the other side. */
  readonly addr: string;
  /** 0 for a disabled stream. */
  readonly port: number;
  readonly rtcpPort: number;
  readonly path: MediaPath;
}

export interface DirectionCounters {
  packets: number;
  bytes: number;
  /** Packets dropped because they came from a source other than the latched peer. */
  dropped: number;
}

export interface StreamStatus {
  readonly index: number;
  readonly path: MediaPath;
  /** LAN-facing local address:port (phone sends here) and WAN-facing one (far side sends here). */
  readonly lanLocal: string;
  readonly wanLocal: string;
  /** Signalled and latched peer addresses. */
  readonly lanPeer: string | null;
  readonly wanPeer: string | null;
  readonly lanLatched: boolean;
  readonly wanLatched: boolean;
  readonly onHold: boolean;
  /** lanToWan counts packets received from the phone and sent on; wanToLan the reverse. */
  readonly lanToWan: Readonly<DirectionCounters>;
  readonly wanToLan: Readonly<DirectionCounters>;
  readonly lastPacketAt: number | null;
}

export interface SessionStatus {
  readonly sessionId: string;
  readonly callId: string;
  readonly createdAt: number;
  readonly streams: readonly StreamStatus[];
}

export type ReleaseReason = 'bye' | 'cancel' | 'failure' | 'timeout' | 'shutdown' | 'replaced' | 'admin';

export interface MediaEvents {
  /** A session was released by the media side itself (idle timeout). */
  released: { sessionId: string; callId: string; reason: ReleaseReason };
}

export interface MediaControl {
  /** Allocate or update the streams of a session for one SDP; returns one grant per request, in order. */
  update(req: UpdateRequest): Promise<StreamGrant[]>;
  /** Release a session and all its streams. Unknown ids are ignored. Idempotent. */
  release(sessionId: string, reason: ReleaseReason): Promise<void>;
  /** Snapshot of every live session. */
  query(): SessionStatus[];
  /** Subscribe to events; returns an unsubscribe function. */
  on<K extends keyof MediaEvents>(event: K, fn: (payload: MediaEvents[K]) => void): () => void;
  /** Release everything and close all sockets. Idempotent. */
  close(): Promise<void>;
}

/* ---------------------------------------------------------------------------------------------------
 * Building the media side (issue 3): the proxy asks for one MediaSide with the addresses, devices and
 * settings it knows; what is behind it (relay, kernel NAT rules, firewall backend) is the media side's
 * business. `createMediaSide` is implemented in rtpproxy/media-side.ts and re-exported here so the
 * proxy keeps importing this one file.
 * ------------------------------------------------------------------------------------------------- */

export type FirewallChoice = 'auto' | 'nftables' | 'iptables' | 'none';
export type MediaPathChoice = 'auto' | 'relay' | 'kernel';
/** What to do about the kernel SIP helper (nf_conntrack_sip / nf_nat_sip), issue 4. */
export type SipHelperPolicy = 'disable' | 'warn';

export interface MediaSideOptions {
  readonly lanAddress: string;
  readonly wanAddress: string;
  readonly publicAddress: () => string;
  /** Linux devices (firewall rules match on them); null when unknown (kernel path then unavailable). */
  readonly lanDevice: string | null;
  readonly wanDevice: string | null;
  readonly sipPort: number;
  readonly portMin: number;
  readonly portMax: number;
  readonly idleTimeoutMs: number;
  readonly holdTimeoutMs: number;
  readonly mediaPath: MediaPathChoice;
  readonly firewall: FirewallChoice;
  /**
   * The kernel SIP helper: `disable` keeps it off the flows sipmasq handles, `warn` leaves it and says
   * so in the log and in FirewallStatus.warnings. Default `disable` (the proxy config's default).
   */
  readonly sipHelper?: SipHelperPolicy;
}

/** One redirect of LAN SIP traffic to sipmasq (transparent mode, issue 4). */
export interface SipRedirect {
  readonly proto: 'udp' | 'tcp';
  /** Destination port of LAN traffic to intercept. */
  readonly port: number;
  /** sipmasq's port on its LAN address. */
  readonly toPort: number;
}

/**
 * Transparent mode: requests sipmasq sends later to a phone (from its LAN address and SIP port) leave
 * with the source the phone believes it talks to (its registrar), so that phones that accept SIP only
 * from their registrar take them. Replies on the phone's own flow need none of this (conntrack de-NATs
 * them); this is for new flows, e.g. an incoming INVITE after the phone's conntrack entry expired.
 */
export interface SourceMapping {
  readonly phoneAddress: string;
  readonly phonePort: number;
  readonly proto: 'udp' | 'tcp';
  /** The address and port the phone sent its REGISTER to (e.g. 203.0.113.10:5060). */
  readonly asAddress: string;
  readonly asPort: number;
  /**
   * sipmasq's port (on its LAN address) the requests leave from; default `sipPort`. In transparent
   * mode, the intercept socket's port when that socket sends them.
   */
  readonly localPort?: number;
}

/** What was found of the kernel SIP helper at start and what sipmasq did about it. */
export interface SipHelperStatus {
  /** nf_conntrack_sip or nf_nat_sip is loaded (or built into the kernel). */
  readonly loaded: boolean;
  /** A firewall rule (or the old auto-assignment sysctl) attaches the `sip` helper to flows. */
  readonly attached: boolean;
  /** What sipmasq did: disabled (and how), warned, or nothing (and why). */
  readonly action: string;
}

export interface FirewallStatus {
  /** Backend in use: nftables, iptables or none. */
  readonly backend: string;
  /** Why the backend is what it is (detected, forced, unavailable: reason). */
  readonly reason: string;
  /** Hooks in place and rules applied as wanted at the last check. */
  readonly healthy: boolean;
  /** Times the rules were found missing (firewall reload) and restored. */
  readonly restored: number;
  readonly openings: readonly string[];
  readonly warnings: readonly string[];
  readonly sipHelper: SipHelperStatus;
}

export interface NetworkControl {
  /** Transparent mode: the redirects wanted now (replaces the previous set; [] removes them). */
  setRedirects(redirects: readonly SipRedirect[]): Promise<void>;
  /** Transparent mode: the source mappings wanted now (replaces the previous set; [] removes them). */
  setSourceMappings(mappings: readonly SourceMapping[]): Promise<void>;
  /**
   * Look at the firewall now, as the watchdog does every few seconds: restore what a firewall reload
   * removed and read the kernel-path counters (status shows fresh counts; a reload of the daemon, which
   * the package's firewall include triggers, restores at once). Never rejects: a failure shows in
   * FirewallStatus.healthy.
   */
  refresh(): Promise<void>;
  status(): FirewallStatus;
}

export interface MediaSide {
  readonly media: MediaControl;
  readonly network: NetworkControl;
  /**
   * After a restart: keep (adopt) the kernel rules of these sessions, remove every other rule sipmasq
   * finds (never leak). Returns what it did.
   */
  reconcile(knownSessionIds: ReadonlySet<string>): Promise<{ adopted: string[]; removed: number }>;
  /** Release every session, remove every rule and hook sipmasq added, close sockets. Idempotent. */
  close(): Promise<void>;
}
