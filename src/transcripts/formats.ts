/**
 * Transcripts as subtitle files: SubRip (.srt) and WebVTT (.vtt, https://www.w3.org/TR/webvtt1/).
 * Times are rounded to the millisecond; a cue that would end where it starts is given 1 ms, since
 * players may drop empty cues.
 */
import type { TranscriptSegment } from './provider.ts';

function clock(seconds: number, separator: ',' | '.'): string {
  const ms = Math.round(Math.max(0, seconds) * 1000);
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.floor(ms / 60_000) % 60;
  const secs = Math.floor(ms / 1000) % 60;
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(hours)}:${two(minutes)}:${two(secs)}${separator}${String(ms % 1000).padStart(3, '0')}`;
}

function timing(segment: TranscriptSegment, separator: ',' | '.'): string {
  const end = Math.max(segment.end, segment.start + 0.001);
  return `${clock(segment.start, separator)} --> ${clock(end, separator)}`;
}

/** A cue's text on one line: a blank line would end the cue early in both formats. */
const oneLine = (text: string) => text.replace(/\s+/g, ' ').trim();

/**
 * SubRip: numbered cues, `HH:MM:SS,mmm` times, CRLF-free. SubRip has no escape syntax; the one thing in
 * text that could break a file, a blank line, cannot occur on one line.
 */
export function toSrt(segments: readonly TranscriptSegment[]): string {
  return segments.map((segment, i) => `${i + 1}\n${timing(segment, ',')}\n${oneLine(segment.text)}\n\n`).join('');
}

/**
 * WebVTT cue text is markup: `&`, `<` and `>` must be character references (WebVTT §4.2.2), which also
 * keeps `-->` out of cue text.
 */
export function escapeVttText(text: string): string {
  return oneLine(text).replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

export function toVtt(segments: readonly TranscriptSegment[]): string {
  const cues = segments.map((segment, i) => `${i + 1}\n${timing(segment, '.')}\n${escapeVttText(segment.text)}\n\n`);
  return `WEBVTT\n\n${cues.join('')}`;
}
