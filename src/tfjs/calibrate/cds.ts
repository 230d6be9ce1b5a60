// 'cds': the CDS affine γ, δ per output channel, least squares, from one channel's sums.

/** The least-squares γ, δ of target ≈ γ·y + δ over n positions, given Σy, Σy², Σyt and Σt. */
export function fitCds(sy: number, syy: number, syt: number, st: number, n: number): { gamma: number; delta: number } {
  const my = sy / n, mt = st / n;
  const vy = syy / n - my * my, cv = syt / n - my * mt;
  const gamma = vy > 1e-12 * (syy / n) && vy > 0 ? cv / vy : 1;
  return { gamma, delta: mt - gamma * my };
}
