/**
 * The Envoy translator: IR → Envoy v3 resources (and bootstraps). Stage after the IR builder; the
 * xDS server and `portcullis render/plan` consume it.
 */
export { translateEnvironment, translatePolicy } from './translate';
export { staticBootstrap, adsBootstrap, ADS_RETRY_BACKOFF, XDS_CLUSTER, DEFAULT_ADMIN_PORT } from './bootstrap';
export type { StaticBootstrapOptions, AdsBootstrapOptions, AdsTls, XdsAddress } from './bootstrap';
export { canonicalJson, contentHash, resourceVersion, versioned } from './hash';
export { HTTP_FILTER_ORDER } from './http-filters';
export { FILTER, names } from './common';
export { SHADOW_HEADER } from './rate-limit';
export * from './resources';
