/** GitHub double: every operation it implements, by OpenAPI operation id; other operations answer 501 and are recorded as violations. */
import { ACTION_HANDLERS } from './handlers-actions';
import { GIT_HANDLERS, sameRepo } from './handlers-git';
import { PULL_HANDLERS } from './handlers-pulls';
import { STATUS_HANDLERS } from './handlers-statuses';
import { errorBody } from './objects';
import type { Call, Reply } from './server';

const ALL: Record<string, (c: Call) => Reply> = { ...GIT_HANDLERS, ...PULL_HANDLERS, ...STATUS_HANDLERS, ...ACTION_HANDLERS };

/** Calls addressing another repository get GitHub's 404. */
export const HANDLERS: Record<string, (c: Call) => Reply> = Object.fromEntries(
  Object.entries(ALL).map(([id, h]) => [id, (c: Call) => (sameRepo(c) ? h(c) : { status: 404, body: errorBody(404, 'Not Found') })]),
);
