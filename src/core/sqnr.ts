// Signal-to-quantization-noise ratio, the one measure of fidelity every tool here reports.

/** 10·log10(Σref² / Σ(ref−test)²) in dB; Infinity when identical. */
export function sqnrDb(ref: ArrayLike<number>, test: ArrayLike<number>): number {
  if (ref.length !== test.length) throw new RangeError(`lengths differ: ${ref.length} vs ${test.length}`);
  let sig = 0;
  let noise = 0;
  for (let k = 0; k < ref.length; k++) {
    sig += ref[k] * ref[k];
    const d = ref[k] - test[k];
    noise += d * d;
  }
  if (noise === 0) return Infinity;
  return 10 * Math.log10(sig / noise);
}
