#!/usr/bin/env bash
# The classifier fidelity table of docs/BENCHMARKS.md: nsfwjs's MobileNetV2 (5 classes, 224x224), B = 32,
# m = 8, depthwise 'taps' (one scale per channel), data-free and calibrated on 64 photo crops,
# evaluated on 64 crops of other photos; then 4-bit with depthwise 'channels' (4ch) and 4-bit with the
# first depthwise conv at 8 bits (4l8). Writes /tmp/fid-{free,cal}-{BITS,4ch,4l8}.{txt,json}.
# Usage: npm run build && bash tools/fidelity.sh [PHOTO_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
P=${1:-/tmp/photos}
[ -d "$P/cal" ] || node tools/photo-crops.mjs "$P"
M=node_modules/nsfwjs/dist/models/mobilenet_v2/model.min.js
for b in 8 6 5 4; do
  node dist/cli/main.js eval --model $M --images "$P/eval" --bits $b --depthwise taps --json /tmp/fid-free-$b.json > /tmp/fid-free-$b.txt
  node dist/cli/main.js quantize --model $M --out /tmp/fid-$b.dsq --bits $b --depthwise taps --calibrate "$P/cal" --calibrate-count 64 --samples 2048 > /tmp/fid-q-$b.txt
  node dist/cli/main.js eval --model $M --images "$P/eval" --bundle /tmp/fid-$b.dsq --json /tmp/fid-cal-$b.json > /tmp/fid-cal-$b.txt
done
node dist/cli/main.js eval --model $M --images "$P/eval" --bits 4 --depthwise channels --json /tmp/fid-free-4ch.json > /tmp/fid-free-4ch.txt
node dist/cli/main.js quantize --model $M --out /tmp/fid-4ch.dsq --bits 4 --depthwise channels --calibrate "$P/cal" --calibrate-count 64 --samples 2048 > /tmp/fid-q-4ch.txt
node dist/cli/main.js eval --model $M --images "$P/eval" --bundle /tmp/fid-4ch.dsq --json /tmp/fid-cal-4ch.json > /tmp/fid-cal-4ch.txt
node dist/cli/main.js quantize --model $M --out /tmp/fid-4l8.dsq --bits 4 --depthwise taps --layer 1:bits=8 --calibrate "$P/cal" --calibrate-count 64 --samples 2048 > /tmp/fid-q-4l8.txt
node dist/cli/main.js eval --model $M --images "$P/eval" --bundle /tmp/fid-4l8.dsq --json /tmp/fid-cal-4l8.json > /tmp/fid-cal-4l8.txt
