// The shape of one layer's fit, shared by the methods.

/** Channels, taps and where each weight's block scale is in the KDS. */
export interface Dims {
  C: number; Cin: number; Cg: number; Og: number; taps: number;
  scaleIndex: (o: number, c: number, t: number) => number;
}
