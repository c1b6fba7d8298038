/** Jest runs the TypeScript sources directly; `npm run typecheck` does the type checking. */
// octokit and its @octokit/* parts ship as ES modules only: ts-jest turns them into CommonJS for the
// tests (Node 22 itself loads them with require(esm) in the built CLI).
const { ESM_PACKAGES } = require('./test/support/esm-packages');

module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { diagnostics: false }],
    '^.+\\.js$': ['ts-jest', { diagnostics: false, tsconfig: { allowJs: true, module: 'commonjs', target: 'ES2023', esModuleInterop: true } }],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${ESM_PACKAGES.join('|')})/)`],
  resolver: '<rootDir>/test/support/jest-resolver.js',
  moduleFileExtensions: ['ts', 'js', 'json'],
  testTimeout: 30000,
};
