/** The process entry (bin/pktmark.mjs imports the compiled copy of this file). */
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2));
