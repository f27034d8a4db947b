/**
 * Shared set-up for the browser suites: Debian's Chromium driven by playwright-core, headless, with a
 * fake microphone that plays a speech WAV in a loop, and helpers to save screenshots.
 *
 * Screenshots go to test-artifacts/; with UPDATE_SCREENSHOTS=1 they are also copied to
 * docs/screenshots/ (the committed copies the docs show).
 */
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

const repo = path.resolve(import.meta.dirname, '../..');
export const ARTIFACTS = path.join(repo, 'test-artifacts');
const DOC_SHOTS = path.join(repo, 'docs', 'screenshots');
export const FIXTURES = path.join(repo, 'test', 'fixtures');

/**
 * test/fixtures/speech.wav (5 s, 16 kHz mono PCM) repeated into a longer WAV: Chromium loops the fake
 * capture file anyway, but a longer one means fewer loop seams inside a recording.
 */
export async function longSpeechWav(copies = 6): Promise<string> {
  const wav = await readFile(path.join(FIXTURES, 'speech.wav'));
  const dataAt = wav.indexOf('data');
  if (dataAt < 0) throw new Error('speech.wav has no data chunk');
  const header = Buffer.from(wav.subarray(0, dataAt + 8));
  const pcm = wav.subarray(dataAt + 8, dataAt + 8 + wav.readUInt32LE(dataAt + 4));
  const body = Buffer.concat(Array.from({ length: copies }, () => pcm));
  header.writeUInt32LE(body.length, dataAt + 4);
  header.writeUInt32LE(header.length - 8 + body.length, 4); // RIFF size
  const file = path.join(tmpdir(), `earshot-e2e-speech-${process.pid}.wav`);
  await writeFile(file, Buffer.concat([header, body]));
  return file;
}

export async function launchBrowser(fakeAudioFile: string): Promise<Browser> {
  // launch() runs Chromium on a fresh, empty profile of its own (a new user-data-dir each time).
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-sync',
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      `--use-file-for-fake-audio-capture=${fakeAudioFile}`,
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
}

export async function screenshot(page: Page, name: string, options: { fullPage?: boolean } = {}): Promise<void> {
  await mkdir(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  // Stable pictures: no blinking caret or running CSS animation.
  await page.screenshot({ path: file, fullPage: options.fullPage ?? false, animations: 'disabled', caret: 'hide' });
  if (process.env.UPDATE_SCREENSHOTS === '1') {
    await mkdir(DOC_SHOTS, { recursive: true });
    await copyFile(file, path.join(DOC_SHOTS, `${name}.png`));
  }
}

/** Collects page errors and failed console messages so a test can show them when it fails. */
export function watchConsole(page: Page): string[] {
  const lines: string[] = [];
  page.on('pageerror', (error) => lines.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') lines.push(`${message.type()}: ${message.text()}`);
  });
  return lines;
}

/** What the page's last encoder produced: a MediaRecorder (tapRecorders) or a WebCodecs encoder (tapEncoders). */
export interface RecordedAudio {
  kind: 'mediarecorder' | 'webcodecs';
  /** The MediaRecorder's type; `audio/opus` (raw packets) for WebCodecs. */
  mimeType: string;
  /** Every chunk's size, in order. */
  sizes: number[];
  /**
   * MediaRecorder: all chunks concatenated, exactly what the page handed to the live client. WebCodecs:
   * the packets, framed as the page sends them (the OpusHead first: the page's, same length as the tap's).
   */
  bytes: Buffer;
  /** WebCodecs: the encoder's packets, in order. */
  packets: Buffer[];
  /** From the recorder's `start` event to its `stop` event, by the page's clock (s). */
  seconds: number;
  /** Duration of `bytes`, decoded by ffprobe (s). */
  decoded: number;
}

interface Tap {
  mimeType: string;
  chunks: Blob[];
  startedAt: number;
  stoppedAt: number;
}

/**
 * Test instrument, not part of the page: wraps the page's MediaRecorder so every chunk it hands out is
 * also kept in `window.__earshotTaps`. Listeners added in the constructor run before the page's own
 * `ondataavailable`, and see the same Blobs.
 *
 * `onlyTypes` makes `MediaRecorder.isTypeSupported` answer false for every other type, so the page's own
 * format choice (capture.ts) falls back to one of these, as in a browser that has only them.
 */
export async function tapRecorders(context: BrowserContext, onlyTypes?: string[]): Promise<void> {
  await context.addInitScript((only: string[] | null) => {
    const Native = window.MediaRecorder;
    if (!Native) return;
    const taps: Tap[] = [];
    (window as unknown as { __earshotTaps: Tap[] }).__earshotTaps = taps;
    class Tapped extends Native {
      constructor(stream: MediaStream, options?: MediaRecorderOptions) {
        super(stream, options);
        const tap: Tap = { mimeType: '', chunks: [], startedAt: 0, stoppedAt: 0 };
        taps.push(tap);
        this.addEventListener('start', () => {
          tap.mimeType = this.mimeType;
          tap.startedAt = performance.now();
        });
        this.addEventListener('dataavailable', (event) => {
          if (event.data.size) tap.chunks.push(event.data);
        });
        this.addEventListener('stop', () => {
          tap.stoppedAt = performance.now();
        });
      }
      static override isTypeSupported(type: string): boolean {
        if (only && !only.includes(type)) return false;
        return Native.isTypeSupported(type);
      }
    }
    window.MediaRecorder = Tapped;
  }, onlyTypes ?? null);
}

interface EncoderTap {
  packets: Uint8Array[];
  description: Uint8Array | null;
  firstAt: number;
  flushedAt: number;
}

/**
 * Test instrument, not part of the page: wraps WebCodecs' AudioEncoder so that every packet it outputs
 * (and its OpusHead) is also kept in `window.__earshotEncoderTaps`. With `hide`, the page sees no
 * AudioEncoder at all, like a browser without WebCodecs, and falls back to MediaRecorder.
 */
export async function tapEncoders(context: BrowserContext, hide = false): Promise<void> {
  await context.addInitScript((hideIt: boolean) => {
    const Native = window.AudioEncoder;
    if (!Native) return;
    if (hideIt) {
      delete (window as { AudioEncoder?: unknown }).AudioEncoder;
      return;
    }
    const taps: EncoderTap[] = [];
    (window as unknown as { __earshotEncoderTaps: EncoderTap[] }).__earshotEncoderTaps = taps;
    class Tapped extends Native {
      #tap: EncoderTap;
      constructor(init: AudioEncoderInit) {
        const tap: EncoderTap = { packets: [], description: null, firstAt: 0, flushedAt: 0 };
        super({
          output(chunk, metadata) {
            const packet = new Uint8Array(chunk.byteLength);
            chunk.copyTo(packet);
            tap.packets.push(packet);
            const description = metadata?.decoderConfig?.description;
            if (description && !tap.description) {
              tap.description = new Uint8Array(
                ArrayBuffer.isView(description) ? description.buffer.slice(0) : (description as ArrayBuffer).slice(0),
              );
            }
            init.output(chunk, metadata);
          },
          error: (error) => init.error(error),
        });
        this.#tap = tap;
        taps.push(tap);
      }
      override encode(data: AudioData): void {
        this.#tap.firstAt ||= performance.now();
        super.encode(data);
      }
      override async flush(): Promise<void> {
        await super.flush();
        this.#tap.flushedAt = performance.now();
      }
    }
    window.AudioEncoder = Tapped;
  }, hide);
}

/** What the page's last encoder produced (call after the recording has stopped). */
export async function lastRecorded(page: Page): Promise<RecordedAudio> {
  const encoded = await page.evaluate(() => {
    const tap = (window as unknown as { __earshotEncoderTaps?: EncoderTap[] }).__earshotEncoderTaps?.at(-1);
    if (!tap) return null;
    return {
      packets: tap.packets.map((packet) => Array.from(packet)),
      head: tap.description ? Array.from(tap.description) : null,
      seconds: tap.flushedAt ? (tap.flushedAt - tap.firstAt) / 1000 : Number.NaN,
    };
  });
  if (encoded) {
    const packets = encoded.packets.map((packet) => Buffer.from(packet));
    const frame = (packet: Buffer) => Buffer.concat([Buffer.from([packet.length >> 8, packet.length & 0xff]), packet]);
    const head = Buffer.from(encoded.head ?? []);
    // The page starts the stream with its OpusHead (19 bytes, as the encoder's), then every packet.
    const bytes = Buffer.concat([frame(head), ...packets.map(frame)]);
    return {
      kind: 'webcodecs',
      mimeType: 'audio/opus',
      sizes: packets.map((packet) => packet.length),
      bytes,
      packets,
      seconds: encoded.seconds,
      // 20 ms packets, less libopus's 6.5 ms lookahead at 16 kHz (the pre-skip).
      decoded: packets.length * 0.02 - 0.0065,
    };
  }
  return lastMediaRecorded(page);
}

/** What the page's last MediaRecorder produced. */
async function lastMediaRecorded(page: Page): Promise<RecordedAudio> {
  const { mimeType, sizes, base64, seconds } = await page.evaluate(async () => {
    const taps = (window as unknown as { __earshotTaps?: Tap[] }).__earshotTaps;
    const tap = taps?.at(-1);
    if (!tap) throw new Error('no MediaRecorder was tapped (tapRecorders before the page loads)');
    const all = new Uint8Array(await new Blob(tap.chunks).arrayBuffer());
    let binary = '';
    for (let i = 0; i < all.length; i += 0x8000) binary += String.fromCharCode(...all.subarray(i, i + 0x8000));
    return {
      mimeType: tap.mimeType,
      sizes: tap.chunks.map((chunk) => chunk.size),
      base64: btoa(binary),
      seconds: tap.stoppedAt ? (tap.stoppedAt - tap.startedAt) / 1000 : Number.NaN,
    };
  });
  const bytes = Buffer.from(base64, 'base64');
  const file = path.join(tmpdir(), `earshot-e2e-recorded-${process.pid}`);
  await writeFile(file, bytes);
  try {
    return { kind: 'mediarecorder', mimeType, sizes, bytes, packets: [], seconds, decoded: decodedSeconds(file) };
  } finally {
    await rm(file, { force: true });
  }
}

/** Duration of a media file (s) from its packets: MediaRecorder output has no duration in its header. */
export function decodedSeconds(file: string): number {
  const out = execFileSync(
    'ffprobe',
    ['-v', 'error', '-show_entries', 'packet=pts_time,duration_time', '-select_streams', 'a:0', '-of', 'csv=p=0', file],
    { encoding: 'utf8' },
  );
  let end = 0;
  for (const line of out.trim().split('\n')) {
    const [pts, duration] = line.split(',').map(Number);
    if (Number.isFinite(pts))
      end = Math.max(end, (pts as number) + (Number.isFinite(duration) ? (duration as number) : 0));
  }
  return end;
}

/** Signs `page` in as `user` through the page's own form and waits for the app. */
export async function signIn(page: Page, serverUrl: string, user: { email: string; password: string }): Promise<void> {
  await page.goto(serverUrl);
  await page.getByLabel('E-mail').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#recordings-title').waitFor();
}

/** A browser with one context and one page, opened by openBrowserSession. */
export interface BrowserSession {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** The page's errors and warnings (watchConsole); a test may push other pages' into it too. */
  problems: string[];
  /** Prints `problems`, if any, and closes the browser. */
  close(): Promise<void>;
}

/**
 * Launches the browser with its fake microphone (launchBrowser), one context and page with the
 * console watched: one place for the browser flags, the taps and the console reporting, instead of the
 * same set-up and tear-down in every suite. `tap` installs tapRecorders and tapEncoders.
 */
export async function openBrowserSession(
  fakeAudioFile: string,
  options: {
    viewport?: { width: number; height: number };
    timeoutMs?: number;
    tap?: boolean;
    acceptDownloads?: boolean;
  } = {},
): Promise<BrowserSession> {
  const browser = await launchBrowser(fakeAudioFile);
  try {
    const context = await browser.newContext({ viewport: options.viewport, acceptDownloads: options.acceptDownloads });
    if (options.timeoutMs !== undefined) context.setDefaultTimeout(options.timeoutMs);
    if (options.tap) {
      await tapRecorders(context);
      await tapEncoders(context);
    }
    const page = await context.newPage();
    const problems = watchConsole(page);
    return {
      browser,
      context,
      page,
      problems,
      async close() {
        if (problems.length) console.log(`browser console:\n  ${problems.join('\n  ')}`);
        await browser.close();
      },
    };
  } catch (error) {
    await browser.close();
    throw error;
  }
}
