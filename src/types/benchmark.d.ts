// The part of benchmark.js 2.1.4 that the bench uses (the package ships no types).
declare module 'benchmark' {
  interface Options { maxTime?: number; minSamples?: number; minTime?: number; initCount?: number }
  class Benchmark {
    constructor(name: string, fn: () => void, options?: Options);
    run(options?: { async?: boolean }): Benchmark;
    error?: Error;
    stats: { sample: number[]; mean: number; rme: number };
  }
  export default Benchmark;
}
