/**
 * The Envoy 1.40 API as a protobufjs Root, loaded once from the FileDescriptorSet that setup.sh
 * generates ($ENVOY_DESCRIPTORS): the encoder and the ADS service definition both read it.
 */
import { readFileSync } from 'node:fs';
import * as protobuf from 'protobufjs';
// Also adds Root.fromDescriptor to protobufjs (a side effect of loading the extension).
import * as descriptor from 'protobufjs/ext/descriptor';

const cache = new Map<string, protobuf.Root>();

/**
 * Loads (once per path, ~200 ms) the descriptor set and resolves every type. A missing file is a
 * deployment mistake, not a user one: it throws with a message saying how to produce the file.
 */
export function loadEnvoyApi(path: string | undefined = process.env.ENVOY_DESCRIPTORS): protobuf.Root {
  if (!path) {
    throw new Error('ENVOY_DESCRIPTORS is not set: source scripts/env.sh (npm run setup generates .tools/envoy-api.binpb)');
  }
  const cached = cache.get(path);
  if (cached) return cached;
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`cannot read the Envoy API descriptor set ${path} (run npm run setup): ${(e as Error).message}`);
  }
  const set = descriptor.FileDescriptorSet.decode(bytes);
  const root = (protobuf.Root as unknown as { fromDescriptor(set: unknown): protobuf.Root }).fromDescriptor(set);
  root.resolveAll();
  cache.set(path, root);
  return root;
}
