/** Test harness: runs the `portcullis` CLI from the TypeScript sources (under ts-node) as a child process. */
import { main } from '../../cli/main';

main(process.argv).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.stack : String(err));
    process.exit(70);
  },
);
