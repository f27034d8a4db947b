/**
 * The server's side of the live recording protocol at /api/ws/record: parsing what clients send, and
 * turning failures into close codes. The wire itself (message shapes, close codes, limits) is defined
 * once in the client package (packages/live-client/src/protocol.ts, published as `@earshot/live-client`),
 * imported from its source so the server needs no build of it; docs/live-protocol.md describes both.
 *
 * The seed's handshake is kept exactly: `{token}` → `authenticated`, `{name, meeting_link, org_id}` →
 * `recording_started`, then binary audio frames. Everything else (acks, stop, ping, resume) is opt-in.
 */
import {
  type ActionMessage,
  type AuthMessage,
  CloseCode,
  MEETING_LINK_MAX_CHARS,
  NAME_MAX_CHARS,
} from '../../packages/live-client/src/protocol.ts';
import { asDatabaseUnavailable } from '../db/unavailable.ts';
import { AppError, type ErrorCode, toAppError } from '../errors.ts';
import {
  CONTAINER,
  type InputFormat,
  PCM_CODECS,
  PCM_MAX_CHANNELS,
  PCM_MAX_RATE,
  PCM_MIN_RATE,
  type PcmCodec,
} from '../media/input-format.ts';
import { type TextRule, textProblem } from '../text-policy.ts';

// What the rest of the server uses of the wire, from here with the parsers.
export { CloseCode, LIVE_PATH, type ServerMessage } from '../../packages/live-client/src/protocol.ts';

/** Client closes that mean "I am done": finalise at once. Anything else is a drop, kept for resume. */
export const FINAL_CLIENT_CLOSE_CODES: ReadonlySet<number> = new Set([CloseCode.normal, CloseCode.noStatus]);

/** RFC 6455 §5.5: control frame payloads are at most 125 bytes, 2 of them for the close code. */
export const MAX_CLOSE_REASON_BYTES = 123;

/** The metadata message as parsed: the wire's `StartMessage` with its defaults filled in and checked. */
export interface StartMessage {
  /** Trimmed; empty when the client sent "" (the service then names the recording). */
  name: string;
  /** null when the client sent "" or null: no meeting. */
  meeting_link: string | null;
  org_id: string;
  ack: boolean;
  commit: boolean;
  /** Opt-in (`format`, `sample_rate`, `channels`): raw PCM or Opus packets instead of a container. */
  format: InputFormat;
}

/** The wire's `ResumeMessage` as parsed. */
export interface ResumeMessage {
  resume: string;
  ack: boolean;
  commit: boolean;
}

// ---- parsing: each returns the message or throws an AppError the session turns into a close ----

function parseObject(text: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AppError('bad_request', `${what} must be a JSON object, the text is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new AppError('bad_request', `${what} must be a JSON object`);
  }
  return value as Record<string, unknown>;
}

export function parseAuth(text: string): AuthMessage {
  const value = parseObject(text, 'the first message');
  if (typeof value.token !== 'string' || value.token.length === 0) {
    throw new AppError('invalid_token', 'the first message must be {"token": "<access token>"}');
  }
  return { token: value.token };
}

function optionalFlag(value: Record<string, unknown>, name: 'ack' | 'commit'): boolean {
  if (value[name] === undefined) return false;
  if (typeof value[name] !== 'boolean') throw new AppError('validation_failed', `"${name}" must be true or false`);
  return value[name];
}

/**
 * The second message: the seed's recording metadata, or a resume request (an extension, with its own
 * rules). The seed's three keys are all required, so a client that forgot one hears about it instead of
 * recording into the wrong organisation: `name` (string; "" lets the server name it), `meeting_link`
 * (string, "" — or null — when there is no meeting), `org_id` (string). Their text follows
 * src/text-policy.ts (`display` rule for the name and the link). Unknown keys are ignored.
 */
export function parseStartOrResume(text: string): StartMessage | ResumeMessage {
  const value = parseObject(text, 'the metadata message');
  const ack = optionalFlag(value, 'ack');
  const commit = optionalFlag(value, 'commit');
  if (value.resume !== undefined) {
    if (typeof value.resume !== 'string' || !/^[0-9a-f-]{1,64}$/i.test(value.resume)) {
      throw new AppError('validation_failed', '"resume" must be a recording id');
    }
    return { resume: value.resume, ack, commit };
  }
  const name = requiredString(value, 'name', 'a string (may be "")');
  if (name.length > NAME_MAX_CHARS) invalid('name', `must be at most ${NAME_MAX_CHARS} characters`);
  checkText(name, 'name', 'display');

  const link =
    value.meeting_link === null ? '' : requiredString(value, 'meeting_link', 'a string ("" when there is no meeting)');
  checkText(link, 'meeting_link', 'display');
  if (link !== '' && (link.length > MEETING_LINK_MAX_CHARS || !isHttpUrl(link))) {
    invalid('meeting_link', 'must be an http or https URL');
  }

  const orgId = requiredString(value, 'org_id', 'an organisation id');
  if (orgId.length === 0 || orgId.length > 64) invalid('org_id', 'must be an organisation id');
  checkText(orgId, 'org_id', 'plain');

  return {
    name: name.trim(),
    meeting_link: link === '' ? null : link,
    org_id: orgId,
    ack,
    commit,
    format: parseFormat(value),
  };
}

function invalid(field: string, problem: string): never {
  throw new AppError('validation_failed', `"${field}" ${problem}`, { details: { field } });
}

function requiredString(value: Record<string, unknown>, field: string, what: string): string {
  if (!Object.hasOwn(value, field)) invalid(field, `is required: ${what}`);
  const text = value[field];
  if (typeof text !== 'string') invalid(field, `must be ${what}`);
  return text;
}

function checkText(text: string, field: string, rule: TextRule): void {
  const problem = textProblem(text, rule);
  if (problem) invalid(field, problem);
}

/**
 * The opt-in input format (docs/live-protocol.md §3): absent, a container recognised from the bytes;
 * `"pcm_s16le"` or `"pcm_f32le"` with `sample_rate` and `channels`; `"opus"`, length-prefixed packets
 * whose first packet is the OpusHead (which carries the rate and channels, so the fields are refused).
 */
function parseFormat(value: Record<string, unknown>): InputFormat {
  const { format, sample_rate: rate, channels } = value;
  if (format === undefined) {
    for (const name of ['sample_rate', 'channels'] as const) {
      if (value[name] !== undefined) invalid(name, 'needs a "format"');
    }
    return CONTAINER;
  }
  if (format === 'opus') {
    for (const name of ['sample_rate', 'channels'] as const) {
      if (value[name] !== undefined) {
        invalid(name, 'is not used with "format": "opus" (the OpusHead packet says it)');
      }
    }
    return { kind: 'opus' };
  }
  if (typeof format !== 'string' || !(PCM_CODECS as readonly string[]).includes(format)) {
    invalid('format', `must be "opus", ${PCM_CODECS.map((c) => `"${c}"`).join(' or ')}`);
  }
  if (!Number.isInteger(rate) || (rate as number) < PCM_MIN_RATE || (rate as number) > PCM_MAX_RATE) {
    invalid('sample_rate', `must be an integer from ${PCM_MIN_RATE} to ${PCM_MAX_RATE}`);
  }
  if (!Number.isInteger(channels) || (channels as number) < 1 || (channels as number) > PCM_MAX_CHANNELS) {
    invalid('channels', `must be 1 or ${PCM_MAX_CHANNELS}`);
  }
  return { kind: 'pcm', codec: format as PcmCodec, sampleRate: rate as number, channels: channels as number };
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname.length > 0;
  } catch {
    return false;
  }
}

/** Text messages while recording; `null` for anything not understood (answered, never fatal). */
export function parseAction(text: string): ActionMessage | null {
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value === 'object' && value !== null && 'action' in value) {
      const action = (value as { action: unknown }).action;
      if (action === 'stop' || action === 'ping') return { action };
    }
  } catch {
    // fall through
  }
  return null;
}

export const isResume = (message: StartMessage | ResumeMessage): message is ResumeMessage => 'resume' in message;

/** Close reason from a message: at most 123 bytes of UTF-8, never cutting a character in half. */
export function closeReason(message: string): string {
  const bytes = Buffer.from(message, 'utf8');
  if (bytes.length <= MAX_CLOSE_REASON_BYTES) return message;
  let end = MAX_CLOSE_REASON_BYTES;
  // Back up over continuation bytes (10xxxxxx) to the start of the character that did not fit.
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end -= 1;
  return bytes.subarray(0, end).toString('utf8');
}

/** What a failure looks like on the wire: an error message, then this close code and reason. */
export function describeError(error: unknown): { code: ErrorCode; message: string; closeCode: number } {
  const appError = asDatabaseUnavailable(error) ?? toAppError(error);
  const message = appError.code === 'internal' ? 'internal error' : appError.message;
  return { code: appError.code, message, closeCode: appError.wsCloseCode };
}
