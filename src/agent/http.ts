/**
 * The agent's HTTP endpoint: `/metrics` (Prometheus text), `/healthz` (readiness: 503 while
 * the last apply failed) and `/livez` (liveness: 503 only when the loop is stuck). Only /livez
 * should restart a pod, so that a bad ConfigMap makes the pod not-ready instead of crash-looping.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PktmarkError } from '../errors.js';
import type { Registry } from 'prom-client';

export interface Listen { readonly host: string; readonly port: number }

/** `HOST:PORT`, `[V6]:PORT` or `:PORT` (→ 127.0.0.1). */
export function parseListen(v: string, field = '--metrics'): Listen {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(v);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new PktmarkError('INVALID_OPTION', `${field} ${JSON.stringify(v)} is not HOST:PORT (e.g. 127.0.0.1:9464)`, { field });
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

export interface Health {
  ready(): { ok: boolean; detail: string };
  live(): { ok: boolean; detail: string };
}

export async function serve(at: Listen, registry: Registry, health: Health): Promise<{ server: Server; address: Listen }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    const text = (code: number, body: string, type = 'text/plain; charset=utf-8'): void => {
      res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') { text(405, 'GET only\n'); return; }
    if (path === '/metrics') {
      registry.metrics().then((m) => text(200, m, registry.contentType), (e: unknown) => text(500, `${e instanceof Error ? e.message : String(e)}\n`));
    } else if (path === '/healthz' || path === '/livez') {
      const h = path === '/healthz' ? health.ready() : health.live();
      text(h.ok ? 200 : 503, `${h.detail}\n`);
    } else {
      text(404, 'try /metrics, /healthz or /livez\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new PktmarkError('SYSCALL', `cannot listen on ${at.host}:${at.port}: ${e.code ?? e.message}`, { field: '--metrics' })));
    server.listen(at.port, at.host, () => resolve());
  });
  const a = server.address() as AddressInfo;
  return { server, address: { host: a.address, port: a.port } };
}
