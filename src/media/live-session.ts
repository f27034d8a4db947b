/**
 * One live session inside a media worker: the API process appends the container bytes, in order, to
 * the recording's raw log (its durable copy of what the client sent) and then tells us how long the
 * log now is; we demux the new bytes straight from that file, decode them and append them to the
 * Ogg/Opus output as they arrive, so that finish() only has to flush the last few seconds. The audio
 * itself never crosses IPC and is written to disk once: our read(2) sees what the API process has
 * written whether or not it has fsynced it yet (the page cache is shared).
 *
 * Everything runs on node-av's *synchronous* API. An earlier version fed the demuxer through a custom
 * AVIO read callback, which node-av only supports with the async API: every packet (50 a second per
 * session) then cost a libuv thread-pool hop and every read a cross-thread JS call, and the thread
 * wake-ups cost about as much CPU as decoding and encoding together. Here FFmpeg reads the raw log
 * through the `pipe:` protocol (a plain, non-seekable read of an fd we opened, so demuxers behave as on
 * a live stream and never seek ahead), and a packet is only asked for while at least READ_AHEAD bytes
 * of what we were told is written lie beyond what the demuxer has consumed: a read therefore never
 * reaches the end of the file (which FFmpeg would take as the end of the stream) until the input really
 * has ended. The log is only ever appended to, so bytes we were told about never change under us. Work
 * is done in slices of SLICE_MS so a burst on one session (a client catching up) cannot stall the others.
 */
import { closeSync, openSync } from 'node:fs';
import { AVMEDIA_TYPE_AUDIO } from 'node-av/constants';
import type { CodecContext, Stream } from 'node-av/lib';
import { Dictionary, FFmpegError, FormatContext, Frame, InputFormat, Packet } from 'node-av/lib';
import { AppError } from '../errors.ts';
import { AudioBudget, type LivePace } from './audio-budget.ts';
import { type PcmFormat, pcmBytesPerSecond, pcmDemuxer, pcmOptions } from './input-format.ts';
import { checkSampleRate } from './limits.ts';
import { DEFAULT_ENCODER, type OggOpusWriter, type OpusEncoderSettings } from './opus-writer.ts';
import { DecodeHealth, drainDecoder, openDecoder, openWriter } from './transcode-file.ts';

/** Containers a browser/bot can stream live: WebM/Matroska, Ogg, (fragmented) MP4. */
const LIVE_DEMUXERS = 'matroska,webm,ogg,mov,mp4,m4a';
/** Probe limit once the input has ended (a short recording is opened all at once). */
const LIVE_PROBE_BYTES = 256 * 1024;
/** Largest single read(2) FFmpeg makes on the raw log (the pipe protocol's `blocksize`). */
const READ_BLOCK = 4096;
/**
 * Bytes of the raw log written before the demuxer is opened, and the probe limit while more input may
 * follow: probing plus one read stay well inside what is on disk. Browser headers take a few hundred bytes.
 */
const OPEN_BYTES = 32 * 1024;
const OPEN_PROBE_BYTES = 8 * 1024;
/**
 * Bytes that must lie beyond the demuxer's position before it is asked for a packet (unless input has
 * ended): one read plus room for the largest packet (Opus/AAC packets are a few hundred bytes). A
 * container element larger than that before the input ends makes the session fail (the live layer
 * then re-transcodes from its raw log); it can never produce a truncated file.
 */
const READ_AHEAD = 16 * 1024;
/**
 * FFmpeg's raw PCM demuxer reads packets of up to 100 ms (libavformat/pcm.c, PCM_DEMUX_TARGET_FPS): that
 * much, plus one read, must lie ahead. Under HIGH_WATER for any accepted PCM (192 kHz stereo float: 158 kB).
 */
const pcmReadAhead = (pcm: PcmFormat): number =>
  Math.max(READ_AHEAD, Math.ceil(pcmBytesPerSecond(pcm) / 10) + READ_BLOCK);
/**
 * Backlog above which advance() acknowledgements are held back. Bounds the work left for finish() (~1 min
 * of audio at 32 kbps, well under a second to transcode) even when a client sends faster than real time.
 */
const HIGH_WATER = 256 * 1024;
/** Synchronous work per turn of the event loop before yielding to other sessions and IPC. */
const SLICE_MS = 20;

type State = 'waiting' | 'open' | 'done';

export class LiveSession {
  readonly outputPath: string;
  private readonly inputPath: string;
  private readonly encoder: OpusEncoderSettings;
  /** Raw PCM as the client declared it; undefined: a container, recognised from the bytes. */
  private readonly pcm: PcmFormat | undefined;
  /** Bytes beyond the demuxer's position before it is asked for a packet (see READ_AHEAD). */
  private readonly readAhead: number;
  /** Opened with the demuxer: the API process may create the raw log only after it opened this session. */
  private readFd = -1;
  /** Bytes of the raw log the API process has told us are written. */
  private written = 0;
  private ended = false;
  private state: State = 'waiting';
  private failure: unknown = null;
  private heldAcks: Array<() => void> = [];
  private finishWaiters: Array<{ resolve: () => void; reject: (err: unknown) => void }> = [];
  private scheduled = false;
  private released = false;
  private fmt: FormatContext | null = null;
  private opened = false;
  private stream: Stream | null = null;
  private dec: CodecContext | null = null;
  private readonly pkt = new Packet();
  private readonly frame = new Frame();
  private readonly health = new DecodeHealth();
  private readonly budget: AudioBudget;
  private writer: OggOpusWriter | null = null;

  /**
   * With `pace`, the audio may not run ahead of the time since the session started (audio-budget.ts);
   * with `pcm`, the input is raw PCM of that format instead of a container.
   */
  constructor(
    outputPath: string,
    inputPath: string,
    maxDurationSec: number,
    encoder: OpusEncoderSettings = DEFAULT_ENCODER,
    pace?: LivePace,
    pcm?: PcmFormat,
  ) {
    this.outputPath = outputPath;
    this.inputPath = inputPath;
    this.encoder = encoder;
    this.pcm = pcm;
    this.readAhead = pcm ? pcmReadAhead(pcm) : READ_AHEAD;
    this.budget = new AudioBudget(maxDurationSec, () => (this.opened ? Number(this.fmt!.pbBytes) : 0), pace);
    this.pkt.alloc();
    this.frame.alloc();
  }

  /**
   * The raw log now holds `total` bytes (already written to it). Resolves once the backlog is below
   * HIGH_WATER.
   */
  advance(total: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.ended) return Promise.reject(new AppError('bad_request', 'live session already finished'));
    if (total > this.written) this.written = total;
    this.pump();
    if (this.failure) return Promise.reject(this.failure);
    if (this.backlog() < HIGH_WATER) return Promise.resolve();
    return new Promise((resolve) => this.heldAcks.push(resolve));
  }

  /**
   * End of input: the raw log is complete. Demux what's left (to the end of the file), finalise the Ogg
   * file. Returns when the file is complete.
   */
  finish(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    this.ended = true;
    if (this.written === 0) {
      this.fail(new AppError('invalid_media', 'live stream ended without any data'));
      return Promise.reject(this.failure);
    }
    const done = new Promise<void>((resolve, reject) => this.finishWaiters.push({ resolve, reject }));
    this.pump();
    return done;
  }

  /** Stop at once; the output file may remain partial. */
  async abort(): Promise<void> {
    this.fail(new AppError('internal', 'live session aborted'));
  }

  /** Bytes of the raw log written but not yet consumed by the demuxer. */
  private backlog(): number {
    return this.written - (this.opened ? Number(this.fmt!.pbBytes) : 0);
  }

  private pump(): void {
    if (this.scheduled || this.state === 'done') return;
    try {
      const more = this.step(performance.now() + SLICE_MS);
      if (more) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.pump();
        });
      }
    } catch (err) {
      this.fail(err);
      return;
    }
    if (this.backlog() < HIGH_WATER) this.releaseAcks();
  }

  /** Work until out of data or time; true if there is more to do right away. */
  private step(deadline: number): boolean {
    if (this.state === 'waiting') {
      // Raw PCM has nothing to probe: it opens as soon as its first packet can be read.
      if (!this.ended && this.written < (this.pcm ? this.readAhead : OPEN_BYTES)) return false;
      this.open();
    }
    const fmt = this.fmt!;
    const dec = this.dec!;
    for (let n = 1; ; n++) {
      if (!this.ended && this.written - Number(fmt.pbBytes) < this.readAhead) return false;
      if ((n & 15) === 0 && performance.now() > deadline) return true;
      const ret = fmt.readFrameSync(this.pkt);
      if (ret < 0) {
        if (!this.ended) {
          throw new AppError('invalid_media', `could not read the live stream: ${FFmpegError.strerror(ret)}`);
        }
        break; // EOF, or a damaged tail: keep what decoded
      }
      if (this.pkt.streamIndex === this.stream!.index) {
        this.health.note(dec.sendPacketSync(this.pkt));
        this.writer ??= openWriter(dec, this.outputPath, this.encoder);
      }
      this.pkt.unref();
      if (this.writer) drainDecoder(dec, this.frame, this.writer, this.budget);
    }
    dec.sendPacketSync(null);
    this.writer ??= openWriter(dec, this.outputPath, this.encoder);
    drainDecoder(dec, this.frame, this.writer, this.budget);
    this.health.check(this.writer.samplesOut);
    this.writer.finish();
    this.release();
    this.state = 'done';
    for (const w of this.finishWaiters.splice(0)) w.resolve();
    return false;
  }

  private open(): void {
    this.readFd = openSync(this.inputPath, 'r');
    const fmt = new FormatContext();
    this.fmt = fmt;
    const opts = new Dictionary();
    opts.set('format_whitelist', this.pcm ? pcmDemuxer(this.pcm) : LIVE_DEMUXERS);
    for (const [key, value] of Object.entries(this.pcm ? pcmOptions(this.pcm) : {})) opts.set(key, value);
    opts.set('protocol_whitelist', 'pipe');
    opts.set('probesize', String(this.ended ? LIVE_PROBE_BYTES : OPEN_PROBE_BYTES));
    opts.set('analyzeduration', '1000000');
    opts.set('blocksize', String(READ_BLOCK));
    const format = this.pcm ? InputFormat.findInputFormat(pcmDemuxer(this.pcm)) : null;
    let ret = fmt.openInputSync(`pipe:${this.readFd}`, format, opts);
    opts.free();
    if (ret < 0) {
      throw new AppError(
        'invalid_media',
        `could not recognise the live stream (expected WebM, Ogg or MP4 audio): ${FFmpegError.strerror(ret)}`,
      );
    }
    this.opened = true;
    ret = fmt.findStreamInfoSync(null);
    if (ret < 0)
      throw new AppError('invalid_media', `could not read live stream information: ${FFmpegError.strerror(ret)}`);
    const idx = fmt.findBestStream(AVMEDIA_TYPE_AUDIO);
    const stream = idx >= 0 ? fmt.streams[idx] : undefined;
    if (!stream) throw new AppError('unsupported_media', 'no audio stream found in the live stream');
    if (stream.codecpar.sampleRate > 0) checkSampleRate(stream.codecpar.sampleRate);
    this.stream = stream;
    this.dec = openDecoder(stream);
    this.state = 'open';
  }

  private fail(err: unknown): void {
    this.failure ??= err;
    this.ended = true;
    this.release();
    this.state = 'done';
    this.releaseAcks();
    for (const w of this.finishWaiters.splice(0)) w.reject(this.failure);
  }

  private releaseAcks(): void {
    const acks = this.heldAcks;
    this.heldAcks = [];
    for (const a of acks) a();
  }

  /** Free everything native and close our fd on the raw log (the file is the API process's). Safe to call twice. */
  private release(): void {
    if (this.released) return;
    this.released = true;
    this.writer?.close();
    this.dec?.freeContext();
    this.pkt.free();
    this.frame.free();
    if (this.opened) this.fmt?.closeInputSync();
    else this.fmt?.freeContext();
    if (this.readFd >= 0) closeSync(this.readFd);
    this.readFd = -1;
  }
}
