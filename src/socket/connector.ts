/**
 * A connector for undici (the engine of Node's fetch): `new Agent({ connect: markedConnector({ mark }) })`.
 * undici calls `connect(options, callback)` for each new connection and expects a connected (and, for
 * https:, TLS-established) socket in the callback. Written against that convention only, so pktmark
 * does not depend on undici: users bring their own `undici` Agent and pass it to fetch as `dispatcher`.
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { PktmarkError } from '../errors.js';
import { connectMarked } from './connect.js';
import { parseMark } from './mark.js';

/** The options undici passes to a connector (undici/types/connector.d.ts). */
export interface ConnectorOptions {
  readonly hostname: string;
  readonly host?: string;
  readonly protocol: string;
  readonly port: string | number;
  readonly servername?: string | null;
  readonly localAddress?: string | null;
  /** an established socket to upgrade to TLS (CONNECT through a proxy) */
  readonly httpSocket?: Duplex;
}
export type ConnectorCallback = (err: Error | null, socket: Duplex | null) => void;
export type Connector = (options: ConnectorOptions, callback: ConnectorCallback) => void;

export interface MarkedConnectorOptions {
  readonly mark: number | string;
  /** connect (and TLS handshake) timeout in ms; default 10000, like undici's */
  readonly timeout?: number;
  /** extra TLS options for https: (ca, rejectUnauthorized, …) */
  readonly tls?: tls.ConnectionOptions;
  readonly keepAlive?: boolean;
  readonly keepAliveInitialDelay?: number;
}

export function markedConnector(options: MarkedConnectorOptions): Connector {
  const mark = parseMark(options.mark);
  const timeout = options.timeout ?? 10_000;
  return (o, callback) => {
    // undici hands IPv6 literals over without brackets, but a URL's hostname has them.
    const host = o.hostname.startsWith('[') && o.hostname.endsWith(']') ? o.hostname.slice(1, -1) : o.hostname;
    const secure = o.protocol === 'https:';
    const port = Number(o.port) || (secure ? 443 : 80);
    let socket: net.Socket;
    try {
      const tcp = o.httpSocket && secure ? undefined : connectMarked({
        host, port, mark, noDelay: true,
        keepAlive: options.keepAlive ?? true, keepAliveInitialDelay: options.keepAliveInitialDelay ?? 60_000,
        ...(o.localAddress ? { localAddress: o.localAddress } : {}),
      });
      // SNI takes a name only, never an IP literal (RFC 6066 §3).
      const servername = o.servername ?? (net.isIP(host) ? undefined : host);
      socket = secure
        // `host` is what the certificate is checked against (tls defaults it to 'localhost').
        ? tls.connect({ ALPNProtocols: ['http/1.1'], ...options.tls, host, socket: tcp ?? o.httpSocket, ...(servername ? { servername } : {}) })
        : tcp!;
    } catch (e) {
      callback(e as Error, null);
      return;
    }
    const ready = secure ? 'secureConnect' : 'connect';
    let timer: NodeJS.Timeout | undefined;
    const done = (err: Error | null): void => {
      if (timer) clearTimeout(timer);
      socket.off(ready, onReady).off('error', done);
      if (err) { socket.destroy(); callback(err, null); } else callback(null, socket);
    };
    const onReady = (): void => done(null);
    socket.once(ready, onReady).once('error', done);
    if (timeout > 0) {
      timer = setTimeout(() => done(new PktmarkError('TIMEOUT', `connect to ${host}:${port} timed out after ${timeout} ms`, { field: 'timeout' })), timeout);
      timer.unref();
    }
  };
}
