/**
 * One small interface in front of every speech-to-text engine: a local audio file in, timed segments
 * out. Failures are AppErrors from the errors table: `transcription_refused` is a verdict on the audio
 * (the job fails at once), anything else is retried by the job runner.
 */

/** A timed piece of text; times in seconds from the start of the recording. */
export interface TranscriptSegment {
  start: number;
  end: number;
  text: string;
}

export interface Transcription {
  segments: TranscriptSegment[];
  /** What the provider detected, or the language it was asked for; null when neither is known. */
  language: string | null;
}

export interface TranscribeOptions {
  /** ISO 639-1 hint (TRANSCRIBE_LANGUAGE); detected when null. */
  language: string | null;
  /** Aborted when the recording is deleted, the job's claim is lost or the server stops. */
  signal: AbortSignal;
}

export interface TranscriptionProvider {
  /** `openai` or `whisper`, stored with each transcript. */
  readonly name: string;
  /** The model as stored with each transcript. */
  readonly model: string;
  transcribe(file: string, options: TranscribeOptions): Promise<Transcription>;
}

/**
 * Segments as stored: text trimmed, empty ones dropped, times finite, not negative and not ending before
 * they start. Providers differ in these small ways (leading spaces, zero-length segments).
 */
export function cleanSegments(segments: readonly TranscriptSegment[]): TranscriptSegment[] {
  const cleaned: TranscriptSegment[] = [];
  for (const segment of segments) {
    const text = segment.text.replace(/\s+/g, ' ').trim();
    if (!text) continue;
    const start = Math.max(0, segment.start);
    cleaned.push({ start, end: Math.max(start, segment.end), text });
  }
  return cleaned;
}
