// 'cds': the CDS affine γ, δ per output channel, least squares.

/** Least-squares γ, δ per channel: target ≈ γ·y + δ. */
export function fitCds(y: Float32Array, t: Float32Array, S: number, C: number): { gamma: Float32Array; delta: Float32Array } {
  const gamma = new Float32Array(C), delta = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    let sy = 0, st = 0, syy = 0, syt = 0;
    for (let s = 0; s < S; s++) {
      const a = y[s * C + c], b = t[s * C + c];
      sy += a; st += b; syy += a * a; syt += a * b;
    }
    const my = sy / S, mt = st / S;
    const vy = syy / S - my * my, cv = syt / S - my * mt;
    const g = vy > 1e-12 * (syy / S) && vy > 0 ? cv / vy : 1;
    gamma[c] = g;
    delta[c] = mt - g * my;
  }
  return { gamma, delta };
}
