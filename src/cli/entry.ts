/**
 * The process entry: bin/pktmark.cjs runs the bundled copy of this file (dist/pktmark-main.cjs,
 * started by dist/pktmark.cjs, build/launcher.cjs).
 */
import { main } from './main.js';

// `pktmark list | head` (EPIPE): io.ts's processIo ends the process quietly. Nothing here touches
// process.stdout: building that stream costs more than a dry-run (see io.ts).

// No top-level await: the bundle is CommonJS, whose loader starts ~20 ms faster than ESM's.
// `done`: build/warm-cache.cjs runs the bundle several times in one process and waits for each;
// the launcher then ends a real run with exitNow (io.ts).
export { exitNow } from './io.js';
export const done: Promise<number> = main(process.argv.slice(2)).then((code) => { process.exitCode = code; return code; });
