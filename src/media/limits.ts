/**
 * What untrusted input may be. FFmpeg can open far more than audio files: playlists (hls), lists of
 * other files (concat), nested URLs (subfile, data:, http) — all ways to make the server read files or
 * URLs the uploader chose. So: only the `file` protocol, a demuxer whitelist enforced by libavformat
 * itself while probing, and the same list re-checked on the demuxer that was actually picked.
 */
import { AppError } from '../errors.ts';

/** libavformat demuxer names allowed to open untrusted input (the `format_whitelist` option). */
export const ALLOWED_DEMUXERS = [
  'wav',
  'w64',
  'mp3',
  'ogg',
  'flac',
  'matroska',
  'webm',
  'mov',
  'mp4',
  'm4a',
  'aac',
  'aiff',
  'caf',
  'asf',
  'amr',
  'au',
  'avi',
] as const;

/** Demuxer names as FFmpeg reports them (`iformat.name`, comma lists allowed), checked after probing. */
export function isAllowedContainer(name: string): boolean {
  return name.split(',').some((n) => (ALLOWED_DEMUXERS as readonly string[]).includes(n));
}

export const DEFAULT_MAX_PROBE_BYTES = 5 * 1024 * 1024;
/** How much media time the demuxer may look at to find stream parameters. */
export const ANALYZE_DURATION_US = 5_000_000;

/** Options for avformat_open_input on untrusted input. */
export function inputOptions(maxProbeBytes: number): Record<string, string> {
  return {
    protocol_whitelist: 'file',
    format_whitelist: ALLOWED_DEMUXERS.join(','),
    probesize: String(maxProbeBytes),
    analyzeduration: String(ANALYZE_DURATION_US),
    // Never follow references to other files or URLs from inside a container (mov 'dref' etc).
    enable_drefs: '0',
    use_absolute_path: '0',
  };
}

export function formatDuration(sec: number): string {
  if (sec >= 3600) return `${+(sec / 3600).toFixed(2)}h`;
  if (sec >= 60) return `${+(sec / 60).toFixed(1)}min`;
  return `${+sec.toFixed(1)}s`;
}

/**
 * `durationSec` is what the container declares (then `decodedSec` is 0: refused before decoding) or what
 * has been decoded so far.
 */
export function tooLong(durationSec: number, maxDurationSec: number, decodedSec: number): AppError {
  return new AppError(
    'media_too_long',
    `duration ${formatDuration(durationSec)} exceeds the ${formatDuration(maxDurationSec)} limit`,
    { details: { durationSec, maxDurationSec, decodedSec } },
  );
}

/**
 * Lowest sample rate accepted. Telephone speech is 8 kHz and a few old formats go down to 5.5 kHz; below
 * 4 kHz there is no speech left to keep. A very low rate is also the cheapest way to make a tiny file last
 * for hours: a 20 kB WAV at 1 Hz is 5.6 h, every second of which the resampler and the encoder would have
 * to produce at 16 kHz.
 */
export const MIN_SAMPLE_RATE = 4000;

/**
 * unsupported_media (415), not invalid_media (422): such a file is well formed, it is a kind of audio
 * Earshot does not take, like a container it does not accept; sending it again will not help.
 */
export function checkSampleRate(sampleRate: number): void {
  if (sampleRate < MIN_SAMPLE_RATE) {
    throw new AppError(
      'unsupported_media',
      `sample rate ${sampleRate} Hz is not accepted: audio must be sampled at ${MIN_SAMPLE_RATE} Hz or more`,
      { details: { sampleRate, minSampleRate: MIN_SAMPLE_RATE } },
    );
  }
}
