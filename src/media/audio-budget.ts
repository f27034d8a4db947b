/**
 * How much audio an input may decode to, checked while it decodes. A media bomb is a small input that
 * decodes to hours of audio (FLAC frames of silence, 2-byte Opus packets of 120 ms each, a WAV at 1 Hz);
 * the duration limit alone lets one hold a worker for minutes before it trips. Three bounds, all on the
 * audio actually decoded so far:
 * - the duration limit (MAX_RECORDING_SECONDS, or a lower one for the job);
 * - input bytes: past a grace of GRACE_SEC of audio, at least MIN_BYTES_PER_SEC bytes of input for each
 *   further second of audio. A bomb is then refused after a few minutes of audio at most, about a second
 *   of worker time, whatever it declares;
 * - wall-clock time, for live sessions: audio cannot have been recorded faster than time passes.
 * check() runs after every decoded frame, so it is one comparison in the common case: the input position
 * and the clock are read only when the decoded audio passes the last bound worked out.
 */
import { AppError } from '../errors.ts';
import { formatDuration, tooLong } from './limits.ts';

/** Audio any input may decode to before its bytes are counted: covers headers and a quiet start. */
export const GRACE_SEC = 60;
/**
 * The least input, in bytes, that a second of real audio takes, measured with real encodes at the lowest
 * settings speech codecs have (BENCHMARKS.md, "Media bombs"). The sparsest are long silences under DTX:
 * 62 B/s for Opus 6 kbps with 20 ms frames in MP4 (the demuxer reads only the 1-byte packets; the index
 * was read at open), 72 in Ogg with 60 ms frames, 139 for Speex; AMR-NB's DTX frames make 81 B/s by its
 * storage format; MP3 never goes below 1000. The bombs need 1 to 26 B/s (2-byte Opus packets in Ogg).
 * 48 B/s leaves real files a margin of 1.4 or more. The one encoding it refuses after minutes of silence,
 * Opus DTX with 60 ms frames in MP4 (27 B/s), is as dense as the Ogg bomb: no floor can tell them apart.
 */
export const MIN_BYTES_PER_SEC = 48;
/** Audio a live client may have recorded before the session started, or sends ahead of time. */
export const DEFAULT_LIVE_SLACK_SEC = 30;
/**
 * On top of the slack, a fraction of the elapsed time. Clocks drift far less than this; the bound only has
 * to stop audio that arrives many times faster than real time, so it can be generous.
 */
const LIVE_CLOCK_TOLERANCE = 0.1;

/** A live session's start, on this machine's clock (Date.now()), and its slack. */
export interface LivePace {
  startedAtMs: number;
  slackSec: number;
}

/**
 * The most audio a live recording `elapsedSec` after its start can hold. The bound is from the start of the
 * session, not per second: a client catching up after a dropped connection legitimately sends faster than
 * real time for a while. Also what bounds re-transcoding a live recording's raw log (NormalizeOptions).
 */
export function liveAudioLimitSec(elapsedSec: number, slackSec = DEFAULT_LIVE_SLACK_SEC): number {
  return Math.max(0, elapsedSec) * (1 + LIVE_CLOCK_TOLERANCE) + slackSec;
}

export class AudioBudget {
  private readonly maxDurationSec: number;
  private readonly bytesRead: () => number;
  private readonly pace: LivePace | undefined;
  /** Decoded seconds up to which no bound can have been passed. */
  private checkedUpTo = 0;

  /** `bytesRead`: how far into the input the demuxer has read, in bytes. */
  constructor(maxDurationSec: number, bytesRead: () => number, pace?: LivePace) {
    this.maxDurationSec = maxDurationSec;
    this.bytesRead = bytesRead;
    this.pace = pace;
  }

  /** Throws the AppError of the first bound `decodedSec` (the audio decoded so far) is past. */
  check(decodedSec: number): void {
    if (decodedSec <= this.checkedUpTo) return;
    if (decodedSec > this.maxDurationSec) throw tooLong(decodedSec, this.maxDurationSec, decodedSec);
    const inputBytes = this.bytesRead();
    const byBytes = GRACE_SEC + inputBytes / MIN_BYTES_PER_SEC;
    if (decodedSec > byBytes) throw tooLittleInput(decodedSec, inputBytes);
    let bound = Math.min(this.maxDurationSec, byBytes);
    if (this.pace) {
      const elapsedSec = (Date.now() - this.pace.startedAtMs) / 1000;
      const byClock = liveAudioLimitSec(elapsedSec, this.pace.slackSec);
      if (decodedSec > byClock) throw aheadOfTime(decodedSec, byClock, elapsedSec, this.pace.slackSec);
      bound = Math.min(bound, byClock);
    }
    this.checkedUpTo = bound;
  }
}

/**
 * invalid_media: the bytes cannot honestly carry that much audio, so the input is not what it claims to
 * be, like truncated or corrupt data. A client has nothing different to do about it, so no code of its own.
 */
function tooLittleInput(decodedSec: number, inputBytes: number): AppError {
  return new AppError(
    'invalid_media',
    `implausible audio: ${formatDuration(decodedSec)} decoded from ${inputBytes} bytes of input ` +
      `(real audio takes at least ${MIN_BYTES_PER_SEC} bytes per second beyond the first ${GRACE_SEC} s)`,
    { details: { decodedSec, inputBytes, minBytesPerSec: MIN_BYTES_PER_SEC, graceSec: GRACE_SEC } },
  );
}

/**
 * media_too_long, with the same details as the duration limit: the limit here is the time the session has
 * lasted, and it is the same refusal a re-transcode of the raw log bounded by that time gives.
 */
function aheadOfTime(decodedSec: number, maxDurationSec: number, elapsedSec: number, slackSec: number): AppError {
  return new AppError(
    'media_too_long',
    `live audio runs ahead of real time: ${formatDuration(decodedSec)} of audio ` +
      `${formatDuration(elapsedSec)} after the session started`,
    { details: { durationSec: decodedSec, maxDurationSec, decodedSec, elapsedSec, slackSec } },
  );
}
