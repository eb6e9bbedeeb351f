/**
 * DNS messages (RFC 1035 §4.1): the one query sipmasq sends and the answers it reads.
 *
 *                                     1  1  1  1  1  1
 *       0  1  2  3  4  5  6  7  8  9  0  1  2  3  4  5
 *     |                      ID                       |
 *     |QR|   Opcode  |AA|TC|RD|RA|   Z    |   RCODE   |
 *     |                    QDCOUNT / ANCOUNT / NSCOUNT / ARCOUNT
 *
 * Decoding never throws: untrusted bytes give `{ ok: false, error }`.
 */
import { randomInt } from 'node:crypto';
import { decodeName, encodeName } from './dns-name.ts';
import { decodeRecord } from './dns-rdata.ts';
import { CLASS_IN, type DnsRecord, type QueryType, sameName, typeCodeOf } from './dns-record.ts';

export const HEADER_LENGTH = 12;

export interface DnsQuestion {
  readonly name: string;
  readonly type: number;
  readonly class: number;
}

export interface DnsMessage {
  readonly id: number;
  /** QR: "whether this message is a query (0), or a response (1)". */
  readonly response: boolean;
  readonly opcode: number;
  readonly authoritative: boolean;
  /**
   * TC: "this message was truncated due to length greater than that permitted on the transmission
   * channel".
   */
  readonly truncated: boolean;
  readonly recursionDesired: boolean;
  readonly recursionAvailable: boolean;
  readonly rcode: number;
  readonly questions: readonly DnsQuestion[];
  readonly answers: readonly DnsRecord[];
  readonly authorities: readonly DnsRecord[];
  readonly additionals: readonly DnsRecord[];
}

export type DecodeResult = { ok: true; message: DnsMessage } | { ok: false; error: string };

/** What an answer must match: the query's id and its one question. */
export interface SentQuery {
  readonly id: number;
  readonly name: string;
  readonly type: QueryType;
}

/** RFC 5452 §9.2: the ID should be random, from the whole 16-bit space. */
export function randomQueryId(): number {
  return randomInt(0, 0x10000);
}

/**
 * A standard query (opcode 0) with RD set — RFC 1035 §4.1.1: "Recursion Desired ... directs the name
 * server to pursue the query recursively" — and one question of class IN. Throws TypeError for a name
 * that is not a valid host name (see isValidQueryName) or an id outside 16 bits: our own bug.
 */
export function encodeQuery(name: string, type: QueryType, id: number): Buffer {
  if (!Number.isInteger(id) || id < 0 || id > 0xffff) throw new TypeError(`bad DNS query id ${id}`);
  const qname = encodeName(name);
  if (!qname) throw new TypeError(`not a name to query: ${JSON.stringify(name)}`);
  const out = Buffer.alloc(HEADER_LENGTH + qname.length + 4);
  out.writeUInt16BE(id, 0);
  out.writeUInt16BE(0x0100, 2); // QR=0 OPCODE=0 AA=0 TC=0 RD=1 RA=0 Z=0 RCODE=0
  out.writeUInt16BE(1, 4); // QDCOUNT
  qname.copy(out, HEADER_LENGTH);
  out.writeUInt16BE(typeCodeOf(type), HEADER_LENGTH + qname.length);
  out.writeUInt16BE(CLASS_IN, HEADER_LENGTH + qname.length + 2);
  return out;
}

/** Decode a whole message. Bytes after the last record are ignored (some servers pad). */
export function decodeMessage(buf: Buffer): DecodeResult {
  if (buf.length < HEADER_LENGTH) return { ok: false, error: `message of ${buf.length} bytes has no header` };
  const flags = buf.readUInt16BE(2);
  const counts = [buf.readUInt16BE(4), buf.readUInt16BE(6), buf.readUInt16BE(8), buf.readUInt16BE(10)];
  const truncated = (flags & 0x0200) !== 0;
  let at = HEADER_LENGTH;
  const questions: DnsQuestion[] = [];
  for (let i = 0; i < counts[0]!; i++) {
    const name = decodeName(buf, at);
    if (!name.ok) return name;
    if (name.end + 4 > buf.length) return { ok: false, error: 'question cut short' };
    questions.push({
      name: name.name,
      type: buf.readUInt16BE(name.end),
      class: buf.readUInt16BE(name.end + 2),
    });
    at = name.end + 4;
  }
  const sections: DnsRecord[][] = [[], [], []];
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s + 1]!; i++) {
      // RFC 2181 §9: a truncated message may end part way; keep the records that arrived whole.
      if (truncated && at >= buf.length) break;
      const rr = decodeRecord(buf, at);
      if (!rr.ok) {
        if (truncated) break;
        return { ok: false, error: rr.error };
      }
      sections[s]!.push(rr.record);
      at = rr.end;
    }
  }
  return {
    ok: true,
    message: {
      id: buf.readUInt16BE(0),
      response: (flags & 0x8000) !== 0,
      opcode: (flags >> 11) & 0x0f,
      authoritative: (flags & 0x0400) !== 0,
      truncated,
      recursionDesired: (flags & 0x0100) !== 0,
      recursionAvailable: (flags & 0x0080) !== 0,
      rcode: flags & 0x000f,
      questions,
      answers: sections[0]!,
      authorities: sections[1]!,
      additionals: sections[2]!,
    },
  };
}

/**
 * Why `msg` is not the answer to `query`, or null when it is. RFC 5452 §9.1: "resolver implementations
 * MUST match responses to all of the following attributes of the query: ... Query ID, Query name, Query
 * class, Query type" (source and destination address and port are the client's part).
 */
export function mismatch(msg: DnsMessage, query: SentQuery): string | null {
  if (!msg.response) return 'not a response (QR=0)';
  if (msg.id !== query.id) return `id ${msg.id} is not ${query.id}`;
  if (msg.opcode !== 0) return `opcode ${msg.opcode}`;
  const q = msg.questions;
  if (q.length !== 1) return `${q.length} questions`;
  const only = q[0]!;
  if (!sameName(only.name, query.name)) return `question name ${only.name} is not ${query.name}`;
  if (only.type !== typeCodeOf(query.type) || only.class !== CLASS_IN)
    return 'question type or class differs';
  return null;
}

/** Decode `buf` as the answer to `query`: a value either way. */
export function decodeAnswer(buf: Buffer, query: SentQuery): DecodeResult {
  const res = decodeMessage(buf);
  if (!res.ok) return res;
  const why = mismatch(res.message, query);
  return why ? { ok: false, error: why } : res;
}
