/**
 * `pktmark ping [-m MARK] [-c COUNT] [-i INTERVAL] [-W TIMEOUT] [-s SIZE] [-4|-6] [--netns NS] ADDR`
 * ICMP echo with SO_MARK, printed like iputils ping. Unlike iputils, -m takes 0x-hex too.
 * Exit status as iputils: 0 if any reply came back, 1 if none, 2 on an error before sending.
 */
import dns from 'node:dns/promises';
import net from 'node:net';
import { parseArgs } from 'node:util';
import { PktmarkError } from '../../errors.js';
import { type PingEvent, type PingResult, ping } from '../../ping/engine.js';
import { formatEvent, formatHeader, formatStatistics } from '../../ping/format.js';
import type { IpVersion } from '../../ping/packet.js';
import { parseMark } from '../../socket/mark.js';
import { processIo, type Io } from '../io.js';

/** ping writes through the CLI's Io (injectable for in-process tests) */
export type PingIo = Io;

export const PING_USAGE = 'usage: pktmark ping [-m MARK] [-c COUNT] [-i INTERVAL] [-W TIMEOUT] [-s SIZE] [-4|-6] [--netns NS] ADDR';

function positiveNumber(text: string | undefined, field: string, integer: boolean): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new PktmarkError('INVALID_OPTION', `${field} ${JSON.stringify(text)} must be a positive ${integer ? 'integer' : 'number'}`, { field });
  }
  return n;
}

interface PingArgs {
  host: string; mark?: number; count?: number; intervalMs: number; timeoutMs: number; size: number; version?: IpVersion; netns?: string;
}

export const PING_HELP = `${PING_USAGE}

Send ICMP / ICMPv6 echo requests with SO_MARK set on the socket (like iputils ping -m).

  -m MARK       the mark, decimal or 0x-hex (setting it needs root or CAP_NET_ADMIN)
  -c COUNT      stop after sending COUNT requests (default: until Ctrl-C)
  -i INTERVAL   seconds between requests (default 1)
  -W TIMEOUT    seconds to wait for each reply (default 10)
  -s SIZE       payload bytes (default 56)
  -4, -6        IPv4 or IPv6 (default: from the address)
  --netns NS    send from this network namespace (name, path or pid)

Without root, a ping socket is used where net.ipv4.ping_group_range allows it (no mark then).
Exit status: 0 some reply, 1 no reply, 2 error before sending.

Examples:
  pktmark ping -m 1234 -c 1 10.0.0.1            # the cheat sheet's ping -m line
  pktmark ping -m 0xdeadbeef -c 3 -6 fd00::1
  pktmark ping --netns blue -m 7 -c 2 10.0.0.2`;

export function parsePingArgs(argv: readonly string[]): PingArgs | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        mark: { type: 'string', short: 'm' },
        count: { type: 'string', short: 'c' },
        interval: { type: 'string', short: 'i' },
        timeout: { type: 'string', short: 'W' },
        size: { type: 'string', short: 's' },
        ipv4: { type: 'boolean', short: '4' },
        ipv6: { type: 'boolean', short: '6' },
        netns: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    throw new PktmarkError('INVALID_OPTION', (e as Error).message, { hint: PING_USAGE });
  }
  const v = parsed.values;
  if (v.help) return 'help';
  if (parsed.positionals.length !== 1) {
    throw new PktmarkError('INVALID_ARGUMENT', parsed.positionals.length === 0 ? 'missing destination address' : `one destination only, got ${parsed.positionals.join(' ')}`, { field: 'ADDR', hint: PING_USAGE });
  }
  if (v.ipv4 && v.ipv6) throw new PktmarkError('INVALID_OPTION', '-4 and -6 exclude each other', { field: '-4/-6' });
  const size = positiveNumber(v.size, '-s', true) ?? 56;
  if (size > 65507) throw new PktmarkError('INVALID_OPTION', `-s ${size} is larger than an ICMP message can carry`, { field: '-s' });
  const count = positiveNumber(v.count, '-c', true);
  return {
    host: parsed.positionals[0]!,
    ...(v.mark === undefined ? {} : { mark: parseMark(v.mark, '-m') }),
    ...(count === undefined ? {} : { count }),
    intervalMs: (positiveNumber(v.interval, '-i', false) ?? 1) * 1000,
    timeoutMs: (positiveNumber(v.timeout, '-W', false) ?? 10) * 1000,
    size,
    ...(v.ipv4 ? { version: 4 as const } : v.ipv6 ? { version: 6 as const } : {}),
    ...(v.netns === undefined ? {} : { netns: v.netns }),
  };
}

async function resolve(host: string, version: IpVersion | undefined): Promise<{ address: string; version: IpVersion }> {
  const literal = net.isIP(host);
  if (literal) {
    if (version !== undefined && version !== literal) {
      throw new PktmarkError('FAMILY_MISMATCH', `${host} is not an IPv${version} address`, { field: 'ADDR' });
    }
    return { address: host, version: literal as IpVersion };
  }
  try {
    const r = await dns.lookup(host, { family: version ?? 0 });
    return { address: r.address, version: r.family as IpVersion };
  } catch (e) {
    throw new PktmarkError('INVALID_ARGUMENT', `${host}: ${(e as NodeJS.ErrnoException).code === 'ENOTFOUND' ? 'Name or service not known' : (e as Error).message}`, { field: 'ADDR' });
  }
}

export async function pingCommand(argv: string[], io: PingIo = processIo): Promise<number> {
  let result: PingResult;
  let host: string;
  try {
    const args = parsePingArgs(argv);
    if (args === 'help') { io.out(PING_HELP); return 0; }
    host = args.host;
    const { address, version } = await resolve(args.host, args.version);
    const abort = new AbortController();
    const onSigint = (): void => abort.abort();
    // Without -c ping runs until Ctrl-C, then prints its statistics like iputils.
    process.on('SIGINT', onSigint);
    try {
      result = await ping({
        address, version, intervalMs: args.intervalMs, timeoutMs: args.timeoutMs, size: args.size, signal: abort.signal,
        ...(args.count === undefined ? {} : { count: args.count }),
        ...(args.mark === undefined ? {} : { mark: args.mark }),
        ...(args.netns === undefined ? {} : { netns: args.netns }),
      }, (e: PingEvent) => {
        if (e.kind === 'start') io.out(formatHeader(host, address, version, args.size));
        else (e.kind === 'send-error' ? io.err : io.out)(formatEvent(e));
      });
    } finally {
      process.off('SIGINT', onSigint);
    }
  } catch (e) {
    if (e instanceof PktmarkError) { io.err(`pktmark ping: ${e.toLine()}`); return 2; }
    io.err(`pktmark ping: ${(e as Error).message}`);
    return 2;
  }
  for (const line of formatStatistics(host, result)) io.out(line);
  return result.received > 0 ? 0 : 1;
}
