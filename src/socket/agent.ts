/**
 * http/https agents whose every connection is made by connectMarked, so each request (and its
 * SYN) leaves with the mark. Only createConnection changes; pooling, keep-alive and TLS session
 * caching stay Node's.
 */
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { PktmarkError } from '../errors.js';
import { connectMarked } from './connect.js';
import { parseMark } from './mark.js';

export interface MarkedAgentOptions extends http.AgentOptions {
  readonly mark: number | string;
}
export interface MarkedHttpsAgentOptions extends https.AgentOptions {
  readonly mark: number | string;
}

/** The TCP part of an agent's connection options (the request's own `path` is not a unix socket path). */
function tcpOptions(options: http.ClientRequestArgs, mark: number): Parameters<typeof connectMarked>[0] {
  if (options.socketPath) {
    throw new PktmarkError('INVALID_ARGUMENT', 'marks apply to TCP connections, not unix sockets (socketPath)', { field: 'socketPath' });
  }
  const { path: _path, socketPath: _sp, agent: _agent, timeout: _timeout, ...rest } = options as http.ClientRequestArgs & Record<string, unknown>;
  return { ...(rest as net.TcpNetConnectOpts), host: options.host ?? options.hostname ?? 'localhost', port: Number(options.port ?? 80), mark };
}

export class MarkedHttpAgent extends http.Agent {
  readonly mark: number;
  constructor(options: MarkedAgentOptions) {
    const { mark, ...rest } = options;
    const m = parseMark(mark);
    super(rest);
    this.mark = m;
  }
  override createConnection(options: http.ClientRequestArgs): Duplex {
    return connectMarked(tcpOptions(options, this.mark));
  }
}

export class MarkedHttpsAgent extends https.Agent {
  readonly mark: number;
  constructor(options: MarkedHttpsAgentOptions) {
    const { mark, ...rest } = options;
    const m = parseMark(mark);
    super(rest);
    this.mark = m;
  }
  override createConnection(options: https.RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    const tcp = connectMarked(tcpOptions({ ...options, port: options.port ?? 443 }, this.mark));
    // https.Agent's own createConnection runs tls.connect and caches sessions; give it our socket.
    return super.createConnection({ ...options, socket: tcp } as https.RequestOptions, callback);
  }
}

/** An agent for `http.request`/`https.request` that marks all its connections. */
export function markedAgent(options: MarkedAgentOptions & { protocol?: 'http:' }): MarkedHttpAgent;
export function markedAgent(options: MarkedHttpsAgentOptions & { protocol: 'https:' }): MarkedHttpsAgent;
export function markedAgent(options: (MarkedAgentOptions | MarkedHttpsAgentOptions) & { protocol?: 'http:' | 'https:' }): MarkedHttpAgent | MarkedHttpsAgent {
  const { protocol = 'http:', ...rest } = options;
  if (protocol === 'https:') return new MarkedHttpsAgent(rest);
  if (protocol !== 'http:') throw new PktmarkError('INVALID_OPTION', `protocol must be 'http:' or 'https:', not ${JSON.stringify(protocol)}`, { field: 'protocol' });
  return new MarkedHttpAgent(rest);
}
