/**
 * UDP sockets with a mark. Node creates the UDP fd when the socket binds (explicitly, or
 * implicitly on the first send); sends made before that are queued and flushed by a
 * 'listening' listener. We prepend our own 'listening' listener, so SO_MARK is on the fd
 * before the queue flushes and before any user callback can send.
 */
import dgram from 'node:dgram';
import { AF_INET, AF_INET6, SOCK_DGRAM, getLibc } from '../transport/syscalls.js';
import { dgramState } from './fd.js';
import { openMarkedFd, parseMark, setSocketMark } from './mark.js';

export interface MarkedDgramOptions extends dgram.SocketOptions {
  readonly mark: number | string;
}

export function createMarkedDgram(options: MarkedDgramOptions): dgram.Socket {
  const { mark: rawMark, ...rest } = options;
  const mark = parseMark(rawMark);
  // Probe now, so a missing CAP_NET_ADMIN is a synchronous EPERM instead of a later 'error'.
  getLibc().close(openMarkedFd(rest.type === 'udp6' ? AF_INET6 : AF_INET, SOCK_DGRAM, 0, mark));
  const socket = dgram.createSocket(rest);
  socket.prependListener('listening', () => {
    try {
      setSocketMark(socket, mark);
    } catch (e) {
      // Drop the queued sends: they must not leave unmarked.
      const state = dgramState(socket);
      if (state) state.queue = undefined;
      socket.close();
      socket.emit('error', e);
    }
  });
  return socket;
}
