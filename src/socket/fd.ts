/**
 * Reaching the file descriptor behind a Node socket. Node has no public accessor, so we read
 * the libuv handle: `_handle.fd` for net.Socket/net.Server, and the handle kept in dgram's
 * private state (a symbol described as 'state symbol', lib/internal/dgram.js). libuv creates
 * the fd lazily (on connect/bind/listen), so a socket that is not open yet has fd -1 (or
 * -EBADF for dgram) — reported as CLOSED, never passed to a syscall.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { PktmarkError } from '../errors.js';

/** Anything whose mark can be read or set. */
export type MarkableSocket = net.Socket | net.Server | dgram.Socket | number;

interface UvHandle { readonly fd?: number }
interface DgramState { handle?: UvHandle | null; queue?: unknown[] }

export function dgramState(s: dgram.Socket): DgramState | undefined {
  const key = Object.getOwnPropertySymbols(s).find((k) => k.description === 'state symbol');
  return key === undefined ? undefined : (s as unknown as Record<symbol, DgramState | undefined>)[key];
}

function handleOf(s: net.Socket | net.Server | dgram.Socket): UvHandle | null | undefined {
  if (s instanceof dgram.Socket) return dgramState(s)?.handle;
  const own = (s as unknown as { _handle?: UvHandle | null })._handle;
  // A TLSSocket's handle is a TLSWrap over the plain socket; the fd lives on the parent.
  const parent = (s as unknown as { _parent?: net.Socket | null })._parent;
  if ((own?.fd === undefined || own.fd < 0) && parent instanceof net.Socket) return handleOf(parent);
  return own;
}

/** The fd of a socket, or a typed error when it has none (closed, not connected/bound yet). */
export function socketFd(s: MarkableSocket): number {
  if (typeof s === 'number') {
    if (!Number.isSafeInteger(s) || s < 0) {
      throw new PktmarkError('INVALID_ARGUMENT', `socket fd ${s} is not a file descriptor`, { field: 'socket' });
    }
    return s;
  }
  if (!(s instanceof net.Socket || s instanceof net.Server || s instanceof dgram.Socket)) {
    throw new PktmarkError('INVALID_ARGUMENT', 'expected a net.Socket, net.Server, dgram.Socket or a file descriptor', { field: 'socket' });
  }
  const fd = handleOf(s)?.fd;
  if (typeof fd !== 'number' || fd < 0) {
    throw new PktmarkError('CLOSED', 'the socket has no file descriptor: it is closed or not open yet', {
      field: 'socket',
      hint: 'a net.Socket gets one when it connects (use connectMarked to mark before the SYN); a dgram socket when it binds (or use createMarkedDgram); a server when it listens',
    });
  }
  return fd;
}
