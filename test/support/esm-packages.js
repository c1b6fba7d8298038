/** Packages octokit pulls in that ship ES modules only; jest (test/support/jest-resolver.js, jest.config.js) transforms them to CommonJS. */
exports.ESM_PACKAGES = ['octokit', '@octokit', 'universal-user-agent', 'universal-github-app-jwt', 'before-after-hook', 'json-with-bigint', 'content-type', 'fast-content-type-parse'];
