import { writeSync } from 'node:fs';
import { escapeControls, type EscapeMode } from '../terminal-text.js';

/** Where a command writes: injectable so tests can run `main()` in-process. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
}

/**
 * Writes to descriptors 1 and 2 directly. The first touch of process.stdout builds a stream (for a
 * pipe or a terminal a net or tty socket and the modules behind it): ~4 ms to /dev/null and
 * 13–30 ms to a pipe or terminal here, more than a dry-run's own work. Node writes stdio
 * synchronously on Linux, so order and blocking are as before. A descriptor left non-blocking by
 * whoever shares it (EAGAIN), or any other failure on stderr, goes on through Node's stream,
 * which waits or reports as it always did.
 */
/** set once any output went through a Node stream, which may still hold it (see exitNow) */
let streamed = false;

function fdWriter(fd: 1 | 2): (text: string) => void {
  let stream: NodeJS.WriteStream | undefined;
  return (text) => {
    if (stream) { stream.write(text); return; }
    const buf = Buffer.from(text, 'utf8');
    let off = 0;
    try {
      while (off < buf.length) off += writeSync(fd, buf, off);
    } catch (e) {
      // `pktmark list | head`: a reader that goes away is the end of the output, not an error
      if (fd === 1 && (e as NodeJS.ErrnoException).code === 'EPIPE') process.exit(process.exitCode ?? 0);
      if (fd === 1 && (e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      stream = fd === 1 ? process.stdout : process.stderr;
      streamed = true;
      if (fd === 1) stream.on('error', (err: NodeJS.ErrnoException) => { if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0); else throw err; });
      stream.write(buf.subarray(off));
    }
  };
}

const writeOut = fdWriter(1);
const writeErr = fdWriter(2);

/**
 * End the process with `code` once a command has finished. Leaving it to Node's normal exit ran
 * V8's pending GC tasks and tore the heap down first: 20-40 ms after a 10,000-rule restore had
 * printed its last line. Output that went through a stream (see fdWriter) may still be queued:
 * then the process ends as before, when the event loop is empty.
 */
export function exitNow(code: number): void {
  process.exitCode = code;
  if (!streamed) process.exit(code);
}

export const processIo: Io = {
  out: (line) => writeOut(line + '\n'),
  err: (line) => writeErr(line + '\n'),
};

/**
 * Every line pktmark prints passes here (main() wraps whatever Io it is given), so no path can
 * send a raw control character to a terminal. Line breaks and tabs a command writes on purpose
 * are kept; fields that could hold them (table cells, comments, error lines) are escaped fully
 * where they are formatted. `mode` is read per line: --json is known only once options are parsed.
 */
export function terminalIo(io: Io, mode: () => EscapeMode): Io {
  return {
    out: (line) => io.out(escapeControls(line, mode(), '\n\t')),
    err: (line) => io.err(escapeControls(line, mode(), '\n\t')),
  };
}
