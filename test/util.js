// Small seeded PRNG for reproducible tests: mulberry32 for uniforms,
// Box–Muller for normals.

export function rng(seed) {
  let s = seed >>> 0;
  function uniform() {
    // mulberry32: returns a float in [0, 1)
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  let spare = null;
  function normal() {
    if (spare !== null) {
      const v = spare;
      spare = null;
      return v;
    }
    // 1 - u keeps the log argument in (0, 1], so never log(0).
    const u1 = 1 - uniform();
    const u2 = uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }
  return { uniform, normal };
}

/** n standard normal samples as float32. */
export function randn(r, n) {
  const out = new Float32Array(n);
  for (let k = 0; k < n; k++) out[k] = r.normal();
  return out;
}

/** [n][c][h][w] -> [n][h][w][c]. */
export function nchwToNhwc(x, n, c, h, w) {
  const out = new Float32Array(x.length);
  for (let b = 0; b < n; b++)
    for (let k = 0; k < c; k++)
      for (let p = 0; p < h * w; p++) out[(b * h * w + p) * c + k] = x[(b * c + k) * h * w + p];
  return out;
}

/** [n][h][w][c] -> [n][c][h][w]. */
export function nhwcToNchw(x, n, c, h, w) {
  const out = new Float32Array(x.length);
  for (let b = 0; b < n; b++)
    for (let k = 0; k < c; k++)
      for (let p = 0; p < h * w; p++) out[(b * c + k) * h * w + p] = x[(b * h * w + p) * c + k];
  return out;
}
