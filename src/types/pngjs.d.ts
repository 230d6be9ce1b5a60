// The part of pngjs 7 that images.ts uses (the package ships no types).
declare module 'pngjs' {
  export const PNG: { sync: { read(data: Buffer): { width: number; height: number; data: Uint8Array } } };
}
