/**
 * Encoding at the edge: the browser's own Opus encoder (WebCodecs `AudioEncoder`) makes exactly the
 * stored format, 16 kHz mono 24 kbps in 20 ms packets, and the page sends those packets as raw Opus
 * (`"format": "opus"`, opus-stream.ts). The server then only checks them and writes them into its Ogg
 * file: no decode, no encode, about a tenth of the server's work per session (BENCHMARKS.md).
 *
 * The captured mix runs at 16 kHz (capture.ts, `sampleRate`), and a MediaStreamTrackProcessor hands its
 * audio to the encoder as AudioData. Chromium has both; elsewhere edgeEncodingSupported() is false and
 * the page records with MediaRecorder instead.
 */

import { framePacket, oggOpusFile, opusHeadFromEncoder, STORED_FORMAT_ENCODER } from '@earshot/live-client';
import type { Encoding } from './encoding.ts';

/** The stored format's rate: the capture runs at it when the page encodes at the edge. */
export const EDGE_SAMPLE_RATE = STORED_FORMAT_ENCODER.sampleRate;

const CONFIG: AudioEncoderConfig = STORED_FORMAT_ENCODER;
/** Samples (48 kHz) in one 20 ms packet. */
const PACKET_SAMPLES = 960;
/** Packets are handed over in batches this long: the most audio a crash of the page can lose. */
const BATCH_MS = 500;

/** Chromium's track reader (not in TypeScript's DOM types). */
interface TrackProcessor {
  readable: ReadableStream<AudioData>;
}
type TrackProcessorClass = new (init: { track: MediaStreamTrack }) => TrackProcessor;
const TrackProcessor = (globalThis as { MediaStreamTrackProcessor?: TrackProcessorClass }).MediaStreamTrackProcessor;

/** Whether this browser can encode the stored format itself. */
export async function edgeEncodingSupported(): Promise<boolean> {
  if (typeof AudioEncoder === 'undefined' || !TrackProcessor) return false;
  try {
    return (await AudioEncoder.isConfigSupported(CONFIG)).supported === true;
  } catch {
    return false;
  }
}

/** The OpusHead for the encoder's `decoderConfig.description` (opus-stream.ts fixes Chromium's pre-skip). */
function storedHead(description: AllowSharedBufferSource | undefined): Uint8Array {
  if (!description) return opusHeadFromEncoder(null, EDGE_SAMPLE_RATE);
  const bytes = ArrayBuffer.isView(description)
    ? new Uint8Array(description.buffer, description.byteOffset, description.byteLength)
    : new Uint8Array(description);
  return opusHeadFromEncoder(bytes, EDGE_SAMPLE_RATE);
}

/** Encodes the (16 kHz) audio of `stream`. Throws if the browser refuses the encoder or the track. */
export function edgeEncoding(stream: MediaStream): Encoding {
  const track = stream.getAudioTracks()[0];
  if (!TrackProcessor || !track) throw new Error('nothing to encode at the edge');
  const reader = new TrackProcessor({ track }).readable.getReader();
  let head: Uint8Array | null = null;
  const packets: Uint8Array[] = [];
  let batch: Uint8Array[] = [];
  let send: (chunk: Uint8Array) => void = () => {};
  let stopped = false;
  let timer: ReturnType<typeof setInterval> | undefined;
  let pumping: Promise<void> = Promise.resolve();

  const flush = () => {
    if (batch.length === 0) return;
    const bytes = new Uint8Array(batch.reduce((sum, part) => sum + part.byteLength, 0));
    let at = 0;
    for (const part of batch) {
      bytes.set(part, at);
      at += part.byteLength;
    }
    batch = [];
    send(bytes);
  };

  const encoder = new AudioEncoder({
    output(chunk, metadata) {
      const packet = new Uint8Array(chunk.byteLength);
      chunk.copyTo(packet);
      if (!head) {
        head = storedHead(metadata?.decoderConfig?.description);
        batch.push(framePacket(head));
      }
      packets.push(packet);
      batch.push(framePacket(packet));
    },
    error(error) {
      if (!stopped) encoding.onerror(`The browser's audio encoder failed (${error.message}).`);
    },
  });
  encoder.configure(CONFIG);

  const encoding: Encoding = {
    format: { format: 'opus' },
    start(onChunk) {
      send = onChunk;
      timer = setInterval(flush, BATCH_MS);
      pumping = (async () => {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          if (!stopped && encoder.state === 'configured') encoder.encode(value);
          value.close();
        }
      })().catch((error: unknown) => {
        if (!stopped) encoding.onerror(`The browser stopped delivering audio (${String(error)}).`);
      });
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      await reader.cancel().catch(() => {});
      await pumping;
      if (encoder.state === 'configured') await encoder.flush().catch(() => {});
      if (encoder.state !== 'closed') encoder.close();
      flush();
    },
    localCopy() {
      return head && packets.length > 0 ? { blob: oggOpusFile(head, packets, PACKET_SAMPLES), extension: 'ogg' } : null;
    },
    onerror: () => {},
  };
  return encoding;
}
