/**
 * Media bombs for the engine's tests and bench/bombs.ts: small files that decode to hours of audio.
 * Each is made the way an attacker would make it (the ffmpeg CLI, or node-av's muxers writing packets by
 * hand), never shipped as a binary fixture. Not used by the server.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { AV_CHANNEL_LAYOUT_MONO, AV_CODEC_ID_OPUS, AVIO_FLAG_WRITE, AVMEDIA_TYPE_AUDIO } from 'node-av/constants';
import { FormatContext, IOContext, Packet, Rational } from 'node-av/lib';
import { wavFile } from './test-helpers.ts';

/**
 * FLAC of digital silence at 8 kHz in the largest frames FLAC allows (65535 samples, ~8 s, each a
 * constant subframe of a dozen bytes): 7 h is about 50 kB. Written through a pipe, as a streaming
 * encoder would, the STREAMINFO header declares no length, so nothing short of decoding tells how long
 * it is. With `declareLength` the encoder seeks back and writes the real sample count.
 */
export function writeSilentFlac(path: string, seconds: number, declareLength = false): void {
  const args = [
    ...['-nostdin', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'anullsrc=r=8000:cl=mono:nb_samples=65535'],
    ...['-t', String(seconds), '-c:a', 'flac', '-frame_size', '65535', '-f', 'flac'],
  ];
  if (declareLength) {
    execFileSync('ffmpeg', [...args, path]);
  } else {
    writeFileSync(path, execFileSync('ffmpeg', [...args, 'pipe:1'], { maxBuffer: 1 << 26 }));
  }
}

/** 8-bit PCM WAV at `sampleRate` (1 Hz: one byte per second of audio) of constant silence. */
export function writeLowRateWav(path: string, seconds: number, sampleRate: number): void {
  writeFileSync(path, wavFile(Buffer.alloc(Math.round(seconds * sampleRate), 0x80), sampleRate, 1, 8));
}

/**
 * The densest Opus there is: every packet is 2 bytes, a TOC byte for SILK narrowband 60 ms frames with
 * code 3 (several frames), and a count byte for 2 frames of 0 bytes each (RFC 6716 §3.2.5). Each decodes
 * to 120 ms of concealment (silence). In Ogg with 255 packets a page that is ~26 bytes per second of
 * audio; in WebM (one SimpleBlock per packet, as live encoders write it) ~73.
 */
export const TWO_BYTE_OPUS_PACKET = Buffer.from([(3 << 3) | 3, 2]);
const PACKET_SAMPLES = 5760n; // 120 ms at 48 kHz

/** An Ogg or WebM file of `seconds` of TWO_BYTE_OPUS_PACKET, muxed by node-av (FFmpeg's own muxers). */
export function writeOpusPacketBomb(path: string, format: 'ogg' | 'webm', seconds: number): void {
  const out = new FormatContext();
  const io = new IOContext();
  const pkt = new Packet();
  pkt.alloc();
  const check = (ret: number, what: string): void => {
    if (ret < 0) throw new Error(`opus bomb: ${what} failed (${ret})`);
  };
  try {
    check(out.allocOutputContext2(null, format, path), 'allocOutputContext2');
    const stream = out.newStream(null);
    const par = stream.codecpar;
    par.codecType = AVMEDIA_TYPE_AUDIO;
    par.codecId = AV_CODEC_ID_OPUS;
    par.sampleRate = 48_000;
    par.channelLayout = AV_CHANNEL_LAYOUT_MONO;
    // OpusHead (RFC 7845 §5.1): version 1, 1 channel, no pre-skip, 16 kHz input, no gain, family 0.
    const head = Buffer.alloc(19);
    head.write('OpusHead', 0);
    head.writeUInt8(1, 8);
    head.writeUInt8(1, 9);
    head.writeUInt32LE(16_000, 12);
    par.extradata = head;
    stream.timeBase = new Rational(1, 48_000);
    // Ogg pages flush every second by default; the longest allowed page holds 255 packets (30.6 s).
    if (format === 'ogg') check(out.setOption('page_duration', '60000000'), 'page_duration');
    check(io.open2Sync(path, AVIO_FLAG_WRITE), 'open');
    out.pb = io;
    check(out.writeHeaderSync(null), 'writeHeader');
    const count = BigInt(Math.ceil((seconds * 48_000) / Number(PACKET_SAMPLES)));
    const tb = new Rational(1, 48_000);
    for (let i = 0n; i < count; i++) {
      pkt.data = TWO_BYTE_OPUS_PACKET;
      pkt.streamIndex = 0;
      pkt.pts = i * PACKET_SAMPLES;
      pkt.dts = pkt.pts;
      pkt.duration = PACKET_SAMPLES;
      pkt.rescaleTs(tb, stream.timeBase); // the muxer may have picked its own time base (WebM: ms)
      check(out.writeFrameSync(pkt), 'writeFrame');
      pkt.unref();
    }
    check(out.writeTrailerSync(), 'writeTrailer');
  } finally {
    pkt.free();
    io.closepSync();
    out.pb = null as never;
    out.freeContext();
  }
}
