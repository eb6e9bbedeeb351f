/** What the registration table keeps about one phone's binding, and what survives a restart. */
export interface BindingRecord {
  /** Masquerading token: the user part of the Contact sipmasq gives the provider. Primary key. */
  readonly token: string;
  /** Address-of-record: the To URI of the REGISTER. */
  readonly aor: string;
  /** The phone's own Contact URI, as it wrote it. */
  readonly contact: string;
  /** Where the phone's REGISTER came from (LAN source address and port). */
  readonly phoneAddr: string;
  readonly phonePort: number;
  /** Next hop the REGISTER was sent to, as `host:port` of an IP address (keep-alives go there). */
  readonly registrar: string;
  /** Expiry granted by the registrar, milliseconds since the epoch. */
  readonly expiresAt: number;
  readonly updatedAt: number;
  readonly callId: string;
  /** +sip.instance of the phone (RFC 5626), when it sent one. */
  readonly instance: string | null;
  /**
   * The phone's REGISTER was intercepted (transparent mode): requests to it go out of the intercept
   * socket, seen by the phone as coming from its registrar. Absent in records of older versions: false.
   */
  readonly intercepted?: boolean;
  /** The phone registered over TCP: requests go on its connection. Absent: UDP. */
  readonly transport?: 'tcp';
}
