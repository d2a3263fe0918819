/**
 * The process entry: bin/pktmark.cjs runs the bundled copy of this file (dist/pktmark-main.cjs,
 * started by dist/pktmark.cjs, build/launcher.cjs).
 */
import { main } from './main.js';

// `pktmark list | head`: a reader that goes away is the end of the output, not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0); else throw e; });

// No top-level await: the bundle is CommonJS, whose loader starts ~20 ms faster than ESM's.
// `done`: build/warm-cache.cjs runs the bundle several times in one process and waits for each.
export const done: Promise<number> = main(process.argv.slice(2)).then((code) => { process.exitCode = code; return code; });
