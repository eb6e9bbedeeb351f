/**
 * The provider's users and passwords. The same table is written into kamailio.cfg (route PASSWD);
 * startKamailio() refuses to start when the two disagree.
 */
export const DOMAIN = '203.0.113.10';

export const ACCOUNTS = {
  alice: 'alice-secret-1',
  bob: 'bob-secret-2',
  carol: 'carol-secret-3',
  dave: 'dave-secret-4',
} as const;

export type User = keyof typeof ACCOUNTS;

/** The remote party is not a user of the provider: it calls in from its own address. */
export const REMOTE_USER = 'remote';
