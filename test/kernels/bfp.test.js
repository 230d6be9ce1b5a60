// The wasm BFP kernels against bfpReference (docs/ARITHMETIC.md, "Activations"), bit for bit:
//   bfp_quantize_i16    mantissas (int16, padded blocks) and block scales 2^(E-m+2) (float32)
//   bfp_quantize_i8     the same as int8 mantissas, with sumScale * (sum of each block's mantissas)
//   bfp_dequant_c1_bf16 one-channel blocks written back as M * 2^(E-m+2) (bfloat16, exact)
//   bfp_dequant         any blocks, written back as M * 2^(E-m+2) (float32) at their own channels
//   f32_find_nonfinite  first NaN/±Inf index or -1
// Every mismatch message names the kernel arguments, the pixel/group/block/lane and the block's
// input values (with their float32 bit patterns), so a failure can be replayed by hand.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { init } from 'dsconv';
import { rt, BfpParam } from '../../dist/core/internal.js';
import { bfpReference } from 'dsconv/reference';
import { rng } from '../util.js';

await init();
const r = rt();
const k = r.k;

/** A BfpParam record with the named fields (the rest 0); returns its address for the kernel. */
function bfpParams(fields) {
  const q = r.params(BfpParam.count);
  for (const [name, v] of Object.entries(fields)) {
    assert.type(BfpParam[name], 'number', `BfpParam has a field ${name}`);
    q[BfpParam[name]] = v;
  }
  return r.paramsPtr;
}

const FMAX = 3.4028234663852886e38; // (2 - 2^-23) * 2^127
const MS = [2, 3, 4, 5, 6, 7, 8];
const BS = [1, 3, 4, 7, 8, 16, 32, 64];

// ---------------------------------------------------------------------------------------------
// float32 bit helpers

const dv = new DataView(new ArrayBuffer(8));
function fromBits(u) {
  dv.setUint32(0, u >>> 0);
  return dv.getFloat32(0);
}
function toBits(x) {
  dv.setFloat32(0, x);
  return dv.getUint32(0);
}
/** Exactly 2^e as a float32 value, e in [-149, 127]. */
function p2(e) {
  if (e < -149 || e > 127) throw new RangeError(`2^${e} is not a float32`);
  return e >= -126 ? fromBits((e + 127) << 23) : fromBits(1 << (e + 149));
}
/** The next float32 away from zero / towards zero (x nonzero, finite). */
function up(x) {
  return fromBits(toBits(x) + 1);
}
function down(x) {
  return fromBits(toBits(x) - 1);
}
function hex(x) {
  return `0x${toBits(x).toString(16).padStart(8, '0')}`;
}
function show(vals) {
  return `[${Array.from(vals, (v) => `${Object.is(v, -0) ? '-0' : v} (${hex(v)})`).join(', ')}]`;
}

// ---------------------------------------------------------------------------------------------
// Block contents. Each generator returns `len` float32 values for one block (positions are
// shuffled afterwards, so special values land on vector lanes and scalar tails alike).

function helpers(R) {
  const int = (lo, hi) => lo + Math.floor(R.uniform() * (hi - lo + 1));
  const pick = (a) => a[int(0, a.length - 1)];
  const sign = () => (R.uniform() < 0.5 ? -1 : 1);
  const subnormal = () => sign() * pick([p2(-149), fromBits(0x007fffff), fromBits(int(1, 0x7fffff)), p2(-127), p2(-140)]);
  // A float32 with a random significand and exponent in [lo, hi].
  const normalIn = (lo, hi) => sign() * fromBits(((int(lo, hi) + 127) << 23) | int(0, 0x7fffff));
  const zero = () => pick([0, -0]);
  return { int, pick, sign, subnormal, normalIn, zero };
}

function shuffle(a, R) {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(R.uniform() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** Fills `len` values: the first from `anchor()` (the block's largest), the rest from `rest()`. */
function fill(len, anchor, rest) {
  const out = [anchor()];
  while (out.length < len) out.push(rest());
  return out;
}

// Tie-type values for a block whose max has exponent E: unit u = 2^(E-m+2).
function tieValues(E, m, R) {
  const h = helpers(R);
  const top = 2 ** (m - 1);
  const u = (kk) => (kk + 0.5) * 2 ** (E - m + 2); // (k + 1/2) units, exact in float32
  return {
    anchor: () => h.sign() * h.pick([(top - 1) * 2 ** (E - m + 2), u(top - 1), 2 ** E, u(h.int(top / 2, top - 1))]),
    rest: () => {
      const s = h.sign();
      const kk = h.int(0, top - 1);
      const t = u(kk);
      switch (h.int(0, 5)) {
        case 0: return s * t; // exact tie
        case 1: return s * (t >= 2 ** -126 ? up(t) : t); // just above a tie
        case 2: return s * (t > 2 ** -126 ? down(t) : t); // just below a tie
        case 3: return s * kk * 2 ** (E - m + 2); // exact integer units
        case 4: return s * 0.5 * 2 ** (E - m + 2); // half a unit: rounds to ±1 (when not flushed)
        default: return s * fromBits(Math.max(toBits(0.5 * 2 ** (E - m + 2)) - 1, 0)); // just below half a unit: 0
      }
    },
  };
}

const KINDS = {
  zeros: (len, m, R) => fill(len, helpers(R).zero, helpers(R).zero),
  subnormalOnly: (len, m, R) => {
    const h = helpers(R);
    return fill(len, h.subnormal, () => (R.uniform() < 0.7 ? h.subnormal() : h.zero()));
  },
  subnormalMixed: (len, m, R) => {
    const h = helpers(R);
    // The block max is a small normal (2^-126 often), the rest subnormals, zeros and normals.
    return fill(len, () => h.sign() * h.pick([p2(-126), p2(-125), h.normalIn(-126, -110), h.normalIn(-10, 10)]),
      () => h.pick([h.subnormal, h.subnormal, h.zero, () => h.normalIn(-126, -118)])());
  },
  minNormal: (len, m, R) => {
    const h = helpers(R);
    // Block max exponent -126: scale 2^(-126-m+2), subnormal for m >= 3.
    return fill(len, () => h.sign() * p2(-126),
      () => h.pick([() => h.sign() * p2(-126), () => h.normalIn(-126, -126), h.subnormal, h.zero])());
  },
  fmax: (len, m, R) => {
    const h = helpers(R);
    return fill(len, () => h.sign() * FMAX,
      () => h.pick([() => h.sign() * FMAX, () => h.sign() * p2(127), () => h.normalIn(100, 127),
        () => h.normalIn(-126, 127), () => h.sign() * p2(-126), h.subnormal, h.zero])());
  },
  ties: (len, m, R) => {
    const h = helpers(R);
    const t = tieValues(h.pick([h.int(-126, 127), h.int(-126, -120), h.int(120, 127), h.int(-5, 5)]), m, R);
    return fill(len, t.anchor, t.rest);
  },
  roundUp: (len, m, R) => {
    const h = helpers(R);
    const E = h.pick([h.int(-126, 127), -126, 127, 0]);
    // [(2^(m-1) - 1/2) units, 2^(E+1)): rounds to 2^(m-1), clamps to 2^(m-1)-1.
    const lo = toBits((2 ** (m - 1) - 0.5) * 2 ** (E - m + 2));
    const hi = ((E + 127) << 23) | 0x7fffff; // largest float below 2^(E+1)
    const v = () => h.sign() * fromBits(h.pick([lo, hi, h.int(lo, hi)]));
    return fill(len, v, () => (R.uniform() < 0.6 ? v() : h.normalIn(Math.max(E - m, -126), E)));
  },
  hugeTiny: (len, m, R) => {
    const h = helpers(R);
    const big = h.pick([() => h.normalIn(90, 127), () => h.sign() * FMAX, () => h.normalIn(0, 30)]);
    return fill(len, big, () => h.pick([() => h.sign() * Math.fround(1e-30), () => h.sign() * p2(-126),
      h.subnormal, () => h.normalIn(-126, -60), big, h.zero])());
  },
  gaussian: (len, m, R) => {
    const s = 2 ** helpers(R).int(-30, 30);
    return fill(len, () => Math.fround(R.normal() * s), () => Math.fround(R.normal() * s));
  },
  logUniform: (len, m, R) => {
    // |v| = 2^U(-140, 120), random sign: normals, subnormals (flushed) and zeros of underflow.
    const v = () => (R.uniform() < 0.5 ? -1 : 1) * Math.fround(2 ** (-140 + 260 * R.uniform()));
    return fill(len, v, v);
  },
};

// ---------------------------------------------------------------------------------------------
// Running bfp_quantize_i16 against bfpReference.

/** x: [pixels][groups * cg], built block by block from `kind` (a KINDS key, or 'mixed'). */
function makeInput(kind, pixels, groups, cg, B, m, R) {
  const C = groups * cg;
  const blockLen = Math.min(B, cg);
  const nB = Math.ceil(cg / blockLen);
  const names = Object.keys(KINDS);
  const x = new Float32Array(pixels * C);
  for (let p = 0; p < pixels; p++) {
    for (let g = 0; g < groups; g++) {
      for (let b = 0; b < nB; b++) {
        const c0 = b * blockLen;
        const len = Math.min(blockLen, cg - c0);
        const kk = kind === 'mixed' ? names[Math.floor(R.uniform() * names.length)] : kind;
        const vals = shuffle(KINDS[kk](len, m, R), R);
        for (let c = 0; c < len; c++) {
          const v = vals[c];
          if (Math.fround(v) !== v && !Number.isNaN(v)) throw new Error(`test bug: ${v} from ${kk} is not a float32`);
          x[p * C + g * cg + c0 + c] = v;
        }
      }
    }
  }
  return x;
}

// Junk for the lanes between channels and srcStride: must never be read as data.
const JUNK = [fromBits(0x7fc00000), Infinity, -Infinity, FMAX, fromBits(0xffc0dead), -FMAX];
const GUARD = 64; // bytes after each output buffer that must stay untouched

/**
 * Runs the kernel and compares with the reference; returns the number of values checked. With
 * `narrow`, runs bfp_quantize_i8: int8 mantissas and (scale, sumScale * sum of mantissas) records.
 */
function checkQuantize(x, pixels, groups, cg, B, m, extra, label, narrow = false) {
  const C = groups * cg;
  const srcStride = C + extra;
  const blockLen = Math.min(B, cg);
  const nBlocks = Math.ceil(cg / blockLen);
  const paddedLen = Math.ceil(blockLen / 4) * 4;
  const mantStride = groups * nBlocks * paddedLen;
  const slots = groups * nBlocks;
  const mb = narrow ? 1 : 2;
  const rb = narrow ? 8 : 4;
  const args = `bfp_quantize_i16${narrow ? '_i8' : ''}(pixels=${pixels}, srcStride=${srcStride}, groups=${groups}, groupChannels=${cg}, ` +
    `blockLen=${blockLen}, nBlocks=${nBlocks}, m=${m}, mantStride=${mantStride}, paddedLen=${paddedLen}) B=${B}`;

  const srcBytes = Math.max(pixels * srcStride * 4, 16);
  const mantBytes = pixels * mantStride * mb;
  const scaleBytes = pixels * slots * rb;
  const src = r.heap.alloc(srcBytes);
  const mant = r.heap.alloc(mantBytes + GUARD);
  const scale = r.heap.alloc(scaleBytes + GUARD);
  try {
    const s = r.f32(src, pixels * srcStride);
    for (let p = 0; p < pixels; p++) {
      for (let c = 0; c < srcStride; c++) s[p * srcStride + c] = c < C ? x[p * C + c] : JUNK[(p + c) % JUNK.length];
    }
    // Sentinels: every lane the kernel owns must be overwritten, the guards must survive.
    r.u8(mant, mantBytes + GUARD).fill(0xa5);
    r.u8(scale, scaleBytes + GUARD).fill(0xa5);

    // The i8 records carry sumScale * (sum of the block's mantissas); vary sumScale by call.
    const sumScale = [-8, -64, 1, -1][(pixels + cg) % 4];
    (narrow ? k.bfp_quantize_i8 : k.bfp_quantize_i16)(bfpParams({
      src, pixels, srcStride, groups, groupChannels: cg, blockLen, nBlocks, mantissaBits: m, dst: mant, dstStride: mantStride, paddedLen, scale, sumScale,
    }));

    const ref = bfpReference(x, pixels, C, groups, B, m);
    const M = new (narrow ? Int8Array : Int16Array)(k.memory.buffer, mant, pixels * mantStride);
    const S = r.f32(scale, pixels * slots * (rb / 4));
    const sums = r.i32(scale, pixels * slots * (rb / 4));
    const guards = [r.u8(mant + mantBytes, GUARD), r.u8(scale + scaleBytes, GUARD)];
    for (const gb of guards) {
      const bad = gb.findIndex((v) => v !== 0xa5);
      if (bad >= 0) assert.unreachable(`${label}: ${args} wrote past its output (guard byte ${bad})`);
    }
    // Input must not change either.
    for (let p = 0; p < pixels; p++) {
      for (let c = 0; c < C; c++) {
        if (!Object.is(s[p * srcStride + c], x[p * C + c])) assert.unreachable(`${label}: ${args} modified its input at pixel ${p} channel ${c}`);
      }
    }
    for (let p = 0; p < pixels; p++) {
      for (let g = 0; g < groups; g++) {
        for (let b = 0; b < nBlocks; b++) {
          const slot = g * nBlocks + b;
          const c0 = b * blockLen;
          const len = Math.min(blockLen, cg - c0);
          const where = () => `${label}: ${args}\n  pixel ${p}, group ${g}, block ${b} (len ${len}); block input ` +
            show(x.subarray(p * C + g * cg + c0, p * C + g * cg + c0 + len));
          const want = ref.scales[p * slots + slot];
          const got = S[(p * slots + slot) * (rb / 4)];
          if (!Object.is(got, want)) {
            assert.unreachable(`${where()}\n  scale: expected ${want} (E=${ref.exps[p * slots + slot]}), got ${got} (${hex(got)})`);
          }
          const base = p * mantStride + slot * paddedLen;
          let sum = 0;
          for (let c = 0; c < paddedLen; c++) {
            const w = c < len ? ref.mant[p * C + g * cg + c0 + c] : 0;
            sum += w;
            if (M[base + c] !== w) {
              assert.unreachable(`${where()}\n  mantissa lane ${c}${c >= len ? ' (padding)' : ''}: expected ${w}, got ${M[base + c]}`);
            }
          }
          if (narrow && sums[(p * slots + slot) * 2 + 1] !== sum * sumScale) {
            assert.unreachable(`${where()}\n  ${sumScale} x mantissa sum: expected ${sum * sumScale}, got ${sums[(p * slots + slot) * 2 + 1]}`);
          }
        }
      }
    }
    return pixels * C;
  } finally {
    r.heap.release(src);
    r.heap.release(mant);
    r.heap.release(scale);
  }
}

/** Channel counts per group for a block size: short, exact, and not-a-multiple cases. */
function groupChannelsFor(B) {
  const set = new Set([1, B, B + 1, 2 * B + 3, Math.max(1, B - 1), 3 * B - 1, 5]);
  return [...set].filter((c) => c >= 1 && c <= 200).sort((a, b) => a - b);
}

function sweepKind(kind, seed) {
  let checked = 0;
  let calls = 0;
  for (const m of MS) {
    for (const B of BS) {
      for (const cg of groupChannelsFor(B)) {
        const R = rng(seed + 1000 * m + 17 * B + cg);
        const groups = 1 + (calls % 3);
        const extra = [0, 1, 3, 8][calls % 4];
        const pixels = 1 + ((calls * 7) % 9);
        const x = makeInput(kind, pixels, groups, cg, B, m, R);
        checked += checkQuantize(x, pixels, groups, cg, B, m, extra, `kind '${kind}' (seed ${seed})`);
        checked += checkQuantize(x, pixels, groups, cg, B, m, extra, `kind '${kind}' (seed ${seed})`, true);
        calls++;
      }
    }
  }
  return { checked, calls };
}

const SEED = Number(process.env.DSCONV_SEED ?? 20240611);

for (const kind of Object.keys(KINDS)) {
  test(`bfp_quantize_i16 == bfpReference: ${kind} blocks, m 2..8, B in {${BS}}`, () => {
    const { calls } = sweepKind(kind, SEED);
    assert.ok(calls >= 7 * BS.length * 3);
  });
}

test('bfp_quantize_i16: hand-picked blocks', () => {
  const cases = [
    // [values, m, expected mantissas, expected scale]
    [[0, -0, 0, -0, 0], 8, [0, 0, 0, 0, 0], 0],
    [[p2(-126), p2(-127), -p2(-127), fromBits(0x7fffff)], 8, [64, 0, 0, 0], p2(-132)],
    [[FMAX, -FMAX, 1], 8, [127, -127, 0], p2(121)],
    [[-FMAX], 2, [-1], p2(127)],
    [[64, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 63.5, -63.5, Math.fround(0.5 - 2 ** -25)], 8, [64, 1, -1, 2, -2, 3, -3, 64, -64, 0], 1],
    [[127.5, -127.75, 127.25], 8, [127, -127, 127], 1],
    [[-p2(-126), p2(-149)], 3, [-2, 0], p2(-127)],
    [[FMAX, p2(-126), -1e-30, p2(-149)], 5, [15, 0, 0, 0], p2(124)],
  ];
  for (const [vals, m, wantM, wantS] of cases) {
    const x = new Float32Array(vals);
    for (const extra of [0, 3]) {
      checkQuantize(x, 1, 1, x.length, x.length, m, extra, `hand-picked ${show(x)} m=${m}`);
    }
    const ref = bfpReference(x, 1, x.length, 1, x.length, m);
    assert.equal(Array.from(ref.mant), wantM, `reference mantissas of ${show(x)}, m=${m}`);
    assert.ok(Object.is(ref.scales[0], wantS), `reference scale of ${show(x)}, m=${m}: ${ref.scales[0]} vs ${wantS}`);
  }
});

test('bfp_quantize_i16: every minimum-normal block gives the subnormal scale 2^(-126-m+2)', () => {
  for (const m of MS) {
    for (const len of [1, 2, 3, 4, 5, 8, 9, 13]) {
      for (const s of [1, -1]) {
        const x = new Float32Array(len);
        x[len - 1] = s * p2(-126); // in the scalar tail or the last vector lane
        if (len > 1) x[0] = fromBits(0x7fffff); // largest subnormal: flushed
        checkQuantize(x, 1, 1, len, len, m, 0, `min normal m=${m} len=${len}`);
        const ref = bfpReference(x, 1, len, 1, len, m);
        assert.is(ref.scales[0], 2 ** (-126 - m + 2));
      }
    }
  }
});

/** bfp_dequant must write exactly M * 2^(E-m+2) (float32) at each channel's own position. */
function checkDequantNhwc(x, pixels, groups, cg, B, m, extra, label) {
  const C = groups * cg;
  const srcStride = C + extra;
  const dstStride = C + 2;
  const blockLen = Math.min(B, cg);
  const nBlocks = Math.ceil(cg / blockLen);
  const slots = groups * nBlocks;
  const src = r.heap.alloc(Math.max(pixels * srcStride * 4, 16));
  const dst = r.heap.alloc(pixels * dstStride * 4 + GUARD);
  try {
    const s = r.f32(src, pixels * srcStride);
    for (let p = 0; p < pixels; p++) {
      for (let c = 0; c < srcStride; c++) s[p * srcStride + c] = c < C ? x[p * C + c] : JUNK[(p + c) % JUNK.length];
    }
    r.u8(dst, pixels * dstStride * 4 + GUARD).fill(0xa5);
    k.bfp_dequant(bfpParams({ src, pixels, srcStride, groups, groupChannels: cg, blockLen, nBlocks, mantissaBits: m, dst, dstStride }));
    const ref = bfpReference(x, pixels, C, groups, B, m);
    const d = r.f32(dst, pixels * dstStride);
    const u = r.u8(dst, pixels * dstStride * 4 + GUARD);
    for (let p = 0; p < pixels; p++) {
      for (let c = 0; c < dstStride; c++) {
        const at = p * dstStride + c;
        if (c >= C) {
          // Lanes past the channels are the caller's: untouched.
          if (u.subarray(at * 4, at * 4 + 4).some((v) => v !== 0xa5)) assert.unreachable(`${label}: wrote pixel ${p} lane ${c} past the channels`);
          continue;
        }
        const g = Math.floor(c / cg);
        const slot = g * nBlocks + Math.floor((c % cg) / blockLen);
        const want = Math.fround(ref.mant[p * C + c] * ref.scales[p * slots + slot]);
        if (!Object.is(d[at], want === 0 ? 0 : want)) {
          assert.unreachable(`${label}: pixel ${p} channel ${c} (input ${x[p * C + c]}): expected ${want}, got ${d[at]}`);
        }
      }
    }
    if (u.subarray(pixels * dstStride * 4).some((v) => v !== 0xa5)) assert.unreachable(`${label}: wrote past its output`);
  } finally {
    r.heap.release(src);
    r.heap.release(dst);
  }
}

test('bfp_dequant == M * 2^(E-m+2) of bfpReference: random configurations', () => {
  const R = rng(SEED ^ 0xdec0);
  const h = helpers(R);
  for (let i = 0; i < 300; i++) {
    const m = h.int(2, 8);
    const B = h.pick([1, 2, 3, 4, 5, 8, 32, h.int(1, 40)]);
    const groups = h.pick([1, 1, 2, 3]);
    const cg = h.pick([h.int(1, 8), h.int(1, 70), B + h.int(1, B)]);
    const pixels = h.int(1, 9);
    const kind = i < 50 ? Object.keys(KINDS)[i % Object.keys(KINDS).length] : h.pick(['mixed', 'gaussian', 'logUniform']);
    const x = makeInput(kind, pixels, groups, cg, B, m, R);
    checkDequantNhwc(x, pixels, groups, cg, B, m, h.pick([0, 1, 3]), `dequant #${i} kind ${kind} B=${B} cg=${cg} m=${m} (seed ${SEED})`);
  }
});

// Packed 3-channel pixels (both strides 3, one block each: an RGB stem's input) take their own
// four-pixels-at-a-time loop; the sweep above always pads the output stride, so it never does.
test('bfp_dequant on packed 3-channel pixels == bfpReference, every block kind, and reports NaN/±Inf in any lane', () => {
  const R = rng(SEED ^ 0x3c4a);
  const h = helpers(R);
  const kinds = Object.keys(KINDS);
  for (let i = 0; i < 200; i++) {
    const m = h.int(2, 8);
    const pixels = h.int(1, 14);
    const B = h.pick([3, 4, 32]);
    const kind = i < 2 * kinds.length ? kinds[i % kinds.length] : h.pick(['mixed', 'gaussian', 'logUniform']);
    const x = makeInput(kind, pixels, 1, 3, B, m, R);
    const label = `packed RGB #${i} kind ${kind} pixels=${pixels} B=${B} m=${m} (seed ${SEED})`;
    const n = pixels * 3;
    const src = r.heap.alloc(n * 4);
    const dst = r.heap.alloc(n * 4 + GUARD);
    try {
      r.f32(src, n).set(x);
      r.u8(dst, n * 4 + GUARD).fill(0xa5);
      const bad = k.bfp_dequant(bfpParams({ src, pixels, srcStride: 3, groups: 1, groupChannels: 3, blockLen: 3, nBlocks: 1, mantissaBits: m, dst, dstStride: 3 }));
      assert.is(bad, 0, `${label}: no NaN or ±Inf reported`);
      const ref = bfpReference(x, pixels, 3, 1, 3, m);
      const d = r.f32(dst, n);
      for (let j = 0; j < n; j++) {
        const want = Math.fround(ref.mant[j] * ref.scales[Math.floor(j / 3)]);
        if (!Object.is(d[j], want === 0 ? 0 : want)) assert.unreachable(`${label}: pixel ${Math.floor(j / 3)} channel ${j % 3}: input ${show([x[j]])}, expected ${want}, got ${d[j]}`);
      }
      if (r.u8(dst + n * 4, GUARD).some((v) => v !== 0xa5)) assert.unreachable(`${label}: wrote past its output`);
      // One non-finite value, at any position, is reported.
      const at = h.int(0, n - 1);
      const y = x.slice();
      y[at] = h.pick([NaN, Infinity, -Infinity]);
      r.f32(src, n).set(y);
      assert.is(k.bfp_dequant(bfpParams({ src, pixels, srcStride: 3, groups: 1, groupChannels: 3, blockLen: 3, nBlocks: 1, mantissaBits: m, dst, dstStride: 3 })), 1,
        `${label}: ${y[at]} at ${at} reported`);
    } finally {
      r.heap.release(src);
      r.heap.release(dst);
    }
  }
});

test('bfp_quantize_i16: random configurations (mixed block kinds, Gaussian, log-uniform)', () => {
  const R = rng(SEED ^ 0x5eed);
  const h = helpers(R);
  let calls = 0;
  for (let i = 0; i < 400; i++) {
    const m = h.int(2, 8);
    const B = h.pick([...BS, h.int(1, 100)]);
    const groups = h.pick([1, 1, 2, 3, 4, 7]);
    const cg = h.pick([h.int(1, 20), h.int(1, 140), B + h.int(1, B), Math.max(1, B - 1)]);
    const pixels = h.int(1, 12);
    const extra = h.pick([0, 0, 1, 2, 3, 5, 16]);
    const kind = h.pick(['mixed', 'mixed', 'gaussian', 'logUniform']);
    const x = makeInput(kind, pixels, groups, cg, B, m, R);
    checkQuantize(x, pixels, groups, cg, B, m, extra, `random #${i} kind ${kind} (seed ${SEED})`);
    calls++;
  }
  assert.is(calls, 400);
});

test('bfp_quantize_i16: zero pixels writes nothing', () => {
  const mant = r.heap.alloc(64);
  const scale = r.heap.alloc(64);
  const src = r.heap.alloc(64);
  try {
    r.u8(mant, 64).fill(0xa5);
    r.u8(scale, 64).fill(0xa5);
    k.bfp_quantize_i16(bfpParams({ src, pixels: 0, srcStride: 4, groups: 1, groupChannels: 4, blockLen: 4, nBlocks: 1, mantissaBits: 8, dst: mant, dstStride: 4, paddedLen: 4, scale }));
    assert.ok(r.u8(mant, 64).every((v) => v === 0xa5));
    assert.ok(r.u8(scale, 64).every((v) => v === 0xa5));
  } finally {
    r.heap.release(mant);
    r.heap.release(scale);
    r.heap.release(src);
  }
});

// ---------------------------------------------------------------------------------------------
// bfp_dequant_c1_bf16: one-channel blocks, M * 2^(E-m+2) as bfloat16 (the top half of the exact
// float32, whose bottom half must be zero).

const f32Bits = (v) => new Uint32Array(new Float32Array([v]).buffer)[0];

function checkDequant(x, pixels, channels, m, srcExtra, dstExtra, label) {
  const srcStride = channels + srcExtra;
  const dstStride = channels + dstExtra;
  const args = `bfp_dequant_c1_bf16(pixels=${pixels}, srcStride=${srcStride}, channels=${channels}, m=${m}, dstStride=${dstStride})`;
  const src = r.heap.alloc(Math.max(pixels * srcStride * 4, 16));
  const dstBytes = pixels * dstStride * 2;
  const dst = r.heap.alloc(dstBytes + GUARD);
  try {
    const s = r.f32(src, pixels * srcStride);
    for (let p = 0; p < pixels; p++) {
      for (let c = 0; c < srcStride; c++) s[p * srcStride + c] = c < channels ? x[p * channels + c] : JUNK[(p + c) % JUNK.length];
    }
    r.u8(dst, dstBytes + GUARD).fill(0xa5);
    k.bfp_dequant_c1_bf16(bfpParams({ src, pixels, srcStride, groups: channels, groupChannels: 1, mantissaBits: m, dst, dstStride }));
    const ref = bfpReference(x, pixels, channels, 1, 1, m);
    const D = new Uint16Array(r.k.memory.buffer, dst, pixels * dstStride);
    const bad = r.u8(dst + dstBytes, GUARD).findIndex((v) => v !== 0xa5);
    if (bad >= 0) assert.unreachable(`${label}: ${args} wrote past its output (guard byte ${bad})`);
    for (let p = 0; p < pixels; p++) {
      for (let c = 0; c < dstStride; c++) {
        const half = D[p * dstStride + c];
        if (c >= channels) {
          if (half !== 0) assert.unreachable(`${label}: ${args} pixel ${p} lane ${c} (padding): expected 0, got 0x${half.toString(16)}`);
          continue;
        }
        const i = p * channels + c;
        const want = ref.mant[i] * ref.scales[i];
        if (Math.fround(want) !== want) throw new Error(`test bug: reference ${want} is not a float32`);
        const bits = f32Bits(want);
        // bfloat16 holds the value exactly: its float32's low half is zero (-0 would be 0x8000, and is 0).
        if ((bits & 0xffff) !== 0) assert.unreachable(`${label}: ${args}: the reference ${want} (${hex(want)}) does not fit bfloat16`);
        const got = new Float32Array(new Uint32Array([half << 16]).buffer)[0];
        if (!Object.is(got, want)) {
          assert.unreachable(`${label}: ${args} pixel ${p} channel ${c}: input ${show([x[i]])}, m=${m}: ` +
            `expected ${want} (M=${ref.mant[i]}, scale ${ref.scales[i]}), got ${got} (bfloat16 0x${half.toString(16)})`);
        }
      }
    }
  } finally {
    r.heap.release(src);
    r.heap.release(dst);
  }
}

// Values that tie (or nearly tie) at their own exponent: with one-channel blocks the value is its
// own block max, so v = (k + 1/2) * 2^(e-m+2) with k in [2^(m-2), 2^(m-1)-1].
function ownTie(m, R) {
  const h = helpers(R);
  const e = h.pick([h.int(-126, 127), -126, 127, h.int(-3, 3)]);
  const kk = h.int(2 ** (m - 2), 2 ** (m - 1) - 1);
  const t = (kk + 0.5) * 2 ** (e - m + 2);
  const v = h.pick([t, up(t), t > 2 ** -126 ? down(t) : t, kk * 2 ** (e - m + 2)]);
  // t == 2^(e+1) - 2^(e-m+1) < 2^(e+1) can still step past FMAX only for e = 127 with up(): guard.
  return h.sign() * (Number.isFinite(v) ? v : FMAX);
}

test('bfp_dequant_c1_bf16 == bfpReference(B=1) mant*scale, every block kind, m 2..8', () => {
  const R = rng(SEED ^ 0xdec);
  const h = helpers(R);
  const kinds = [...Object.keys(KINDS), 'ownTie'];
  let calls = 0;
  for (const m of MS) {
    for (const kind of kinds) {
      for (const channels of [1, 2, 3, 4, 5, 7, 8, 9, 16, 19, 33, 64, 67]) {
        const pixels = h.int(1, 6);
        const x = new Float32Array(pixels * channels);
        for (let i = 0; i < x.length; i += 0) {
          const vals = kind === 'ownTie' ? [ownTie(m, R)] : shuffle(KINDS[kind](h.int(1, 8), m, R), R);
          for (const v of vals) if (i < x.length) x[i++] = v;
        }
        const srcExtra = h.pick([0, 1, 3, 4]);
        const dstExtra = h.pick([0, (4 - (channels % 4)) % 4, 1, 5]);
        checkDequant(x, pixels, channels, m, srcExtra, dstExtra, `kind ${kind} (seed ${SEED})`);
        calls++;
      }
    }
  }
  assert.ok(calls > 1000);
});

test('bfp_dequant_c1_bf16: hand-picked values', () => {
  // [value, m, expected]
  const cases = [
    [0, 8, 0], [-0, 8, 0], [p2(-149), 8, 0], [-fromBits(0x7fffff), 4, 0],
    [p2(-126), 8, p2(-126)], [-p2(-126), 2, -p2(-126)],
    [FMAX, 8, 127 * p2(127 - 6)], [-FMAX, 2, -p2(127)],
    [2.5, 3, 3], [-2.5, 3, -3], [3.5, 3, 3], [-3.5, 3, -3], [1.5, 2, 1], [0.75, 2, 0.5],
    [127.5, 8, 127], [126.5, 8, 127], [-125.5, 8, -126], [Math.fround(1 / 3), 8, 85 / 256],
  ];
  for (const [v, m, want] of cases) {
    const x = new Float32Array([v, v, v, v, v]); // four through the SIMD lanes, one scalar
    checkDequant(x, 1, 5, m, 0, 3, `hand-picked ${show([v])} m=${m}`);
    const ref = bfpReference(new Float32Array([v]), 1, 1, 1, 1, m);
    assert.ok(Object.is(ref.mant[0] * ref.scales[0], want), `reference dequant of ${v}, m=${m}: ${ref.mant[0] * ref.scales[0]} vs ${want}`);
  }
});

test('bfp_dequant_c1_bf16 reports a NaN or ±Inf in any channel: the 8-wide loop, the 4-wide one and the scalar tail', () => {
  for (const channels of [1, 3, 4, 7, 8, 12, 15]) {
    const src = r.heap.alloc(channels * 4);
    const dst = r.heap.alloc(Math.max(channels * 2, 16));
    try {
      const run = () => k.bfp_dequant_c1_bf16(bfpParams({ src, pixels: 1, srcStride: channels, groups: channels, groupChannels: 1, mantissaBits: 8, dst, dstStride: channels }));
      const x = r.f32(src, channels);
      x.fill(1.5);
      assert.is(run(), 0, `${channels} channels, all finite`);
      for (let c = 0; c < channels; c++) {
        for (const bad of [NaN, Infinity, -Infinity]) {
          r.f32(src, channels).fill(1.5)[c] = bad;
          assert.is(run(), 1, `${channels} channels, ${bad} at ${c}`);
        }
      }
    } finally {
      r.heap.release(src);
      r.heap.release(dst);
    }
  }
});

test('bfp_dequant_c1_bf16: random Gaussian and log-uniform tensors', () => {
  const R = rng(SEED ^ 0xc1);
  const h = helpers(R);
  for (let i = 0; i < 200; i++) {
    const m = h.int(2, 8);
    const channels = h.int(1, 70);
    const pixels = h.int(1, 10);
    const kind = h.pick(['gaussian', 'logUniform']);
    const x = new Float32Array(pixels * channels);
    x.set(KINDS[kind](x.length, m, R));
    checkDequant(x, pixels, channels, m, h.int(0, 5), h.int(0, 7), `random #${i} ${kind} (seed ${SEED})`);
  }
});

// ---------------------------------------------------------------------------------------------
// f32_find_nonfinite

test('f32_find_nonfinite: first NaN/±Inf index at vector starts, middles and the scalar tail', () => {
  // Bit patterns, written through a Uint32Array so NaN payloads and signs survive.
  const bad = [0x7fc00000, 0x7f800000, 0xff800000, 0x7f800001, 0xffc00000, 0x7fffffff, 0xff800001, 0xffffffff];
  const fine = [0x7f7fffff, 0xff7fffff, 0, 0x80000000, 1, 0x807fffff, 0x3f800000, 0xc0200000, 0x7f000000, 0x00800000];
  const cap = 80;
  const ptr = r.heap.alloc((cap + 8) * 4);
  try {
    const a = new Uint32Array(k.memory.buffer, ptr, cap + 8);
    const h = (u) => `0x${(u >>> 0).toString(16)}`;
    let runs = 0;
    for (const n of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 15, 16, 17, 31, 32, 33, 35, 64, 67, 80]) {
      const reset = () => {
        for (let i = 0; i < cap + 8; i++) a[i] = fine[i % fine.length];
        a[n] = 0x7fc00000; // just past the end: must not be reported
        a[n + 1] = 0x7f800000;
      };
      reset();
      assert.is(k.f32_find_nonfinite(ptr, n), -1, `clean n=${n}`);
      for (let pos = 0; pos < n; pos++) {
        for (const v of bad) {
          reset();
          a[pos] = v;
          assert.is(k.f32_find_nonfinite(ptr, n), pos, `n=${n}, ${h(v)} at ${pos}`);
          // A later second one must not win.
          if (pos + 1 < n) {
            a[pos + 1] = 0xff800000;
            assert.is(k.f32_find_nonfinite(ptr, n), pos, `n=${n}, ${h(v)} at ${pos} and -Inf at ${pos + 1}`);
          }
          if (pos + 5 < n) {
            a[pos + 5] = 0x7fc00000;
            assert.is(k.f32_find_nonfinite(ptr, n), pos, `n=${n}, ${h(v)} at ${pos}, more after`);
          }
          runs++;
        }
      }
      if (n > 0) {
        reset();
        a[n - 1] = 0xff800000;
        assert.is(k.f32_find_nonfinite(ptr, n), n - 1, `n=${n}, last element`);
      }
    }
    // Unaligned start (pointer not a multiple of 16).
    for (let off = 1; off < 4; off++) {
      for (let i = 0; i < cap + 8; i++) a[i] = 0x3f800000;
      a[off + 6] = 0x7fc00000;
      assert.is(k.f32_find_nonfinite(ptr + 4 * off, 20), 6, `offset ${off}`);
      a[off + 6] = 0x3f800000;
      assert.is(k.f32_find_nonfinite(ptr + 4 * off, 20), -1, `offset ${off}, clean`);
    }
    assert.ok(runs > 1000);
  } finally {
    r.heap.release(ptr);
  }
});

test.run();
