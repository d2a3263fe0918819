/**
 * Test-only child for the socket-mark tests: runs inside a namespace
 * (`ip netns exec NS node --import tsx test/packets/socket-child.ts STEP ARGS… [STEP ARGS…]`)
 * and prints one JSON line per step. Steps:
 *   serve PORTS…            TCP echo + HTTP servers on [::]; prints {ready} then runs until stdin closes
 *   tcp-marked|tcp-plain HOST PORT
 *   tcp-marked-lookup NAME ADDRESS PORT   NAME resolved to ADDRESS by a custom lookup
 *   http-marked|http-plain URL
 *   fetch-marked URL        Node's global fetch with an undici Agent using markedConnector
 *   https-marked URL CA     https.get with markedAgent({ protocol: 'https:' }) trusting CA
 *   fetch-marked-tls URL CA global fetch over TLS through markedConnector({ tls: { ca } })
 *   undici-fetch-marked URL undici's own fetch with the same kind of Agent
 *   udp-marked|udp-plain HOST PORT   three datagrams
 *   readback                set/get marks on every socket kind
 *   eperm HOST PORT         every marking API without privileges
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { Agent, fetch as undiciFetch, type buildConnector } from 'undici';
import { PktmarkError } from '../../src/errors.js';
import {
  connectMarked, createMarkedDgram, getSocketMark, markedAgent, markedConnector, setSocketMark,
  type Connector,
} from '../../src/socket.js';
import { pingCommand } from '../../src/cli/commands/ping.js';

const MARK = 1234;
/**
 * pktmark's Connector is written against undici's calling convention without depending on its
 * types (src/socket/connector.ts): its callback takes `(Error | null, Duplex | null)`, undici's the
 * pairs `[null, Socket]` / `[Error, null]`. This adapter states that pairing, no cast of the function.
 */
const forUndici = (c: Connector): buildConnector.connector => (options, callback) =>
  c(options, (err, socket) => (err ? callback(err, null) : callback(null, socket as net.Socket)));
const print = (o: Record<string, unknown>): void => { process.stdout.write(`${JSON.stringify(o)}\n`); };
const codeOf = (e: unknown): string => (e instanceof PktmarkError ? e.code : `not a PktmarkError: ${String(e)}`);

async function tcpExchange(socket: net.Socket): Promise<{ echoed: string; mark: number | string }> {
  await once(socket, 'connect');
  const mark = (() => { try { return getSocketMark(socket); } catch (e) { return codeOf(e); } })();
  let echoed = '';
  socket.setEncoding('utf8').on('data', (d: string) => { echoed += d; });
  socket.end('hello');
  await once(socket, 'close');
  return { echoed, mark };
}

function serve(ports: number[]): void {
  for (const p of ports) {
    if (p >= 8400 && p < 8500) {
      // HTTPS with the key/cert the test made (PKTMARK_TLS_KEY / PKTMARK_TLS_CERT)
      const tlsFiles = { key: readFileSync(process.env.PKTMARK_TLS_KEY!), cert: readFileSync(process.env.PKTMARK_TLS_CERT!) };
      https.createServer(tlsFiles, (req, res) => { req.resume(); res.setHeader('connection', 'close'); res.end(`ok ${p}`); }).listen(p, '::');
    } else if (p >= 8000 && p < 9000) {
      http.createServer((req, res) => { req.resume(); res.setHeader('connection', 'close'); res.end(`ok ${p}`); }).listen(p, '::');
    } else {
      net.createServer((s) => { s.pipe(s); }).listen(p, '::');
      const u = dgram.createSocket('udp6');
      u.bind(p, '::');
    }
  }
  setTimeout(() => print({ step: 'serve', ready: true }), 200);
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
}

async function udpSend(marked: boolean, host: string, port: number): Promise<Record<string, unknown>> {
  const type = net.isIPv6(host) ? 'udp6' : 'udp4';
  const s = marked ? createMarkedDgram({ type, mark: MARK }) : dgram.createSocket(type);
  // Sent before bind: Node queues these until the implicit bind, which is when our mark goes on.
  for (let i = 0; i < 3; i++) s.send(`datagram ${i}`, port, host);
  await once(s, 'listening');
  await new Promise((r) => setTimeout(r, 100));
  const mark = getSocketMark(s);
  s.close();
  return { mark };
}

async function readback(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  setSocketMark(server, '0xdeadbeef');
  out.server = getSocketMark(server);
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await once(client, 'connect');
  setSocketMark(client, 7);
  out.socket = getSocketMark(client);
  setSocketMark(client, 0xffffffff);
  out.socketMax = getSocketMark(client);
  const fd = (client as unknown as { _handle: { fd: number } })._handle.fd;
  setSocketMark(fd, 42);
  out.fd = getSocketMark(fd);
  out.socketAfterFd = getSocketMark(client);
  client.destroy();
  await once(client, 'close');
  try { getSocketMark(client); out.closed = 'no error'; } catch (e) { out.closed = codeOf(e); }
  const u = dgram.createSocket('udp4');
  try { setSocketMark(u, 1); out.dgramUnbound = 'no error'; } catch (e) { out.dgramUnbound = codeOf(e); }
  u.bind(0, '127.0.0.1');
  await once(u, 'listening');
  setSocketMark(u, 99);
  out.dgram = getSocketMark(u);
  u.close();
  const m = createMarkedDgram({ type: 'udp6', mark: '0x10' });
  m.bind(0);
  await once(m, 'listening');
  out.markedDgram = getSocketMark(m);
  m.close();
  const c = connectMarked({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port, mark: 0x4d2 });
  await once(c, 'connect');
  out.connectMarked = getSocketMark(c);
  c.destroy();
  server.close();
  try { setSocketMark(12345, 1); out.badFd = 'no error'; } catch (e) { out.badFd = codeOf(e); }
  return out;
}

async function eperm(host: string, port: number): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = { uid: process.getuid?.() };
  const u = dgram.createSocket('udp4');
  u.bind(0, '127.0.0.1');
  await once(u, 'listening');
  try { setSocketMark(u, MARK); out.setSocketMark = 'no error'; } catch (e) {
    out.setSocketMark = codeOf(e); out.hint = (e as PktmarkError).hint; out.errno = (e as PktmarkError).errno;
  }
  out.getSocketMark = getSocketMark(u);
  u.close();
  try { createMarkedDgram({ type: 'udp4', mark: MARK }); out.createMarkedDgram = 'no error'; } catch (e) { out.createMarkedDgram = codeOf(e); }
  const s = connectMarked({ host, port, mark: MARK });
  const [err] = await once(s, 'error') as [unknown];
  out.connectMarked = codeOf(err);
  const named = connectMarked({ host: 'localhost', port, mark: MARK });
  out.connectMarkedByName = codeOf((await once(named, 'error') as [unknown])[0]);
  out.connector = await new Promise((resolve) => {
    markedConnector({ mark: MARK })({ hostname: host, protocol: 'http:', port }, (e) => resolve(codeOf(e)));
  });
  await new Promise((r) => setTimeout(r, 200));
  return out;
}

const steps = process.argv.slice(2);
for (let i = 0; i < steps.length;) {
  const step = steps[i++]!;
  const arg = (): string => steps[i++]!;
  try {
    switch (step) {
      case 'serve': serve(steps.slice(i).map(Number)); i = steps.length; break;
      case 'tcp-marked': { const host = arg(); const port = Number(arg()); print({ step, host, ...(await tcpExchange(connectMarked({ host, port, mark: MARK }))) }); break; }
      case 'tcp-marked-lookup': {
        // A name resolved by a caller-supplied lookup: the path where the fd is made after resolution.
        const name = arg(); const address = arg(); const port = Number(arg());
        const lookup: net.LookupFunction = (_h, _o, cb) => { cb(null, address, net.isIP(address)); };
        print({ step, host: name, ...(await tcpExchange(connectMarked({ host: name, port, mark: MARK, lookup }))) });
        break;
      }
      case 'tcp-plain': { const host = arg(); const port = Number(arg()); print({ step, host, ...(await tcpExchange(net.connect({ host, port }))) }); break; }
      case 'http-marked':
      case 'http-plain': {
        const url = arg();
        const agent = step === 'http-marked' ? markedAgent({ mark: MARK }) : new http.Agent();
        const body = await new Promise<string>((resolve, reject) => {
          http.get(url, { agent }, (res) => { let b = ''; res.setEncoding('utf8').on('data', (d: string) => { b += d; }).on('end', () => resolve(b)); }).on('error', reject);
        });
        agent.destroy();
        print({ step, body });
        break;
      }
      case 'https-marked': {
        const url = arg(); const ca = readFileSync(arg());
        const agent = markedAgent({ mark: MARK, protocol: 'https:', ca });
        const got = await new Promise<{ body: string; mark: number | string }>((resolve, reject) => {
          https.get(url, { agent }, (res) => {
            let mark: number | string;
            try { mark = getSocketMark(res.socket as net.Socket); } catch (e) { mark = codeOf(e); }
            let b = ''; res.setEncoding('utf8').on('data', (d: string) => { b += d; }).on('end', () => resolve({ body: b, mark }));
          }).on('error', reject);
        });
        agent.destroy();
        print({ step, ...got });
        break;
      }
      case 'fetch-marked-tls': {
        const url = arg(); const ca = readFileSync(arg());
        const dispatcher = new Agent({ connect: forUndici(markedConnector({ mark: MARK, tls: { ca } })) });
        const res = await fetch(url, { dispatcher } as RequestInit);
        const body = await res.text();
        await dispatcher.close();
        print({ step, status: res.status, body });
        break;
      }
      case 'fetch-marked':
      case 'undici-fetch-marked': {
        const url = arg();
        const dispatcher = new Agent({ connect: forUndici(markedConnector({ mark: MARK })) });
        const res = step === 'fetch-marked'
          ? await fetch(url, { dispatcher } as RequestInit)
          : await undiciFetch(url, { dispatcher });
        const body = await res.text();
        await dispatcher.close();
        print({ step, status: res.status, body });
        break;
      }
      case 'udp-marked':
      case 'udp-plain': { const host = arg(); const port = Number(arg()); print({ step, ...(await udpSend(step === 'udp-marked', host, port)) }); break; }
      case 'readback': print({ step, ...(await readback()) }); break;
      case 'eperm': { const host = arg(); const port = Number(arg()); print({ step, ...(await eperm(host, port)) }); break; }
      case 'ping': {
        const args: string[] = [];
        while (i < steps.length && steps[i] !== '--') args.push(steps[i++]!);
        i++;
        const lines: string[] = [];
        const code = await pingCommand(args, { out: (l) => lines.push(l), err: (l) => lines.push(`ERR ${l}`) });
        print({ step, code, lines });
        break;
      }
      default: throw new Error(`unknown step ${step}`);
    }
  } catch (e) {
    print({ step, error: codeOf(e), message: (e as Error).message, ...((e as Error).cause ? { cause: String((e as Error).cause) } : {}) });
  }
}
