/** The process entry: bin/pktmark.cjs runs the bundled copy of this file (dist/pktmark.cjs). */
import { main } from './main.js';

// No top-level await: the bundle is CommonJS, whose loader starts ~20 ms faster than ESM's.
void main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
