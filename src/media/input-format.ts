/**
 * What a live client's bytes are (the opt-in `format` of its metadata, docs/live-protocol.md §2): a
 * container the server recognises from the bytes (the default), raw PCM, or raw Opus packets. Neither
 * raw format has a header to probe, so the declared format is stored on the recording (`input_format`,
 * in the same JSON the client sent) for whichever node or job reads the bytes later.
 */

import { MIN_SAMPLE_RATE } from './limits.ts';

export type PcmCodec = 'pcm_s16le' | 'pcm_f32le';

/** Raw PCM as a client declared it: interleaved little-endian samples. */
export interface PcmFormat {
  codec: PcmCodec;
  sampleRate: number;
  channels: number;
}

export type InputFormat = { kind: 'container' } | { kind: 'opus' } | ({ kind: 'pcm' } & PcmFormat);

export const PCM_CODECS: readonly PcmCodec[] = ['pcm_s16le', 'pcm_f32le'];
export const PCM_MIN_RATE = MIN_SAMPLE_RATE;
export const PCM_MAX_RATE = 192_000;
/** Mono or stereo: more channels are a downmix the client can do better, at a fraction of the bytes. */
export const PCM_MAX_CHANNELS = 2;

export const CONTAINER: InputFormat = { kind: 'container' };

/** Bytes of one sample of one channel. */
const SAMPLE_BYTES: Record<PcmCodec, number> = { pcm_s16le: 2, pcm_f32le: 4 };

export const pcmBytesPerSecond = (pcm: PcmFormat): number => pcm.sampleRate * pcm.channels * SAMPLE_BYTES[pcm.codec];

/** The FFmpeg raw demuxer that reads it. */
export const pcmDemuxer = (pcm: PcmFormat): string => (pcm.codec === 'pcm_s16le' ? 's16le' : 'f32le');

/** The demuxer options that say what the samples are (FFmpeg's raw PCM demuxers have no header to read). */
export const pcmOptions = (pcm: PcmFormat): Record<string, string> => ({
  sample_rate: String(pcm.sampleRate),
  ch_layout: pcm.channels === 1 ? 'mono' : 'stereo',
});

/** The stored form: the metadata fields as the client sent them; null for the default (containers). */
export function serialiseInputFormat(format: InputFormat): string | null {
  if (format.kind === 'container') return null;
  if (format.kind === 'opus') return JSON.stringify({ format: 'opus' });
  return JSON.stringify({ format: format.codec, sample_rate: format.sampleRate, channels: format.channels });
}

/** The stored form back (written by serialiseInputFormat, so trusted). */
export function parseInputFormat(text: string | null): InputFormat {
  if (text === null) return CONTAINER;
  const value = JSON.parse(text) as { format: string; sample_rate?: number; channels?: number };
  if (value.format === 'opus') return { kind: 'opus' };
  return {
    kind: 'pcm',
    codec: value.format as PcmCodec,
    sampleRate: value.sample_rate as number,
    channels: value.channels as number,
  };
}
