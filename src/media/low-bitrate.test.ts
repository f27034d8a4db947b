/**
 * Real speech at the lowest bitrates speech codecs have, with long silences, stays above the input
 * bytes floor of audio-budget.ts. Encoded by real encoders: opusenc (libopus's own tool) for Opus with DTX,
 * which the ffmpeg 5.1 CLI cannot switch on, and the ffmpeg CLI for the rest and for remuxing.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MIN_BYTES_PER_SEC } from './audio-budget.ts';
import type { MediaEngineWithStats } from './index.ts';
import { createMediaEngine } from './index.ts';
import { tempDir, writeMeetingWav } from './test-helpers.ts';

const dir = tempDir();
const SECONDS = 600;
/** Seconds of talk and silence, alternating: 2 min of talk in 10 min. */
const MEETING = [30, 60, 30, 240, 30, 180, 30];
/** A few words, then a muted microphone for the rest of the 10 min. */
const MUTED = [15, SECONDS - 15];

const ff = (...args: string[]): void => {
  execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-y', ...args]);
};
/** Opus 6 kbps with DTX (OPUS_SET_DTX_REQUEST = 4016), as a phone or WebRTC client at its lowest. */
const opusDtx = (wav: string, out: string, frameMs: number): void => {
  execFileSync(
    'opusenc',
    ['--quiet', '--bitrate', '6', '--framesize', String(frameMs)].concat(['--set-ctl-int', '4016=1', wav, out]),
  );
};

interface Case {
  name: string;
  speech: number[];
  encode: (wav: string, out: string) => void;
  ext: string;
  /** The input is this sparse: the test does come near the floor. */
  maxBytesPerSec: number;
}

const CASES: Case[] = [
  {
    name: 'Opus 6 kbps DTX 20 ms in Ogg, meeting',
    speech: MEETING,
    ext: 'ogg',
    encode: (wav, out) => opusDtx(wav, out, 20),
    maxBytesPerSec: 400,
  },
  {
    name: 'Opus 6 kbps DTX 20 ms in MP4, muted',
    speech: MUTED,
    ext: 'mp4',
    encode: (wav, out) => {
      opusDtx(wav, `${out}.ogg`, 20);
      ff('-i', `${out}.ogg`, '-c', 'copy', '-f', 'mp4', out);
    },
    // Most of it is the index at the end (4 bytes a packet), which the demuxer reads at open: the check
    // only counts the packets, 1 byte every 20 ms in the silence.
    maxBytesPerSec: 300,
  },
  {
    name: 'Opus 6 kbps DTX 60 ms in Ogg, muted',
    speech: MUTED,
    ext: 'ogg',
    encode: (wav, out) => opusDtx(wav, out, 60),
    maxBytesPerSec: 3 * MIN_BYTES_PER_SEC,
  },
  {
    name: 'MP3 8 kbps at 8 kHz, meeting',
    speech: MEETING,
    ext: 'mp3',
    encode: (wav, out) => ff('-i', wav, '-ar', '8000', '-c:a', 'libmp3lame', '-b:a', '8k', out),
    maxBytesPerSec: 1100,
  },
  {
    name: 'Speex narrowband, lowest quality, VAD and DTX, muted',
    speech: MUTED,
    ext: 'ogg',
    encode: (wav, out) =>
      ff('-i', wav, '-ar', '8000', '-c:a', 'libspeex', '-cbr_quality', '0', '-vad', '1', '-dtx', '1', out),
    maxBytesPerSec: 4 * MIN_BYTES_PER_SEC,
  },
];

describe('low-bitrate speech passes the input bytes floor', () => {
  let engine: MediaEngineWithStats;
  const wavs: Record<string, string> = {};
  before(() => {
    // Complexity 0: only the input side matters here, and it halves the encoding time.
    engine = createMediaEngine({ workers: 2, jobTimeoutMs: 120_000, maxDurationSec: 6 * 3600, opusComplexity: 0 });
    for (const [name, speech] of Object.entries({ meeting: MEETING, muted: MUTED })) {
      wavs[name] = join(dir, `${name}.wav`);
      writeMeetingWav(wavs[name], speech);
    }
  });
  after(() => engine.close());

  for (const c of CASES) {
    test(c.name, async () => {
      const input = join(dir, `${c.name.replace(/\W+/g, '-')}.${c.ext}`);
      c.encode(c.speech === MEETING ? wavs.meeting! : wavs.muted!, input);
      const bytesPerSec = statSync(input).size / SECONDS;
      assert.ok(bytesPerSec < c.maxBytesPerSec, `${bytesPerSec} B/s`);
      const info = await engine.normalize(input, join(dir, `${c.name.replace(/\W+/g, '-')}.out.ogg`));
      assert.ok(Math.abs(info.durationSec - SECONDS) < 1, `duration ${info.durationSec}`);
    });
  }
});
