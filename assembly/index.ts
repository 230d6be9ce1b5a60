// The module's exports. The host owns all memory above heap_base() and passes byte offsets.
export * from './bfp';
export * from './conv_q';
export * from './conv_f32';
export * from './dwconv';
export * from './layout';

/** First byte past the module's static data: the host's heap starts here. */
export function heap_base(): usize {
  return __heap_base;
}
