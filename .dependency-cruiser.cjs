// The package's architecture as rules (checked by test/architecture.test.js, and by hand with
// `npx depcruise src assembly`): no import cycles anywhere, and dependencies flow one way:
//   core <- reference, tfjs, files, bench <- cli
// core is the "dsconv" entry: it must stay browser-safe and dependency-free.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: 'no-cycles', severity: 'error', comment: 'An import cycle: split the shared piece into its own module.', from: {}, to: { circular: true } },
    {
      name: 'core-imports-only-core', severity: 'error',
      comment: 'src/core is the base layer: it may import nothing outside src/core (no other folder, no package, no Node built-in).',
      from: { path: '^src/core/' }, to: { pathNot: '^src/core/' },
    },
    {
      name: 'layers-over-core', severity: 'error',
      comment: 'reference, tfjs, files and bench build on core alone, never on each other or on the CLI.',
      from: { path: '^src/(reference|tfjs|files|bench)/' }, to: { path: '^src/', pathNot: ['^src/core/', '^src/types/', '^src/$1/'] },
    },
    {
      name: 'nothing-imports-cli', severity: 'error', comment: 'The CLI is the top: nothing imports it.',
      from: { pathNot: '^src/cli/' }, to: { path: '^src/cli/' },
    },
    {
      name: 'oracles-stay-in-tests', severity: 'error', comment: 'The scalar references are test oracles: production code must not use them.',
      from: { path: '^src/', pathNot: '^src/reference/' }, to: { path: '^src/reference/' },
    },
    {
      name: 'browser-safe', severity: 'error',
      comment: 'core, tfjs and bench run in pages: no Node built-ins (files and cli are Node-only).',
      from: { path: '^src/(core|tfjs|bench)/' }, to: { dependencyTypes: ['core'] },
    },
    {
      name: 'kernels-share-only-the-abi', severity: 'error',
      comment: 'The AssemblyScript kernels import each other and the parameter records of src/core/abi.ts, nothing else.',
      from: { path: '^assembly/' }, to: { pathNot: ['^assembly/', '^src/core/abi\\.ts$'] },
    },
    {
      name: 'no-unresolved', severity: 'error', comment: 'An import that resolves to no file.',
      from: {}, to: { couldNotResolve: true, dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    // The sources import './x.js' (NodeNext); the file on disk is x.ts. AssemblyScript imports omit the extension.
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.d.ts'] },
  },
};
