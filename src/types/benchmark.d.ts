// The part of benchmark.js 2.1.4 that the bench uses (the package ships no types).
declare module 'benchmark' {
  interface Deferred { resolve(): void }
  interface Options {
    maxTime?: number; minSamples?: number; minTime?: number; initCount?: number;
    /** The test function takes a Deferred and calls its resolve() when an asynchronous call ends. */
    defer?: boolean;
    onComplete?: () => void;
  }
  class Benchmark {
    constructor(name: string, fn: ((deferred: Deferred) => void) | (() => void), options?: Options);
    run(options?: { async?: boolean }): Benchmark;
    error?: Error;
    stats: { sample: number[]; mean: number; rme: number };
  }
  export default Benchmark;
}
