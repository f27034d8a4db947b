/**
 * One live session inside a media worker: container bytes arrive in order over IPC and are demuxed
 * incrementally through a custom AVIO read callback, decoded and appended to the Ogg/Opus output, so
 * that finish() only has to flush the last few frames.
 *
 * The demuxer reads with node-av's async API (custom JS read callbacks cannot be used with the Sync
 * variants). An async read that finds no data waits on a Promise, which parks one libuv pool thread,
 * so the pump only asks for a packet when at least READ_AHEAD bytes are queued (or input has ended):
 * in practice the callback never waits and many sessions share a worker without exhausting the pool.
 * Decoding and encoding stay synchronous: no JS callbacks are involved there.
 */
import { AVERROR_EOF, AVMEDIA_TYPE_AUDIO } from 'node-av/constants';
import type { CodecContext, Stream } from 'node-av/lib';
import { Dictionary, FFmpegError, FormatContext, Frame, IOContext, Packet } from 'node-av/lib';
import { AppError } from '../errors.ts';
import { tooLong } from './limits.ts';
import { OggOpusWriter } from './opus-writer.ts';
import { DecodeHealth, drainDecoder, openDecoder } from './transcode-file.ts';

/** Containers a browser/bot can stream live: WebM/Matroska, Ogg, (fragmented) MP4. */
const LIVE_DEMUXERS = 'matroska,webm,ogg,mov,mp4,m4a';
const LIVE_PROBE_BYTES = 256 * 1024;
/** AVIO buffer size: the most one read callback asks for. */
const IO_BUFFER = 4096;
/** Queued bytes required before asking the demuxer for a packet (unless input has ended). */
const READ_AHEAD = 32 * 1024;
/**
 * Backlog above which write acknowledgements are held back. Bounds memory per session and, because
 * the pump keeps up with everything acknowledged, bounds the work left for finish() (~30 s of audio
 * at 32 kbps, well under a second to transcode) even when a client sends faster than real time.
 */
const HIGH_WATER = 128 * 1024;

export class LiveSession {
  readonly outputPath: string;
  private readonly maxDurationSec: number;
  private chunks: Buffer[] = [];
  private queued = 0;
  private received = 0;
  private ended = false;
  private dataWaiter: (() => void) | null = null;
  private heldAcks: Array<() => void> = [];
  private pump: Promise<void> | null = null;
  private failure: unknown = null;
  private writer: OggOpusWriter | null = null;

  constructor(outputPath: string, maxDurationSec: number) {
    this.outputPath = outputPath;
    this.maxDurationSec = maxDurationSec;
  }

  /** Resolves once the chunk is queued and the backlog is below HIGH_WATER. */
  write(chunk: Buffer): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.ended) return Promise.reject(new AppError('bad_request', 'live session already finished'));
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.queued += chunk.length;
      this.received += chunk.length;
    }
    if (!this.pump && this.queued >= READ_AHEAD) this.pump = this.run();
    this.wake();
    if (this.queued < HIGH_WATER) return Promise.resolve();
    return new Promise((resolve) => this.heldAcks.push(resolve));
  }

  /** End of input: demux what's left, finalise the Ogg file. Returns when the file is complete. */
  async finish(): Promise<void> {
    if (this.failure) throw this.failure;
    this.ended = true;
    if (this.received === 0) throw new AppError('invalid_media', 'live stream ended without any data');
    this.pump ??= this.run();
    this.wake();
    await this.pump;
    if (this.failure) throw this.failure;
  }

  /** Stop at once; the output file may remain partial. */
  async abort(): Promise<void> {
    this.failure ??= new AppError('internal', 'live session aborted');
    this.ended = true;
    this.chunks = [];
    this.queued = 0;
    this.wake();
    this.releaseAcks();
    await this.pump?.catch(() => {});
  }

  private wake(): void {
    const w = this.dataWaiter;
    this.dataWaiter = null;
    w?.();
  }

  private releaseAcks(): void {
    if (this.queued >= HIGH_WATER && !this.failure) return;
    const acks = this.heldAcks;
    this.heldAcks = [];
    for (const a of acks) a();
  }

  private waitForData(): Promise<void> {
    return new Promise((resolve) => {
      this.dataWaiter = resolve;
    });
  }

  /** Copy up to `size` queued bytes out for the demuxer. */
  private take(size: number): Buffer {
    const parts: Buffer[] = [];
    let n = 0;
    while (n < size && this.chunks.length > 0) {
      const head = this.chunks[0]!;
      const want = size - n;
      if (head.length <= want) {
        parts.push(head);
        n += head.length;
        this.chunks.shift();
      } else {
        parts.push(head.subarray(0, want));
        this.chunks[0] = head.subarray(want);
        n += want;
      }
    }
    this.queued -= n;
    this.releaseAcks();
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, n);
  }

  private read = async (size: number): Promise<Buffer | number> => {
    while (this.queued === 0) {
      if (this.ended) return AVERROR_EOF;
      await this.waitForData();
    }
    return this.take(size);
  };

  private async run(): Promise<void> {
    const io = new IOContext();
    io.allocContextWithCallbacks(IO_BUFFER, 0, this.read, null, null);
    const fmt = new FormatContext();
    fmt.allocContext();
    fmt.pb = io;
    let dec: CodecContext | undefined;
    const pkt = new Packet();
    pkt.alloc();
    const frame = new Frame();
    frame.alloc();
    let opened = false;
    try {
      const opts = new Dictionary();
      opts.set('format_whitelist', LIVE_DEMUXERS);
      opts.set('protocol_whitelist', 'file');
      opts.set('probesize', String(LIVE_PROBE_BYTES));
      opts.set('analyzeduration', '1000000');
      let ret = await fmt.openInput('', null, opts);
      if (ret < 0) {
        throw new AppError(
          'invalid_media',
          `could not recognise the live stream (expected WebM, Ogg or MP4 audio): ${FFmpegError.strerror(ret)}`,
        );
      }
      opened = true;
      ret = await fmt.findStreamInfo(null);
      if (ret < 0)
        throw new AppError('invalid_media', `could not read live stream information: ${FFmpegError.strerror(ret)}`);
      const idx = fmt.findBestStream(AVMEDIA_TYPE_AUDIO);
      const stream: Stream | undefined = idx >= 0 ? fmt.streams[idx] : undefined;
      if (!stream) throw new AppError('unsupported_media', 'no audio stream found in the live stream');
      dec = openDecoder(stream);
      const health = new DecodeHealth();
      for (;;) {
        while (!this.ended && this.queued < READ_AHEAD) await this.waitForData();
        if (this.failure) return;
        ret = await fmt.readFrame(pkt);
        if (ret < 0) break; // EOF, or a damaged tail: keep what decoded
        if (pkt.streamIndex === stream.index) {
          health.note(dec.sendPacketSync(pkt));
          this.writer ??= this.openWriter(dec);
        }
        pkt.unref();
        if (this.writer) drainDecoder(dec, frame, this.writer, this.maxDurationSec);
      }
      if (this.failure) return;
      dec.sendPacketSync(null);
      this.writer ??= this.openWriter(dec);
      drainDecoder(dec, frame, this.writer, this.maxDurationSec);
      health.check(this.writer.samplesOut);
      if (this.writer.durationSec > this.maxDurationSec) throw tooLong(this.writer.durationSec, this.maxDurationSec);
      this.writer.finish();
    } catch (err) {
      this.failure ??= err;
    } finally {
      this.writer?.close();
      dec?.freeContext();
      pkt.free();
      frame.free();
      if (opened) await fmt.closeInput();
      else fmt.freeContext();
      io.freeContext();
      this.chunks = [];
      this.queued = 0;
      this.releaseAcks();
    }
  }

  /**
   * The writer is created from the decoder's actual output format, which some decoders only know
   * after the first packet.
   */
  private openWriter(dec: CodecContext): OggOpusWriter {
    return new OggOpusWriter(this.outputPath, {
      sampleRate: dec.sampleRate,
      sampleFormat: dec.sampleFormat,
      channels: dec.channelLayout.nbChannels,
      channelMask: dec.channelLayout.order === 1 ? dec.channelLayout.mask : 0n,
    });
  }
}
