/** The GitHub double for tests: start one, point Octokit's baseUrl at `double.url`. */
export { GitHubDouble, type DoubleOptions, type Fault, type Delivery, type LoggedCall } from './server';
export { githubOpenApi } from './openapi';
