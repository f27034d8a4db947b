/**
 * When Opus a client sends already is the stored format (Ogg/Opus, 16 kHz, mono, 24 kbps, as
 * opus-writer.ts makes it), so that copying its packets into Ogg gives a file that is no different in
 * format from a transcode: the OpusHead says mono, mapping family 0, encoded from 16 kHz; every packet's
 * TOC says mono, at most wideband (what a 16 kHz encoder makes: SILK up to WB or CELT WB), and frames of
 * 10 to 60 ms; and no 5 s of audio carries more than REMUX_MAX_BITRATE. Each rule gives the reason a
 * stream fails it, which is logged when it is transcoded instead.
 */
import { OUTPUT_SAMPLE_RATE } from '../opus-writer.ts';
import { OPUS_RATE, type OpusHead, parsePacket } from './opus.ts';

/**
 * Highest bitrate a remuxed stream may have over any window: a third above the stored 24 kbps, room for
 * a VBR encoder's peaks (libopus at 24 kbps on speech: at most 23.4 kbps in any second; Chromium's
 * WebCodecs encoder: about 25 kbps), and well below what a 32 or 64 kbps stream spends.
 */
export const REMUX_MAX_BITRATE = 32_000;
/** The window the bitrate is measured over, in 48 kHz samples (5 s). */
const WINDOW_SAMPLES = 5 * OPUS_RATE;
/** A last, shorter window is judged only from a second of audio on (the start of a stream is noisy). */
const MIN_LAST_WINDOW_SAMPLES = OPUS_RATE;
const WIDEST = new Set(['narrowband', 'mediumband', 'wideband']);
/** 10 ms frames: shorter CELT frames (2.5, 5 ms) are a low-delay mode the stored format does not use. */
const MIN_FRAME_SAMPLES = 480;
/** 60 ms per packet. */
const MAX_PACKET_SAMPLES = 2880;

/** Why an identification header is not the stored format's, or null. */
export function headMismatch(head: OpusHead): string | null {
  if (head.channels !== 1) return `${head.channels} channels (the stored format is mono)`;
  if (head.mappingFamily !== 0) return `channel mapping family ${head.mappingFamily}`;
  if (head.inputRate !== OUTPUT_SAMPLE_RATE) return `encoded from ${head.inputRate} Hz, not ${OUTPUT_SAMPLE_RATE} Hz`;
  if (head.outputGain !== 0) return 'an output gain';
  return null;
}

/** The packet rules and the bitrate window, packet by packet. */
export class PacketRules {
  #windowSamples = 0;
  #windowBytes = 0;

  /** The packet's duration in 48 kHz samples, or why it is not the stored format. */
  check(packet: Uint8Array): number | string {
    const shape = parsePacket(packet);
    if ('invalid' in shape) return `a packet that is not valid Opus: ${shape.invalid}`;
    if (shape.stereo) return 'a stereo packet';
    if (!WIDEST.has(shape.bandwidth)) return `a ${shape.bandwidth} packet (wider than wideband)`;
    if (shape.frameSamples < MIN_FRAME_SAMPLES) return `${shape.frameSamples / 48} ms frames`;
    if (shape.samples > MAX_PACKET_SAMPLES) return `a packet of ${shape.samples / 48} ms`;
    this.#windowSamples += shape.samples;
    this.#windowBytes += packet.length;
    if (this.#windowSamples >= WINDOW_SAMPLES) {
      const over = this.#overBitrate();
      if (over) return over;
      this.#windowSamples = 0;
      this.#windowBytes = 0;
    }
    return shape.samples;
  }

  /** The end of the stream: judges the last, partial window. */
  end(): string | null {
    return this.#windowSamples >= MIN_LAST_WINDOW_SAMPLES ? this.#overBitrate() : null;
  }

  #overBitrate(): string | null {
    const bitrate = (this.#windowBytes * 8 * OPUS_RATE) / this.#windowSamples;
    return bitrate > REMUX_MAX_BITRATE
      ? `${Math.round(bitrate / 1000)} kbps (more than ${REMUX_MAX_BITRATE / 1000})`
      : null;
  }
}
