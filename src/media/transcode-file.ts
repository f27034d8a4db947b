/**
 * normalize() and probe() as they run inside a media worker: synchronous node-av low-level calls on a
 * local file. Blocking is fine here (one job per worker at a time) and avoids a thread-pool hop per call.
 */

import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  AV_TIME_BASE,
  AVDISCARD_ALL,
  AVERROR_EAGAIN,
  AVERROR_ENOENT,
  AVERROR_EOF,
  AVMEDIA_TYPE_AUDIO,
} from 'node-av/constants';
import type { Stream } from 'node-av/lib';
import { Codec, CodecContext, Dictionary, FFmpegError, FormatContext, Frame, InputFormat, Packet } from 'node-av/lib';
import { AppError } from '../errors.ts';
import { AudioBudget } from './audio-budget.ts';
import { type PcmFormat, pcmDemuxer, pcmOptions } from './input-format.ts';
import { checkSampleRate, inputOptions, isAllowedContainer, tooLong } from './limits.ts';
import { DEFAULT_ENCODER, OggOpusWriter, type OpusEncoderSettings } from './opus-writer.ts';
import type { AudioInfo } from './types.ts';

export interface FileJobLimits {
  maxDurationSec: number;
  maxProbeBytes: number;
}

/** Called with the fraction of the input processed; the caller throttles. */
export type ProgressFn = (fraction: number) => void;

const errText = (ret: number): string => FFmpegError.strerror(ret);

/**
 * Open an untrusted local file with the protocol/format restrictions and pick its audio stream. `pcm`:
 * the file is raw PCM of that format (a live client declared it), read by FFmpeg's raw demuxer.
 */
export function openAudioInput(
  path: string,
  limits: FileJobLimits,
  pcm?: PcmFormat,
): { fmt: FormatContext; stream: Stream } {
  const fmt = new FormatContext();
  const opts = new Dictionary();
  const options = inputOptions(limits.maxProbeBytes);
  if (pcm) Object.assign(options, { format_whitelist: pcmDemuxer(pcm), ...pcmOptions(pcm) });
  for (const [k, v] of Object.entries(options)) opts.set(k, v);
  const format = pcm ? InputFormat.findInputFormat(pcmDemuxer(pcm)) : null;
  // An explicit file: URL so that a path such as "http:x" or "subfile,..." can never select another protocol.
  let ret = fmt.openInputSync(`file:${resolve(path)}`, format, opts);
  opts.free();
  if (ret < 0) {
    fmt.freeContext();
    if (ret === AVERROR_ENOENT) throw new AppError('internal', `input file missing: ${path}`);
    throw classifyOpenFailure(path, ret);
  }
  try {
    const container = fmt.iformat?.name ?? '';
    if (!pcm && !isAllowedContainer(container)) {
      throw new AppError('unsupported_media', `container "${container}" is not accepted`);
    }
    ret = fmt.findStreamInfoSync(null);
    if (ret < 0) throw new AppError('invalid_media', `could not read stream information: ${errText(ret)}`);
    const idx = fmt.findBestStream(AVMEDIA_TYPE_AUDIO);
    const stream = idx >= 0 ? fmt.streams[idx] : undefined;
    if (!stream) throw new AppError('unsupported_media', 'no audio stream found');
    // Don't demux (or decode) video, subtitles, cover art: less work and less attack surface.
    for (const s of fmt.streams) if (s.index !== stream.index) s.discard = AVDISCARD_ALL;
    // Some decoders only know the rate after the first packet (0 here): openWriter checks it again.
    if (stream.codecpar.sampleRate > 0) checkSampleRate(stream.codecpar.sampleRate);
    const declared = declaredDurationSec(fmt, stream);
    if (declared > limits.maxDurationSec) throw tooLong(declared, limits.maxDurationSec, 0);
    return { fmt, stream };
  } catch (err) {
    fmt.closeInputSync();
    throw err;
  }
}

/**
 * Say why open failed: bytes of no known format (415), a format we refuse such as a playlist (415),
 * or a format we accept whose data is damaged, e.g. an MP4 cut before its index (422).
 */
function classifyOpenFailure(path: string, ret: number): AppError {
  const head = Buffer.alloc(64 * 1024);
  let n = 0;
  try {
    const fd = openSync(path, 'r');
    try {
      n = readSync(fd, head, 0, head.length, 0);
    } finally {
      closeSync(fd);
    }
  } catch {
    // unreadable: fall through to "unrecognised"
  }
  if (n === 0) return new AppError('invalid_media', 'the file is empty');
  // Content sniffing only: no file name is passed, the extension must not matter.
  const guess = InputFormat.probe(head.subarray(0, n))?.name;
  const details = { reason: errText(ret), ...(guess ? { detected: guess } : {}) };
  if (!guess)
    return new AppError('unsupported_media', 'unrecognised media format: not an audio or video file', { details });
  if (!isAllowedContainer(guess))
    return new AppError('unsupported_media', `container "${guess}" is not accepted`, { details });
  return new AppError('invalid_media', `could not decode: truncated or corrupt ${guess} data`, { details });
}

/** Duration the container claims (0 if unknown). Only a hint: decoding enforces the real limit. */
function declaredDurationSec(fmt: FormatContext, stream: Stream): number {
  if (stream.duration > 0n) return (Number(stream.duration) * stream.timeBase.num) / stream.timeBase.den;
  if (fmt.duration > 0n) return Number(fmt.duration) / Number(AV_TIME_BASE);
  return 0;
}

/**
 * Duration from the packets themselves, for containers that declare none (MediaRecorder's WebM is
 * written live, so its header has no duration): demuxing only, no decoding.
 */
function scannedDurationSec(fmt: FormatContext, stream: Stream): number {
  const pkt = new Packet();
  pkt.alloc();
  let first: bigint | undefined;
  let end = 0n;
  try {
    while (fmt.readFrameSync(pkt) >= 0) {
      if (pkt.streamIndex === stream.index && pkt.pts >= 0n) {
        if (first === undefined || pkt.pts < first) first = pkt.pts;
        const packetEnd = pkt.pts + (pkt.duration > 0n ? pkt.duration : 0n);
        if (packetEnd > end) end = packetEnd;
      }
      pkt.unref();
    }
  } finally {
    pkt.free();
  }
  if (first === undefined) return 0;
  return (Number(end - first) * stream.timeBase.num) / stream.timeBase.den;
}

export function openDecoder(stream: Stream): CodecContext {
  const codec = Codec.findDecoder(stream.codecpar.codecId);
  if (!codec) throw new AppError('unsupported_media', `no decoder for audio codec id ${stream.codecpar.codecId}`);
  const dec = new CodecContext();
  dec.allocContext3(codec);
  dec.parametersToContext(stream.codecpar);
  dec.pktTimebase = stream.timeBase;
  dec.threadCount = 1; // one worker per core already; decoder threads would only fight over cores
  const ret = dec.open2Sync(codec, null);
  if (ret < 0) {
    dec.freeContext();
    throw new AppError('unsupported_media', `cannot open ${codec.name} decoder: ${errText(ret)}`);
  }
  return dec;
}

/**
 * Counts decode errors so a few damaged packets (common in real recordings) are tolerated, but
 * input that is mostly garbage is rejected instead of producing a silent or empty recording.
 */
export class DecodeHealth {
  packets = 0;
  errors = 0;
  lastError = 0;
  note(ret: number): void {
    this.packets++;
    if (ret < 0 && ret !== AVERROR_EAGAIN) {
      this.errors++;
      this.lastError = ret;
    }
  }
  check(samplesOut: number): void {
    if (samplesOut === 0) {
      const why = this.errors > 0 ? `: ${errText(this.lastError)}` : '';
      throw new AppError('invalid_media', `could not decode: truncated or corrupt data (no audio decoded${why})`);
    }
    if (this.errors > 20 && this.errors > this.packets / 10) {
      throw new AppError('invalid_media', `could not decode: truncated or corrupt data (${this.errors} bad packets)`);
    }
  }
}

/**
 * The writer for what `dec` decodes, created from the decoder's actual output format (some decoders only
 * know it after the first packet).
 */
export function openWriter(dec: CodecContext, outputPath: string, encoder: OpusEncoderSettings): OggOpusWriter {
  checkSampleRate(dec.sampleRate);
  return new OggOpusWriter(
    outputPath,
    {
      sampleRate: dec.sampleRate,
      sampleFormat: dec.sampleFormat,
      channels: dec.channelLayout.nbChannels,
      channelMask: dec.channelLayout.order === 1 ? dec.channelLayout.mask : 0n,
    },
    encoder,
  );
}

/**
 * Decode everything the decoder still has buffered (or all of it at EOF) into the writer, checking the
 * audio decoded so far against the budget after every frame.
 */
export function drainDecoder(dec: CodecContext, frame: Frame, writer: OggOpusWriter, budget: AudioBudget): void {
  for (;;) {
    const ret = dec.receiveFrameSync(frame);
    if (ret === AVERROR_EAGAIN || ret === AVERROR_EOF) return;
    if (ret < 0) return; // counted by the caller via sendPacket; keep going past a damaged frame
    writer.write(frame);
    frame.unref();
    budget.check(writer.durationSec);
  }
}

/** Wall time a worker spends in one synchronous slice before letting IPC (live sessions, cancel) run. */
const SLICE_MS = 40;
const yieldToEventLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

export interface FileJobControl {
  progress?: ProgressFn;
  /** Checked between slices; a true value stops the job with AppError internal "cancelled". */
  cancelled?: () => boolean;
  /** The input is raw PCM of this format. */
  pcm?: PcmFormat;
}

export async function transcodeFile(
  inputPath: string,
  outputPath: string,
  limits: FileJobLimits,
  encoder: OpusEncoderSettings = DEFAULT_ENCODER,
  control: FileJobControl = {},
): Promise<void> {
  const { progress, cancelled, pcm } = control;
  const { fmt, stream } = openAudioInput(inputPath, limits, pcm);
  const pkt = new Packet();
  pkt.alloc();
  const frame = new Frame();
  frame.alloc();
  let dec: CodecContext | undefined;
  let writer: OggOpusWriter | undefined;
  try {
    dec = openDecoder(stream);
    writer = openWriter(dec, outputPath, encoder);
    const health = new DecodeHealth();
    const budget = new AudioBudget(limits.maxDurationSec, () => Number(fmt.pbBytes));
    const total = declaredDurationSec(fmt, stream);
    const tb = stream.timeBase.num / stream.timeBase.den;
    let readErr = 0;
    let sliceStart = performance.now();
    for (let n = 1; ; n++) {
      // Check the clock every 64 packets only: performance.now() per packet would show in profiles.
      if ((n & 63) === 0 && performance.now() - sliceStart > SLICE_MS) {
        await yieldToEventLoop();
        if (cancelled?.()) throw new AppError('internal', 'normalize cancelled');
        sliceStart = performance.now();
      }
      const ret = fmt.readFrameSync(pkt);
      if (ret < 0) {
        if (ret !== AVERROR_EOF) readErr = ret;
        break;
      }
      if (pkt.streamIndex === stream.index) {
        health.note(dec.sendPacketSync(pkt));
        if (progress && total > 0 && pkt.pts >= 0n) progress(Math.min(1, (Number(pkt.pts) * tb) / total));
      }
      pkt.unref();
      drainDecoder(dec, frame, writer, budget);
    }
    dec.sendPacketSync(null);
    drainDecoder(dec, frame, writer, budget);
    health.check(writer.samplesOut);
    // A read error after plenty of good audio is a damaged tail; keep what decoded (like ffmpeg does),
    // unless it cut the file short of most of what the container promised.
    if (readErr < 0 && total > 0 && writer.durationSec < total * 0.5) {
      throw new AppError('invalid_media', `could not decode: truncated or corrupt data (${errText(readErr)})`);
    }
    writer.finish();
  } finally {
    writer?.close();
    dec?.freeContext();
    pkt.free();
    frame.free();
    fmt.closeInputSync();
  }
}

/** Facts about a (trusted or untrusted) audio file, without decoding it. */
export function probeFile(path: string, limits: FileJobLimits): AudioInfo {
  const { fmt, stream } = openAudioInput(path, { ...limits, maxDurationSec: Number.POSITIVE_INFINITY });
  try {
    const par = stream.codecpar;
    const sizeBytes = statSync(path).size;
    const durationSec = declaredDurationSec(fmt, stream) || scannedDurationSec(fmt, stream);
    let sampleRate = par.sampleRate;
    // Opus always decodes at 48 kHz; the OpusHead header records the rate it was encoded from.
    const extra = par.extradata;
    if (par.codecId === Codec.findDecoderByName('opus' as never)?.id && extra && extra.length >= 16) {
      const inputRate = extra.readUInt32LE(12);
      if (inputRate > 0) sampleRate = inputRate;
    }
    let bitrate = Number(par.bitRate);
    if (!(bitrate > 0)) bitrate = Number(fmt.bitRate);
    if (!(bitrate > 0) && durationSec > 0) bitrate = Math.round((sizeBytes * 8) / durationSec);
    return {
      container: fmt.iformat?.name ?? 'unknown',
      codec: Codec.findDecoder(par.codecId)?.name ?? String(par.codecId),
      sampleRate,
      channels: par.channelLayout.nbChannels,
      durationSec,
      bitrate,
      sizeBytes,
    };
  } finally {
    fmt.closeInputSync();
  }
}
