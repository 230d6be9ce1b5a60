// Quantization quality: SQNR (dB) of DSConv2d against the float convolution (float64
// conv2dReference) on seeded Gaussian weights and inputs, for a grid of weight bits b and
// activation mantissa bits m at block size B = 32. The floors below are the measured values
// rounded down to a whole dB, minus 1 dB: a regression of more than ~1 dB fails.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { init, DSConv2d } from 'dsconv';
import { conv2dReference, sqnrDb } from 'dsconv/reference';
import { rng, randn } from '../util.js';

/** (bits, mantissaBits) pairs, the table's columns. */
const PAIRS = [[8, 8], [6, 8], [5, 8], [4, 8], [3, 8], [2, 8], [8, 6], [4, 6]];

const SHAPES = [
  { name: '3x3 conv 64→64, 16x16', inChannels: 64, outChannels: 64, k: 3, groups: 1, seed: 1000 },
  { name: '1x1 conv 128→64, 16x16', inChannels: 128, outChannels: 64, k: 1, groups: 1, seed: 1001 },
  { name: '3x3 depthwise 32, 16x16 (channels)', inChannels: 32, outChannels: 32, k: 3, groups: 32, seed: 1002 },
  { name: '3x3 depthwise 32, 16x16 (taps)', inChannels: 32, outChannels: 32, k: 3, groups: 32, seed: 1003, taps: true },
];
const H = 16;
const W = 16;

// Floors in dB, one per PAIRS entry: floor(measured) - 1. Measured on 2026-11-27 (seeds above):
//   3x3 64→64:        40.19 32.88 27.27 21.49 15.27  9.29 29.50 20.92
//   1x1 128→64:       40.18 33.01 27.27 21.44 15.36  9.26 29.57 20.89
//   3x3 dw (channels): 49.39 49.39 49.39 49.39 49.39 49.39 37.18 37.18  (one scale per weight: b is lossless)
//   3x3 dw (taps):     45.81 36.05 30.44 23.95 17.99 11.51 37.26 23.82
const FLOORS = [
  [39, 31, 26, 20, 14, 8, 28, 19],
  [39, 32, 26, 20, 14, 8, 28, 19],
  [48, 48, 48, 48, 48, 48, 36, 36],
  [44, 35, 29, 22, 16, 10, 36, 22],
];

const measured = [];

test.before(async () => {
  await init();
  for (const s of SHAPES) {
    const r = rng(s.seed);
    const wt = randn(r, s.outChannels * (s.inChannels / s.groups) * s.k * s.k);
    const x = randn(r, s.inChannels * H * W);
    const pad = (s.k - 1) / 2;
    const ref = conv2dReference(x, wt, {
      batch: 1, inChannels: s.inChannels, height: H, width: W, outChannels: s.outChannels, kh: s.k, kw: s.k,
      stride: [1, 1], padding: [pad, pad, pad, pad], dilation: [1, 1], groups: s.groups,
    });
    const row = [];
    for (const [bits, mantissaBits] of PAIRS) {
      const layer = DSConv2d.fromFloat(wt, {
        inChannels: s.inChannels, outChannels: s.outChannels, kernelSize: s.k, padding: pad, groups: s.groups,
        bits, mantissaBits, blockSize: 32, depthwiseBlocks: s.taps ? 'taps' : 'channels',
      });
      row.push(sqnrDb(ref, layer.forward(x, { height: H, width: W })));
      layer.dispose();
    }
    measured.push(row);
  }
  const head = `| layer (B = 32) | ${PAIRS.map(([b, m]) => `b=${b} m=${m}`).join(' | ')} |`;
  const rule = `|---|${PAIRS.map(() => '---:').join('|')}|`;
  const rows = SHAPES.map((s, i) => `| ${s.name} | ${measured[i].map((v) => v.toFixed(1)).join(' | ')} |`);
  console.log(`\nSQNR (dB) of DSConv2d vs float conv, Gaussian weights and inputs:\n${[head, rule, ...rows].join('\n')}\n`);
});

test('SQNR is at or above the measured floors', () => {
  SHAPES.forEach((s, i) => {
    PAIRS.forEach(([b, m], j) => {
      const v = measured[i][j];
      assert.ok(Number.isFinite(v), `${s.name} b=${b} m=${m}: SQNR ${v}`);
      assert.ok(v >= FLOORS[i][j], `${s.name} b=${b} m=${m}: SQNR ${v.toFixed(2)} dB below the floor ${FLOORS[i][j]} dB`);
    });
  });
});

test('more weight bits never lower SQNR by more than 0.5 dB at fixed m', () => {
  SHAPES.forEach((s, i) => {
    for (const m of [6, 8]) {
      const cols = PAIRS.map(([b, mm], j) => ({ b, mm, v: measured[i][j] })).filter((c) => c.mm === m);
      for (const lo of cols) {
        for (const hi of cols) {
          if (hi.b > lo.b) {
            assert.ok(hi.v >= lo.v - 0.5, `${s.name} m=${m}: b=${hi.b} gives ${hi.v.toFixed(2)} dB < b=${lo.b} ${lo.v.toFixed(2)} dB - 0.5`);
          }
        }
      }
    }
  });
});

test('more mantissa bits never lower SQNR by more than 0.5 dB at fixed b', () => {
  SHAPES.forEach((s, i) => {
    for (const b of [4, 8]) {
      const v6 = measured[i][PAIRS.findIndex(([bb, m]) => bb === b && m === 6)];
      const v8 = measured[i][PAIRS.findIndex(([bb, m]) => bb === b && m === 8)];
      assert.ok(v8 >= v6 - 0.5, `${s.name} b=${b}: m=8 ${v8.toFixed(2)} dB < m=6 ${v6.toFixed(2)} dB - 0.5`);
    }
  });
});

test('dense layers gain roughly 6 dB per weight bit (2..6 bits, m = 8)', () => {
  // Sanity on the shape of the curve, not only the floor: each extra weight bit gains 4.5..7.5 dB
  // while the weights dominate the error (b <= 6 at m = 8).
  for (const i of [0, 1]) {
    const byBits = new Map(PAIRS.map(([b, m], j) => [`${b},${m}`, measured[i][j]]));
    for (let b = 2; b < 6; b++) {
      const step = byBits.get(`${b + 1},8`) - byBits.get(`${b},8`);
      assert.ok(step > 4.5 && step < 7.5, `${SHAPES[i].name}: ${b}→${b + 1} bits gains ${step.toFixed(2)} dB`);
    }
  }
});

test.run();
