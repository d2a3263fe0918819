/** The process entry: bin/pktmark.cjs runs the bundled copy of this file (dist/pktmark.cjs). */
import { main } from './main.js';

// `pktmark list | head`: a reader that goes away is the end of the output, not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0); else throw e; });

// No top-level await: the bundle is CommonJS, whose loader starts ~20 ms faster than ESM's.
void main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
