// The OIHW weight count and shape text both layers check their weights against.
import type { Geometry } from '../geometry.js';

export function weightCount(g: Geometry): number {
  return g.outChannels * g.groupChannels * g.kh * g.kw;
}

export function weightShape(g: Geometry): string {
  return `OIHW [${g.outChannels}][${g.groupChannels}][${g.kh}][${g.kw}]`;
}
