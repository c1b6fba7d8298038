/** Jest resolver: octokit's ES-module-only packages export just an "import" condition; ask for it for them alone. */
const { ESM_PACKAGES } = require('./esm-packages');

module.exports = (request, options) => {
  const esm = ESM_PACKAGES.some((p) => request === p || request.startsWith(p + '/'));
  return options.defaultResolver(request, esm ? { ...options, conditions: ['import', 'node', 'default'] } : options);
};
