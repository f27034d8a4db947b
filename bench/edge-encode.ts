/**
 * Encodes PCM with a browser's own Opus encoder, as the page does at the edge: Debian's Chromium (driven
 * by playwright-core, headless) on a blank page served from 127.0.0.1 (WebCodecs needs a secure context),
 * AudioData of 20 ms fed to an AudioEncoder as fast as it takes them. For benchmarks only.
 */
import { createServer } from 'node:http';
import { chromium } from 'playwright-core';

// The page's WebCodecs globals, as far as this file uses them (the Node project has no DOM types).
interface EncodedChunk {
  byteLength: number;
  copyTo(target: Uint8Array): void;
}
interface PageAudioEncoder {
  readonly encodeQueueSize: number;
  configure(config: PageEncoderConfig): void;
  encode(data: object): void;
  flush(): Promise<void>;
}
interface PageEncoderConfig {
  sampleRate: number;
}
declare const AudioEncoder: new (init: {
  output(chunk: EncodedChunk, metadata?: { decoderConfig?: { description?: ArrayBuffer | ArrayBufferView } }): void;
  error(error: Error): void;
}) => PageAudioEncoder;
declare const AudioData: new (init: object) => { close(): void };

export interface EdgeEncoded {
  packets: Buffer[];
  /** The encoder's `decoderConfig.description` (its OpusHead), if it gave one. */
  description: Buffer | null;
  /** Wall time the page spent encoding (the encoder runs on the page's thread pool). */
  encodeMs: number;
  browser: string;
}

/** `pcm`: 16-bit little-endian mono samples at `config.sampleRate`. */
export async function edgeEncode(pcm: Buffer, config: object): Promise<EdgeEncoded> {
  const server = createServer((_request, response) => {
    response.setHeader('content-type', 'text/html');
    response.end('<!doctype html><title>edge encoder</title>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox'],
  });
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/`);
    const out = await page.evaluate(
      async ({ base64, config }) => {
        const binary = atob(base64);
        const bytes = new Uint8Array(binary.length);
        for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
        const samples = new Int16Array(bytes.buffer);
        const packets: string[] = [];
        let description: number[] | null = null;
        const encoder = new AudioEncoder({
          output(chunk, metadata) {
            const packet = new Uint8Array(chunk.byteLength);
            chunk.copyTo(packet);
            let text = '';
            for (const byte of packet) text += String.fromCharCode(byte);
            packets.push(btoa(text));
            const given = metadata?.decoderConfig?.description;
            if (given && !description) {
              description = Array.from(
                ArrayBuffer.isView(given)
                  ? new Uint8Array(given.buffer, given.byteOffset, given.byteLength)
                  : new Uint8Array(given),
              );
            }
          },
          error(error) {
            throw error;
          },
        });
        const settings = config as PageEncoderConfig;
        encoder.configure(settings);
        const frame = (settings.sampleRate * 20) / 1000;
        const started = performance.now();
        for (let at = 0; at + frame <= samples.length; at += frame) {
          const data = new Float32Array(frame);
          for (let i = 0; i < frame; i++) data[i] = (samples[at + i] as number) / 32768;
          const audio = new AudioData({
            format: 'f32-planar',
            sampleRate: settings.sampleRate,
            numberOfChannels: 1,
            numberOfFrames: frame,
            timestamp: (at / settings.sampleRate) * 1e6,
            data,
          });
          encoder.encode(audio);
          audio.close();
          // Let the encoder drain: a queue of 15 000 frames would hold all the audio in memory.
          if (encoder.encodeQueueSize > 50) await new Promise((resolve) => setTimeout(resolve, 0));
        }
        await encoder.flush();
        return { packets, description, encodeMs: performance.now() - started, browser: navigator.userAgent };
      },
      { base64: pcm.toString('base64'), config },
    );
    const version = /(?:Headless)?Chrome\/([\d.]+)/.exec(out.browser)?.[1] ?? 'unknown';
    return {
      packets: out.packets.map((packet) => Buffer.from(packet, 'base64')),
      description: out.description ? Buffer.from(out.description) : null,
      encodeMs: out.encodeMs,
      browser: `Chromium ${version}`,
    };
  } finally {
    await browser.close();
    server.close();
  }
}
