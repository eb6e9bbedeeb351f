/**
 * Test audio, generated rather than shipped: a 440 Hz tone at 8 kHz, as raw G.711 µ-law bytes (for
 * sipp's rtp_stream: 160 bytes per 20 ms packet, i.e. 172-byte RTP packets at 50 pps) and as a 16-bit
 * PCM WAV (for baresip's aufile).
 */
import { writeFileSync } from 'node:fs';

export const SAMPLE_RATE = 8000;
/** RTP packets per second for 20 ms G.711 frames. */
export const PACKETS_PER_SECOND = 50;
/** PCMU payload per packet and the RTP packet size (12-byte header). */
export const PCMU_PAYLOAD_BYTES = 160;
export const RTP_PACKET_BYTES = PCMU_PAYLOAD_BYTES + 12;

function samples(seconds: number, freq = 440, amplitude = 0.3): Int16Array {
  const n = Math.round(seconds * SAMPLE_RATE);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++)
    out[i] = Math.round(Math.sin((2 * Math.PI * freq * i) / SAMPLE_RATE) * amplitude * 32767);
  return out;
}

/** G.711 µ-law encoding of one 16-bit linear sample (ITU-T G.711, the usual segment search). */
export function linearToUlaw(sample: number): number {
  const BIAS = 0x84;
  const CLIP = 32635;
  let s = sample;
  const sign = s < 0 ? 0x80 : 0;
  if (s < 0) s = -s;
  if (s > CLIP) s = CLIP;
  s += BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

/** Write `seconds` of tone as raw µ-law (no header); returns the number of 20 ms packets it makes. */
export function writePcmuRaw(path: string, seconds: number): number {
  const pcm = samples(seconds);
  const bytes = Buffer.alloc(pcm.length);
  for (let i = 0; i < pcm.length; i++) bytes[i] = linearToUlaw(pcm[i]!);
  writeFileSync(path, bytes);
  return Math.floor(bytes.length / PCMU_PAYLOAD_BYTES);
}

/** Write `seconds` of tone as a mono 16-bit PCM WAV at 8 kHz. */
export function writeWav(path: string, seconds: number): void {
  const pcm = samples(seconds);
  const data = Buffer.alloc(pcm.length * 2);
  for (let i = 0; i < pcm.length; i++) data.writeInt16LE(pcm[i]!, i * 2);
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVE', 8, 'ascii');
  header.write('fmt ', 12, 'ascii');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(SAMPLE_RATE, 24);
  header.writeUInt32LE(SAMPLE_RATE * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(data.length, 40);
  writeFileSync(path, Buffer.concat([header, data]));
}
