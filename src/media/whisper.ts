/**
 * Local speech to text, as it runs inside a media worker: the recording is decoded here and fed through
 * FFmpeg's `whisper` filter (whisper.cpp, FFmpeg 8), which node-av's FFmpeg build includes on the
 * platforms it ships. The filter reports its segments with their times only through its `destination`
 * output, so it writes SubRip to a work file that is read back once the graph is freed (which closes it).
 *
 * The graph is built filter by filter rather than from a description string, so the model's path and
 * the work file's need no filtergraph escaping whatever characters they hold. whisper.cpp is given
 * 30-second windows (its own context length: smaller ones cost accuracy) and the CPU (use_gpu=0: GPU
 * backends can crash while probing on machines without one). The filter runs when frames are pulled from
 * the sink; that pull is node-av's asynchronous call, so inference happens on a libuv thread and live
 * sessions pinned to this worker keep flowing meanwhile.
 */
import { readFileSync, rmSync, statSync } from 'node:fs';
import { AVERROR_EAGAIN, AVERROR_EOF, type AVSampleFormat } from 'node-av/constants';
import {
  avChannelLayoutDescribe,
  avGetSampleFmtName,
  Dictionary,
  FFmpegError,
  Filter,
  type FilterContext,
  FilterGraph,
  Frame,
  Packet,
} from 'node-av/lib';
import { AppError } from '../errors.ts';
import { openAudioInput, openDecoder } from './transcode-file.ts';

export interface WhisperJob {
  input: string;
  /** Where the filter writes its SubRip output (a work file; removed afterwards). */
  work: string;
  modelPath: string;
  language: string | null;
  maxProbeBytes: number;
}

export interface WhisperSegment {
  start: number;
  end: number;
  text: string;
}

const WINDOW_SECONDS = '30';

export const whisperFilterAvailable = (): boolean => Filter.getByName('whisper') !== null;

/** The filter's SubRip output: `n`, `HH:MM:SS,mmm --> HH:MM:SS,mmm`, text, blank line. */
export function parseWhisperSrt(srt: string): WhisperSegment[] {
  const seconds = (h: string, m: string, s: string, ms: string) => +h * 3600 + +m * 60 + +s + +ms / 1000;
  const cue = /^\d+\n(\d+):(\d\d):(\d\d),(\d{3}) --> (\d+):(\d\d):(\d\d),(\d{3})\n([\s\S]*?)(?:\n\n|\n?$)/gm;
  return [...srt.replaceAll('\r\n', '\n').matchAll(cue)].map((m) => ({
    start: seconds(m[1]!, m[2]!, m[3]!, m[4]!),
    end: seconds(m[5]!, m[6]!, m[7]!, m[8]!),
    text: m[9]!.trim(),
  }));
}

function whisperFilter(graph: FilterGraph, job: WhisperJob): FilterContext {
  const filter = Filter.getByName('whisper');
  if (!filter) {
    throw new AppError(
      'transcription_unavailable',
      "this server's FFmpeg (node-av) has no whisper filter: local transcription cannot run here; use TRANSCRIBE_PROVIDER=openai",
    );
  }
  if (!statSync(job.modelPath, { throwIfNoEntry: false })?.isFile()) {
    throw new AppError(
      'transcription_unavailable',
      `the whisper model file ${job.modelPath} (WHISPER_MODEL) is missing`,
    );
  }
  const context = graph.allocFilter(filter, 'whisper');
  if (!context) throw new AppError('internal', 'could not allocate the whisper filter');
  const options = Dictionary.fromObject({
    model: job.modelPath,
    language: job.language ?? 'auto',
    queue: WINDOW_SECONDS,
    use_gpu: '0',
    destination: `file:${job.work}`,
    format: 'srt',
  });
  // Loads the model: a missing or foreign file fails here, before any audio is decoded.
  const ret = context.init(options.getNative());
  options.free();
  if (ret < 0) {
    throw new AppError(
      'transcription_unavailable',
      `could not load the whisper model ${job.modelPath} (WHISPER_MODEL): it is not a whisper.cpp ggml model, or it is damaged (${FFmpegError.strerror(ret)})`,
    );
  }
  return context;
}

/** abuffer → whisper → abuffersink, the source shaped like the decoder's frames (FFmpeg converts to 16 kHz mono float). */
function connect(
  graph: FilterGraph,
  whisper: FilterContext,
  frame: Frame,
): { source: FilterContext; sink: FilterContext } {
  const layout = avChannelLayoutDescribe(frame.channelLayout) ?? 'mono';
  const args =
    `time_base=1/${frame.sampleRate}:sample_rate=${frame.sampleRate}:` +
    `sample_fmt=${avGetSampleFmtName(frame.format as AVSampleFormat)}:channel_layout=${layout}`;
  const source = graph.createFilter(Filter.getByName('abuffer')!, 'in', args);
  const sink = graph.createFilter(Filter.getByName('abuffersink')!, 'out', null);
  if (!source || !sink) throw new AppError('internal', 'could not create the whisper filter graph');
  check(source.link(0, whisper, 0), 'link');
  check(whisper.link(0, sink, 0), 'link');
  check(graph.configSync(), 'configure the whisper filter graph');
  return { source, sink };
}

function check(ret: number, what: string): void {
  if (ret < 0) throw new AppError('internal', `whisper: could not ${what}: ${FFmpegError.strerror(ret)}`);
}

/** Pulls (and drops) what the sink has; the whisper filter does its work during these pulls. */
async function drain(sink: FilterContext, out: Frame): Promise<boolean> {
  for (;;) {
    const ret = await sink.buffersinkGetFrame(out);
    if (ret === AVERROR_EAGAIN) return false;
    if (ret === AVERROR_EOF) return true;
    check(ret, 'run the whisper filter');
    out.unref();
  }
}

export async function transcribeWithWhisper(job: WhisperJob, cancelled: () => boolean): Promise<WhisperSegment[]> {
  const graph = new FilterGraph();
  graph.alloc();
  const pkt = new Packet();
  pkt.alloc();
  const frame = new Frame();
  frame.alloc();
  const out = new Frame();
  out.alloc();
  let input: ReturnType<typeof openAudioInput> | undefined;
  let dec: ReturnType<typeof openDecoder> | undefined;
  try {
    const whisper = whisperFilter(graph, job);
    input = openAudioInput(job.input, { maxDurationSec: Number.POSITIVE_INFINITY, maxProbeBytes: job.maxProbeBytes });
    dec = openDecoder(input.stream);
    let ends: { source: FilterContext; sink: FilterContext } | undefined;
    const feed = async () => {
      for (;;) {
        const ret = dec!.receiveFrameSync(frame);
        if (ret === AVERROR_EAGAIN || ret === AVERROR_EOF) return;
        if (ret < 0) continue; // a damaged frame: whisper hears a short gap
        ends ??= connect(graph, whisper, frame);
        check(await ends.source.buffersrcAddFrame(frame), 'feed the whisper filter');
        frame.unref();
        await drain(ends.sink, out);
        if (cancelled()) throw new AppError('internal', 'transcription cancelled');
      }
    };
    while (input.fmt.readFrameSync(pkt) >= 0) {
      if (pkt.streamIndex === input.stream.index) dec.sendPacketSync(pkt);
      pkt.unref();
      await feed();
    }
    dec.sendPacketSync(null);
    await feed();
    if (ends) {
      check(await ends.source.buffersrcAddFrame(null), 'end the whisper input');
      // The last window is transcribed while the end of the stream is pulled through.
      await drain(ends.sink, out);
    }
  } finally {
    dec?.freeContext();
    input?.fmt.closeInputSync();
    pkt.free();
    frame.free();
    out.free();
    graph.free(); // closes the filter's output file
  }
  try {
    return parseWhisperSrt(readFileSync(job.work, 'utf8'));
  } finally {
    rmSync(job.work, { force: true });
  }
}
