/**
 * The remux path on real Opus made by libopus (the ffmpeg CLI): what matches the stored format is copied
 * packet for packet into an Ogg file that FFmpeg reads back whole; what does not match says why and is
 * left to the transcoder; raw packet streams that break their framing are refused.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fixture, opusSpeech, probePackets, rejectsWith, STORED_FORMAT_ARGS, tempDir } from '../test-helpers.ts';
import { framePacket } from './framed-reader.ts';
import { OggOpusReader } from './ogg-reader.ts';
import { opusHead, parseOpusHead, parsePacket } from './opus.ts';
import { remuxFile } from './remux-file.ts';
import { Remuxer } from './remuxer.ts';
import { sniffContainer } from './sniff.ts';

const dir = tempDir();

/** The OpusHead and audio packets of an Ogg/Opus file, by our own reader. */
function oggPackets(ogg: Buffer): { head: Buffer; packets: Buffer[] } {
  let head = Buffer.alloc(0);
  const packets: Buffer[] = [];
  new OggOpusReader().push(ogg, {
    head: (bytes) => {
      head = Buffer.from(bytes);
    },
    packet: (bytes) => packets.push(Buffer.from(bytes)),
  });
  return { head, packets };
}

/** A raw Opus stream as a client frames it: the OpusHead, then every packet, each after its length. */
const framed = (head: Uint8Array, packets: Uint8Array[]) =>
  Buffer.concat([framePacket(head), ...packets.map((packet) => framePacket(packet))]);

function write(name: string, bytes: Buffer): string {
  const file = join(dir, name);
  writeFileSync(file, bytes);
  return file;
}

/** Seconds of audio the ffmpeg CLI decodes from a file (pre-skip dropped); it must not complain. */
function decodedSeconds(file: string): number {
  const run = spawnSync('ffmpeg', ['-v', 'error', '-i', file, '-f', 's16le', '-ac', '1', '-ar', '48000', '-'], {
    maxBuffer: 1 << 28,
  });
  assert.equal(run.stderr.toString(), '', 'ffmpeg decodes without an error');
  return run.stdout.length / 96_000;
}

describe('remux: Opus that already is the stored format', () => {
  const stored = opusSpeech(STORED_FORMAT_ARGS);
  const { head, packets } = oggPackets(stored);

  test('the libopus input is what the stored format is (our reader agrees with ffprobe)', () => {
    const parsed = parseOpusHead(head);
    assert.ok(!('invalid' in parsed));
    assert.deepEqual([parsed.channels, parsed.inputRate, parsed.mappingFamily], [1, 16_000, 0]);
    assert.deepEqual(packets, probePackets(write('stored.ogg', stored)));
  });

  test('raw framed packets are copied byte for byte into an Ogg file FFmpeg reads whole', async () => {
    const input = write('stored.framed', framed(head, packets));
    const output = join(dir, 'stored-framed.ogg');
    const outcome = await remuxFile(input, output, 'opus', 3600);
    assert.equal(outcome.pipeline, 'remux');
    if (outcome.pipeline !== 'remux') return;
    assert.deepEqual(probePackets(output), packets, 'every packet, byte-exact, in order');
    const expected = (packets.length * 960 - parsed(head).preSkip) / 48_000;
    assert.ok(Math.abs(outcome.info.durationSec - expected) < 1e-9, `facts say ${outcome.info.durationSec} s`);
    assert.ok(Math.abs(decodedSeconds(output) - expected) < 0.02, 'decoded duration within one frame');
    assert.deepEqual(
      [outcome.info.codec, outcome.info.sampleRate, outcome.info.channels, outcome.info.pipeline],
      ['opus', 16_000, 1, 'remux'],
    );
    const out = readFileSync(output);
    assert.equal(out.readUInt32LE(out.indexOf('OpusHead') + 12), 16_000, 'OpusHead input rate');
    assert.equal(outcome.info.sizeBytes, out.length);
  });

  test('Ogg pages end on packets, about a second each, granule positions counting 48 kHz samples', async () => {
    const output = join(dir, 'pages.ogg');
    await remuxFile(write('pages.framed', framed(head, packets)), output, 'opus', 3600);
    const out = readFileSync(output);
    const pages: Array<{ flags: number; granule: number; packets: number }> = [];
    for (let at = 0; at < out.length; ) {
      const segments = out[at + 26]!;
      const lacing = [...out.subarray(at + 27, at + 27 + segments)];
      pages.push({
        flags: out[at + 5]!,
        granule: Number(out.readBigUInt64LE(at + 6)),
        packets: lacing.filter((value) => value < 255).length,
      });
      at += 27 + segments + lacing.reduce((a, b) => a + b, 0);
    }
    assert.deepEqual(pages.slice(0, 2), [
      { flags: 2, granule: 0, packets: 1 },
      { flags: 0, granule: 0, packets: 1 },
    ]);
    const audio = pages.slice(2);
    assert.deepEqual(
      audio.map((page) => page.packets),
      [...audio.slice(0, -1).map(() => 50), packets.length - 50 * (audio.length - 1)],
    );
    let samples = 0;
    for (const page of audio) {
      samples += page.packets * 960;
      assert.equal(page.granule, samples);
    }
    assert.equal(audio.at(-1)?.flags, 4, 'the last page ends the stream');
  });

  test('chunks split anywhere (1, 2, 3 … bytes) give the same packets as one piece', async () => {
    const bytes = framed(head, packets.slice(0, 60));
    const whole = join(dir, 'whole.ogg');
    await remuxFile(write('whole.framed', bytes), whole, 'opus', 3600);
    // The live path pushes chunks as they come; remuxFile reads 64 KiB at a time. Push odd pieces here.
    const remuxer = new Remuxer('opus');
    for (let at = 0, size = 1; at < bytes.length; at += size, size = (size % 7) + 1) {
      remuxer.push(bytes.subarray(at, at + size));
    }
    remuxer.end();
    const pieces = join(dir, 'pieces.ogg');
    writeFileSync(pieces, Buffer.concat(remuxer.take()));
    assert.deepEqual(probePackets(pieces), probePackets(whole));
  });

  test('an Ogg stream and a live WebM stream of it are remuxed to the same packets', async () => {
    const webm = join(dir, 'stored.webm');
    execFileSync('ffmpeg', [
      '-v',
      'error',
      '-y',
      '-i',
      write('src.ogg', stored),
      '-c',
      'copy',
      '-f',
      'webm',
      '-live',
      '1',
      webm,
    ]);
    assert.equal(sniffContainer(readFileSync(webm)), 'webm');
    for (const input of [write('again.ogg', stored), webm]) {
      const output = `${input}.remuxed.ogg`;
      const outcome = await remuxFile(input, output, null, 3600);
      assert.equal(outcome.pipeline, 'remux', input);
      assert.deepEqual(probePackets(output), packets, input);
    }
  });

  test('a stream longer than the duration limit is refused (no worker ever sees it)', async () => {
    const input = write('long.framed', framed(head, packets));
    await rejectsWith(remuxFile(input, join(dir, 'long.ogg'), 'opus', 2), 'media_too_long');
  });
});

describe('remux: anything else is transcoded, and says why', () => {
  const stored = oggPackets(opusSpeech(STORED_FORMAT_ARGS));

  const cases: Array<[string, () => Buffer, RegExp]> = [
    ['stereo', () => opusSpeech(['-ac', '2', '-ar', '16000', '-b:a', '24k']), /2 channels/],
    ['48 kHz fullband', () => opusSpeech(['-ac', '1', '-ar', '48000', '-b:a', '24k']), /48000 Hz/],
    ['64 kbps', () => opusSpeech(['-ac', '1', '-ar', '16000', '-b:a', '64k']), /kbps \(more than 32\)/],
  ];
  for (const [what, make, reason] of cases) {
    test(`${what}: as Ogg, and as raw packets (then kept as Ogg for the transcoder)`, async () => {
      const ogg = make();
      const container = await remuxFile(write(`${what}.ogg`, ogg), join(dir, `${what}-c.ogg`), null, 3600);
      assert.equal(container.pipeline, 'transcode');
      if (container.pipeline === 'transcode') {
        assert.match(container.reason, reason);
        assert.equal(container.input, join(dir, `${what}.ogg`), 'the transcoder reads the client bytes');
      }
      const { head, packets } = oggPackets(ogg);
      const output = join(dir, `${what}-raw.ogg`);
      const raw = await remuxFile(write(`${what}.framed`, framed(head, packets)), output, 'opus', 3600);
      assert.equal(raw.pipeline, 'transcode');
      if (raw.pipeline !== 'transcode') return;
      assert.match(raw.reason, reason);
      assert.equal(raw.input, output);
      assert.deepEqual(probePackets(output), packets, 'the Ogg file for the transcoder holds every packet');
    });
  }

  test('fullband packets under a header that claims 16 kHz', async () => {
    const fullband = oggPackets(opusSpeech(['-ac', '1', '-ar', '48000', '-b:a', '24k']));
    const input = write(
      'liar.framed',
      framed(opusHead({ channels: 1, preSkip: 312, inputRate: 16_000 }), fullband.packets),
    );
    const outcome = await remuxFile(input, join(dir, 'liar.ogg'), 'opus', 3600);
    assert.equal(outcome.pipeline, 'transcode');
    if (outcome.pipeline === 'transcode') assert.match(outcome.reason, /fullband packet/);
  });

  test('a corrupted TOC (a code 3 packet of 0 frames) halfway through', async () => {
    const packets = stored.packets.map((packet) => Buffer.from(packet));
    packets[120] = Buffer.from([(packets[120]![0]! & 0xfc) | 3, 0, ...packets[120]!.subarray(1)]);
    const input = write('corrupt.framed', framed(stored.head, packets));
    const output = join(dir, 'corrupt.ogg');
    const outcome = await remuxFile(input, output, 'opus', 3600);
    assert.equal(outcome.pipeline, 'transcode');
    if (outcome.pipeline === 'transcode') assert.match(outcome.reason, /not valid Opus: a code 3 packet of 0 frames/);
    assert.equal(probePackets(output).length, packets.length);
  });

  test('MP4, and bytes of no container, are left to the transcoder', async () => {
    for (const name of ['speech-frag.mp4', 'not-audio.mp3']) {
      const outcome = await remuxFile(fixture(name), join(dir, `${name}.ogg`), null, 3600);
      assert.equal(outcome.pipeline, 'transcode', name);
    }
  });
});

describe('remux: raw packets must be framed as documented', () => {
  const { head, packets } = oggPackets(opusSpeech(STORED_FORMAT_ARGS));

  test('a first packet that is not an OpusHead is refused (422)', async () => {
    const input = write('headless.framed', framed(packets[0]!, packets.slice(1)));
    await rejectsWith(remuxFile(input, join(dir, 'headless.ogg'), 'opus', 3600), 'invalid_media', /OpusHead/);
  });

  test('a packet length of 0 is refused (422)', async () => {
    const input = write(
      'zero.framed',
      Buffer.concat([framePacket(head), Buffer.from([0, 0]), framePacket(packets[0]!)]),
    );
    await rejectsWith(remuxFile(input, join(dir, 'zero.ogg'), 'opus', 3600), 'invalid_media', /length of 0 at byte 21/);
  });

  test('a multichannel OpusHead (mapping family 1) is refused (415)', async () => {
    const family1 = Buffer.concat([opusHead({ channels: 1, preSkip: 312, inputRate: 16_000 }), Buffer.from([1, 0, 0])]);
    family1[18] = 1;
    const input = write('family1.framed', framed(family1, packets));
    await rejectsWith(remuxFile(input, join(dir, 'family1.ogg'), 'opus', 3600), 'unsupported_media');
  });

  test('a stream with no audio packet is refused (422)', async () => {
    await rejectsWith(
      remuxFile(write('only-head.framed', framePacket(head)), join(dir, 'oh.ogg'), 'opus', 3600),
      'invalid_media',
    );
  });
});

describe('Opus packets and the first bytes of a stream', () => {
  test('TOC and frame layout (RFC 6716 §3)', () => {
    // config 9: SILK WB 20 ms; code 0.
    assert.deepEqual(parsePacket(Buffer.from([9 << 3, 1, 2])), {
      bandwidth: 'wideband',
      stereo: false,
      frameSamples: 960,
      frames: 1,
      samples: 960,
    });
    // config 31: CELT FB 20 ms, stereo, code 1: two frames of equal size.
    assert.deepEqual(parsePacket(Buffer.from([(31 << 3) | 4 | 1, 1, 2])), {
      bandwidth: 'fullband',
      stereo: true,
      frameSamples: 960,
      frames: 2,
      samples: 1920,
    });
    assert.match((parsePacket(Buffer.from([(9 << 3) | 1, 1, 2, 3])) as { invalid: string }).invalid, /odd/);
    // code 2: first frame of 2 bytes, second of 1.
    assert.equal((parsePacket(Buffer.from([(9 << 3) | 2, 2, 1, 1, 1])) as { frames: number }).frames, 2);
    assert.match((parsePacket(Buffer.from([(9 << 3) | 2, 9, 1])) as { invalid: string }).invalid, /longer/);
    // code 3, VBR, 3 frames of 20 ms with lengths 1 and 2 given, the last takes the rest (1).
    assert.deepEqual(
      (parsePacket(Buffer.from([(9 << 3) | 3, 0x83, 1, 2, 7, 7, 7, 7])) as { samples: number }).samples,
      2880,
    );
    // code 3: 7 frames of 20 ms are more than 120 ms.
    assert.match(
      (parsePacket(Buffer.from([(9 << 3) | 3, 7, 1, 1, 1, 1, 1, 1, 1])) as { invalid: string }).invalid,
      /120 ms/,
    );
    assert.match((parsePacket(new Uint8Array(0)) as { invalid: string }).invalid, /TOC/);
  });

  test('sniffs the live containers from their first bytes', () => {
    assert.equal(sniffContainer(readFileSync(fixture('speech.webm'))), 'webm');
    assert.equal(sniffContainer(readFileSync(fixture('speech.ogg'))), 'ogg');
    assert.equal(sniffContainer(readFileSync(fixture('speech-frag.mp4'))), 'mp4');
    assert.equal(sniffContainer(readFileSync(fixture('speech.mp3'))), null);
    assert.equal(sniffContainer(Buffer.alloc(50_000, 7)), null);
    assert.equal(sniffContainer(Buffer.from('Ogg')), 'more');
    assert.equal(sniffContainer(Buffer.from([1, 2, 3])), 'more');
  });
});

function parsed(head: Buffer) {
  const value = parseOpusHead(head);
  if ('invalid' in value) throw new Error(value.invalid);
  return value;
}
