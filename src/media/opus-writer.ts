/**
 * Decoded audio frames in, Ogg/Opus file out (16 kHz, mono, 24 kbps, application=voip).
 *
 * Runs inside a media worker process and uses node-av's *synchronous* low-level API on purpose: the
 * worker is allowed to block, and every async call costs a libuv thread-pool hop. With ~50 frames per
 * second of audio and four stages (filter in/out, encode in/out) the hops alone made the async API
 * several times slower than the ffmpeg CLI.
 *
 * Resampling, downmixing and re-framing all happen in one libavfilter graph (C code, no per-sample JS):
 * aresample -> aformat(flt, mono, 16 kHz) -> asetnsamples=320 because libopus wants exactly 20 ms frames.
 */
import {
  AV_CHANNEL_LAYOUT_MONO,
  AV_CODEC_FLAG_GLOBAL_HEADER,
  AV_SAMPLE_FMT_FLT,
  AVERROR_EAGAIN,
  AVERROR_EOF,
  AVFMT_GLOBALHEADER,
  AVIO_FLAG_WRITE,
  FF_ENCODER_LIBOPUS,
} from 'node-av/constants';
import type { FilterContext, Stream } from 'node-av/lib';
import {
  avGetSampleFmtName,
  Codec,
  CodecContext,
  Filter,
  FilterGraph,
  FilterInOut,
  FormatContext,
  Frame,
  IOContext,
  Packet,
  Rational,
} from 'node-av/lib';
import { AppError } from '../errors.ts';

export const OUTPUT_SAMPLE_RATE = 16_000;
export const OUTPUT_BITRATE = 24_000;
/** 20 ms at 16 kHz: the frame size libopus is configured for. */
const FRAME_SAMPLES = 320;

/** libopus encoder tuning. */
export interface OpusEncoderSettings {
  /** libopus complexity 0..10 (FFmpeg's `compression_level`): CPU per frame vs. quality at the same bitrate. */
  complexity: number;
}

export const DEFAULT_ENCODER: OpusEncoderSettings = { complexity: 10 };

/** What the writer needs to know about the decoded frames it will receive. */
export interface InputAudioFormat {
  sampleRate: number;
  sampleFormat: number;
  channels: number;
  /** Channel layout mask, 0 if unknown (then a default layout for the channel count is used). */
  channelMask: bigint;
}

const fail = (what: string, ret: number): never => {
  throw new AppError('internal', `opus writer: ${what} failed (${ret})`);
};

export class OggOpusWriter {
  private readonly out: FormatContext;
  private readonly io: IOContext;
  private readonly enc: CodecContext;
  private readonly graph: FilterGraph;
  private readonly src: FilterContext;
  private readonly sink: FilterContext;
  private readonly outStream: Stream;
  private readonly filtered = new Frame();
  private readonly pkt = new Packet();
  private readonly input: InputAudioFormat;
  private nextPts = 0n;
  private closed = false;
  /** Samples (at 16 kHz) handed to the encoder so far; the output duration. */
  samplesOut = 0;

  constructor(outputPath: string, input: InputAudioFormat, encoder: OpusEncoderSettings = DEFAULT_ENCODER) {
    this.input = input;
    this.filtered.alloc();
    this.pkt.alloc();

    const codec = Codec.findEncoderByName(FF_ENCODER_LIBOPUS);
    if (!codec) throw new AppError('internal', 'libopus encoder is not available in this FFmpeg build');
    this.enc = new CodecContext();
    this.enc.allocContext3(codec);
    this.enc.sampleRate = OUTPUT_SAMPLE_RATE;
    this.enc.channelLayout = AV_CHANNEL_LAYOUT_MONO;
    this.enc.sampleFormat = AV_SAMPLE_FMT_FLT;
    this.enc.bitRate = BigInt(OUTPUT_BITRATE);
    this.enc.timeBase = new Rational(1, OUTPUT_SAMPLE_RATE);

    this.out = new FormatContext();
    let ret = this.out.allocOutputContext2(null, 'ogg', outputPath);
    if (ret < 0) fail('allocOutputContext2', ret);
    if ((this.out.oformat?.flags ?? 0) & AVFMT_GLOBALHEADER) this.enc.setFlags(AV_CODEC_FLAG_GLOBAL_HEADER);

    // Private libopus options set on the context: passing a Dictionary to node-av's open2Sync
    // double-frees it at exit (FFmpeg replaces the dictionary; the JS wrapper keeps the old pointer).
    this.enc.setOption('application', 'voip');
    this.enc.setOption('frame_duration', '20');
    if (this.enc.setOption('compression_level', String(encoder.complexity)) < 0) fail('set complexity', -1);
    ret = this.enc.open2Sync(codec, null);
    if (ret < 0) fail('libopus open', ret);

    this.outStream = this.out.newStream(null);
    this.outStream.codecpar.fromContext(this.enc);
    this.outStream.timeBase = new Rational(1, OUTPUT_SAMPLE_RATE);
    this.io = new IOContext();
    ret = this.io.open2Sync(outputPath, AVIO_FLAG_WRITE);
    if (ret < 0) throw new AppError('internal', `cannot open output file ${outputPath} (${ret})`);
    this.out.pb = this.io;
    ret = this.out.writeHeaderSync(null);
    if (ret < 0) fail('ogg writeHeader', ret);

    ({ graph: this.graph, src: this.src, sink: this.sink } = this.buildGraph());
  }

  private buildGraph(): { graph: FilterGraph; src: FilterContext; sink: FilterContext } {
    const { sampleRate, sampleFormat, channels, channelMask } = this.input;
    const graph = new FilterGraph();
    graph.alloc();
    graph.nbThreads = 1; // audio graphs gain nothing from threads; workers already use every core
    const layout = channelMask > 0n ? `0x${channelMask.toString(16)}` : `${channels}c`;
    const fmtName = avGetSampleFmtName(sampleFormat as never);
    const src = graph.createFilter(
      Filter.getByName('abuffer')!,
      'in',
      `time_base=1/${sampleRate}:sample_rate=${sampleRate}:sample_fmt=${fmtName}:channel_layout=${layout}`,
    );
    const sink = graph.createFilter(Filter.getByName('abuffersink')!, 'out', null);
    if (!src || !sink) fail('filter creation', -1);
    const outputs = new FilterInOut();
    outputs.alloc();
    outputs.name = 'in';
    outputs.filterCtx = src;
    outputs.padIdx = 0;
    const inputs = new FilterInOut();
    inputs.alloc();
    inputs.name = 'out';
    inputs.filterCtx = sink;
    inputs.padIdx = 0;
    const spec =
      `aresample=${OUTPUT_SAMPLE_RATE},aformat=sample_fmts=flt:channel_layouts=mono:sample_rates=${OUTPUT_SAMPLE_RATE},` +
      `asetnsamples=n=${FRAME_SAMPLES}:p=0`;
    let ret = graph.parsePtr(spec, inputs, outputs);
    if (ret < 0) fail('filter parse', ret);
    ret = graph.configSync();
    if (ret < 0) fail('filter config', ret);
    return { graph, src: src!, sink: sink! };
  }

  /**
   * Feed one decoded frame. Timestamps are regenerated from the sample count: the output is a
   * continuous recording starting at 0, whatever gaps or offsets the input container had.
   */
  write(frame: Frame): void {
    const { sampleRate, sampleFormat, channels } = this.input;
    if (frame.sampleRate !== sampleRate || frame.format !== sampleFormat || frame.channels !== channels) {
      // Rebuilding the graph mid-stream would emit a short Opus frame, which libopus only accepts last.
      throw new AppError(
        'invalid_media',
        `audio format changes mid-stream (${sampleRate} Hz/${channels} ch to ${frame.sampleRate} Hz/${frame.channels} ch), which is not supported`,
      );
    }
    frame.pts = this.nextPts;
    this.nextPts += BigInt(frame.nbSamples);
    const ret = this.src.buffersrcAddFrameSync(frame);
    if (ret < 0) fail('filter input', ret);
    this.drainFilter();
  }

  private drainFilter(): void {
    for (;;) {
      const ret = this.sink.buffersinkGetFrameSync(this.filtered);
      if (ret === AVERROR_EAGAIN || ret === AVERROR_EOF) return;
      if (ret < 0) fail('filter output', ret);
      this.filtered.pts = BigInt(this.samplesOut);
      this.samplesOut += this.filtered.nbSamples;
      const sent = this.enc.sendFrameSync(this.filtered);
      this.filtered.unref();
      if (sent < 0) fail('encode', sent);
      this.drainEncoder();
    }
  }

  private drainEncoder(): void {
    for (;;) {
      const ret = this.enc.receivePacketSync(this.pkt);
      if (ret === AVERROR_EAGAIN || ret === AVERROR_EOF) return;
      if (ret < 0) fail('encode output', ret);
      this.pkt.streamIndex = 0;
      this.pkt.rescaleTs(this.enc.timeBase, this.outStream.timeBase);
      const w = this.out.writeFrameSync(this.pkt);
      this.pkt.unref();
      if (w < 0) fail('ogg write', w);
    }
  }

  get durationSec(): number {
    return this.samplesOut / OUTPUT_SAMPLE_RATE;
  }

  /** Flush filter and encoder, write the Ogg trailer (last granule position) and close the file. */
  finish(): void {
    if (this.closed) return;
    let ret = this.src.buffersrcAddFrameSync(null);
    if (ret < 0) fail('filter flush', ret);
    this.drainFilter();
    ret = this.enc.sendFrameSync(null);
    if (ret < 0 && ret !== AVERROR_EOF) fail('encoder flush', ret);
    this.drainEncoder();
    ret = this.out.writeTrailerSync();
    if (ret < 0) fail('ogg trailer', ret);
    this.close();
  }

  /** Release everything; the file stays as far as it was written. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.io.closepSync();
    this.out.pb = null as never;
    this.out.freeContext();
    this.graph.free();
    this.enc.freeContext();
    this.filtered.free();
    this.pkt.free();
  }
}
