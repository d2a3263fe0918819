/**
 * A TCP connection whose SYN already carries the mark.
 *
 * libuv creates a TCP socket's fd only inside uv_tcp_connect(), immediately before connect(2),
 * so there is no moment to set SO_MARK on Node's own fd between creation and the SYN. Instead we
 * make the fd ourselves (socket(2) + SO_MARK) and hand it to the socket's still-empty TCP handle
 * with `_handle.open(fd)` just before Node calls connect on it; uv_tcp_connect then reuses that
 * fd (maybe_new_socket() keeps an existing one). The family of the fd must match the address,
 * so the fd is made once the address is known:
 *  - host is an IP literal: Node skips lookup and connects on the next tick, so we open the fd
 *    synchronously right after `socket.connect()` returns;
 *  - host is a name: through a `lookup` wrapper, after the address resolved and before Node's
 *    callback goes on to connect.
 * Node 20's happy-eyeballs mode (autoSelectFamily) makes a new handle per attempt, which would
 * bypass our fd, so it is turned off: a name connects to its first address (as before Node 20).
 */
import dns from 'node:dns';
import net from 'node:net';
import { PktmarkError } from '../errors.js';
import { AF_INET, AF_INET6, SOCK_STREAM, getLibc } from '../transport/syscalls.js';
import { openMarkedFd, parseMark } from './mark.js';

export type MarkedConnectOptions = Omit<net.TcpNetConnectOpts, 'autoSelectFamily' | 'autoSelectFamilyAttemptTimeout'> & {
  /** SO_MARK for every packet of the connection, the SYN included: decimal or 0x-hex. */
  readonly mark: number | string;
};

interface TcpHandle { readonly fd: number; open(fd: number): number }

function giveMarkedFd(socket: net.Socket, family: number, mark: number): void {
  const handle = (socket as unknown as { _handle?: TcpHandle | null })._handle;
  if (!handle || typeof handle.open !== 'function') {
    throw new PktmarkError('CLOSED', 'the socket was closed before it could connect', { field: 'socket' });
  }
  if (handle.fd >= 0) {
    // Should not happen with autoSelectFamily off; refuse rather than send an unmarked SYN.
    throw new PktmarkError('UNSUPPORTED', 'the socket already has a file descriptor; cannot mark it before connect', { field: 'socket' });
  }
  const fd = openMarkedFd(family === 6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0, mark);
  const rc = handle.open(fd);
  if (rc !== 0) {
    getLibc().close(fd);
    throw new PktmarkError('SYSCALL', `cannot attach the marked socket to Node's handle (uv error ${rc})`, { field: 'socket' });
  }
}

/**
 * Like `net.connect(options)`, but SO_MARK is set before connect(2), so fwmark policy routing and
 * `meta mark` rules see the SYN. A bad mark throws at once; a failure to mark (EPERM without
 * CAP_NET_ADMIN) arrives as the socket's 'error' event, like any connect error, and nothing is sent.
 */
export function connectMarked(options: MarkedConnectOptions, connectListener?: () => void): net.Socket {
  const { mark: rawMark, timeout, lookup, ...rest } = options;
  const mark = parseMark(rawMark);
  if ((rest as { path?: unknown }).path) {
    throw new PktmarkError('INVALID_ARGUMENT', 'marks apply to TCP connections, not unix sockets (path)', { field: 'path' });
  }
  const socket = new net.Socket(rest);
  if (timeout) socket.setTimeout(timeout);
  const baseLookup: net.LookupFunction = lookup ?? (dns.lookup as unknown as net.LookupFunction);
  const markedLookup: net.LookupFunction = (hostname, opts, callback) => {
    baseLookup(hostname, opts, (err, address, family) => {
      if (err) { callback(err, address, family); return; }
      const first = Array.isArray(address) ? address[0] : { address, family };
      try {
        giveMarkedFd(socket, first?.family ?? net.isIP(String(first?.address)), mark);
      } catch (e) {
        callback(e as NodeJS.ErrnoException, address, family);
        return;
      }
      callback(null, address, family);
    });
  };
  socket.connect({ ...rest, lookup: markedLookup, autoSelectFamily: false } as net.TcpSocketConnectOpts, connectListener);
  const literal = net.isIP(rest.host ?? '');
  if (literal !== 0) {
    try {
      giveMarkedFd(socket, literal, mark);
    } catch (e) {
      socket.destroy(e as Error);
    }
  }
  return socket;
}
