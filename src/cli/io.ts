import { escapeControls, type EscapeMode } from '../terminal-text.js';

/** Where a command writes: injectable so tests can run `main()` in-process. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
}

export const processIo: Io = {
  out: (line) => { process.stdout.write(line + '\n'); },
  err: (line) => { process.stderr.write(line + '\n'); },
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
