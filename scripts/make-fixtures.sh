#!/usr/bin/env bash
# Regenerates the small committed media fixtures in test/fixtures/ used by src/media/*.test.ts.
# Needs the Debian CLIs espeak-ng, sox and ffmpeg. Output is deterministic enough for tests
# (they compare durations, not bytes), so re-running only changes bytes, not behaviour.
set -euo pipefail
cd "$(dirname "$0")/.."
out=test/fixtures
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ff() { ffmpeg -hide_banner -loglevel error -nostdin -y "$@"; }

text="Earshot captures meeting audio. This is a short test recording, about five seconds of synthetic speech."
espeak-ng -s 175 -w "$tmp/raw.wav" "$text"
# speech.wav: the espeak voice as 16 kHz mono 16-bit PCM, padded/trimmed to exactly 5 s.
sox "$tmp/raw.wav" -b 16 -r 16000 -c 1 "$out/speech.wav" pad 0 5 trim 0 5
# A 48 kHz stereo master like a browser or phone would capture; the compressed fixtures come from it.
sox "$out/speech.wav" -r 48000 -c 2 "$tmp/speech48.wav"

ff -i "$tmp/speech48.wav" -c:a libmp3lame -b:a 48k "$out/speech.mp3"
# Chrome MediaRecorder style: WebM, Opus 48 kHz, cluster-based, written as a non-seekable stream
# (no cues, unknown sizes) by piping through stdout.
ff -i "$tmp/speech48.wav" -c:a libopus -b:a 32k -f webm -cluster_time_limit 1000 -live 1 - > "$out/speech.webm"
ff -i "$tmp/speech48.wav" -c:a libopus -b:a 32k "$out/speech.ogg"
ff -i "$tmp/speech48.wav" -c:a aac -b:a 48k "$out/speech.m4a"
ff -i "$tmp/speech48.wav" -c:a flac "$out/speech.flac"
ff -i "$tmp/speech48.wav" -c:a libvorbis -q:a 0 "$out/speech-vorbis.ogg"
# Chrome's `audio/mp4;codecs=opus` MediaRecorder output: fragmented MP4 with Opus.
ff -i "$tmp/speech48.wav" -c:a libopus -b:a 32k -f mp4 -movflags frag_keyframe+empty_moov+default_base_moof \
  -frag_duration 1000000 "$out/speech-frag.mp4"
# Safari style: fragmented MP4 with AAC.
ff -i "$tmp/speech48.wav" -c:a aac -b:a 48k -f mp4 -movflags frag_keyframe+empty_moov+default_base_moof \
  -frag_duration 1000000 "$out/speech-frag-aac.mp4"
# Tiny H.264 video + AAC audio: only the audio track must be used.
ff -f lavfi -i "testsrc=size=64x48:rate=10:duration=5" -i "$tmp/speech48.wav" -map 0:v -map 1:a \
  -c:v libx264 -preset ultrafast -crf 40 -pix_fmt yuv420p -c:a aac -b:a 32k -shortest "$out/speech-video.mp4"

# Hostile inputs: the names lie about the content.
echo "This is just text, not audio at all." > "$out/not-audio.mp3"
ff -f lavfi -i "testsrc=size=64x48:rate=10:duration=2" -c:v libx264 -preset ultrafast -crf 40 -pix_fmt yuv420p \
  "$out/video-only.mp4"
cat > "$out/playlist.mp3" <<'M3U'
#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:5
#EXT-X-MEDIA-SEQUENCE:0
#EXTINF:5.0,
file:///etc/passwd
#EXTINF:5.0,
http://127.0.0.1:1/segment.ts
#EXT-X-ENDLIST
M3U
cat > "$out/concat.mp3" <<'CAT'
ffconcat version 1.0
file '/etc/passwd'
CAT
ls -l "$out"
du -ch "$out"/* | tail -1
