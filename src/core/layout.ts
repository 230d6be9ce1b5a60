// NCHW <-> NHWC of float32 tensors in JavaScript, for the tools that hold whole tensors outside
// wasm memory (calibration, the benchmark); the forward path transposes in wasm (f32_transpose).

/** [batch][channels][pixels] -> [batch][pixels][channels]. */
export function nchwToNhwc(x: Float32Array, batch: number, channels: number, pixels: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let n = 0; n < batch; n++) {
    for (let c = 0; c < channels; c++) for (let p = 0; p < pixels; p++) out[(n * pixels + p) * channels + c] = x[(n * channels + c) * pixels + p];
  }
  return out;
}

/** [batch][pixels][channels] -> [batch][channels][pixels]. */
export function nhwcToNchw(x: Float32Array, batch: number, channels: number, pixels: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let n = 0; n < batch; n++) {
    for (let c = 0; c < channels; c++) for (let p = 0; p < pixels; p++) out[(n * channels + c) * pixels + p] = x[(n * pixels + p) * channels + c];
  }
  return out;
}
