/**
 * Throwaway network namespaces for live and packet tests. Names are unique per process and
 * call; every namespace is deleted in `finally`, and an exit hook removes any that a crash left.
 * The real tools are called by absolute path: inside `npm test`, node_modules/.bin comes first on
 * PATH and holds a different `nft` (from @vercel/nft).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { ExecutionContext } from 'ava';
import { LIVE, liveTest as requiresTest, type LiveTestOptions, type Requirement } from './requires.js';

export const NFT = '/usr/sbin/nft';
export const TC = '/usr/sbin/tc';
export const IP = '/usr/sbin/ip';

const live = new Set<string>();
process.on('exit', () => { for (const n of live) spawnSync(IP, ['netns', 'del', n]); });

export function run(cmd: string, args: readonly string[], input?: string): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], ...(input === undefined ? {} : { input }) });
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string; status?: number };
    throw new Error(`${cmd} ${args.join(' ')} failed (${err.status}): ${err.stderr ?? ''}${err.stdout ?? ''}`);
  }
}

export class Netns {
  constructor(readonly name: string) {}
  get path(): string { return `/run/netns/${this.name}`; }
  exec(cmd: string, args: readonly string[], input?: string): string {
    return run(IP, ['netns', 'exec', this.name, cmd, ...args], input);
  }
  nft(...args: string[]): string { return this.exec(NFT, args); }
  nftFile(text: string): string { return this.exec(NFT, ['-f', '-'], text); }
  /** `nft -j list ruleset`, parsed */
  ruleset(): { nftables: Record<string, unknown>[] } { return JSON.parse(this.exec(NFT, ['-j', 'list', 'ruleset'])); }
  tc(...args: string[]): string { return run(TC, ['-n', this.name, ...args]); }
  ip(...args: string[]): string { return run(IP, ['-n', this.name, ...args]); }
}

export function uniqueName(prefix = 'pm'): string {
  return `${prefix}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

export async function withNetns<T>(fn: (...ns: Netns[]) => Promise<T> | T, count = 1): Promise<T> {
  const made: Netns[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const name = uniqueName();
      run(IP, ['netns', 'add', name]);
      live.add(name);
      made.push(new Netns(name));
      run(IP, ['-n', name, 'link', 'set', 'lo', 'up']);
    }
    return await fn(...made);
  } finally {
    for (const n of made) {
      spawnSync(IP, ['netns', 'del', n.name]);
      live.delete(n.name);
    }
  }
}

/**
 * Two namespaces joined by a veth pair: `a` (10.0.0.2/24, fd00::2/64 on veth `va`) and
 * `b` (10.0.0.1, 10.0.0.3 and fd00::1, fd00::3 on `vb`), so packets from b can come from a
 * matched and an unmatched source. IPv6 DAD is off so addresses work at once.
 */
export async function withVethPair<T>(fn: (a: Netns, b: Netns) => Promise<T> | T): Promise<T> {
  return withNetns(async (a, b) => {
    run(IP, ['link', 'add', 'va', 'netns', a.name, 'type', 'veth', 'peer', 'name', 'vb', 'netns', b.name]);
    for (const [ns, dev, addrs] of [[a, 'va', ['10.0.0.2/24', 'fd00::2/64']], [b, 'vb', ['10.0.0.1/24', '10.0.0.3/24', 'fd00::1/64', 'fd00::3/64']]] as const) {
      ns.exec('/usr/sbin/sysctl', ['-qw', 'net.ipv6.conf.all.accept_dad=0', `net.ipv6.conf.default.accept_dad=0`]);
      ns.ip('link', 'set', dev, 'up');
      for (const a of addrs) ns.ip('addr', 'add', a, 'dev', dev, 'nodad');
    }
    return fn(a, b);
  }, 2);
}

export { isRoot, inCI } from './requires.js';

/**
 * Register a live test: `liveTest(title, fn)` needs root and the oracle tools (requires.ts LIVE);
 * `liveTest(title, needs, fn)` names its needs. Outside CI an unmet need skips with a printed
 * reason; in CI it fails.
 */
export function liveTest(title: string, fn: (t: ExecutionContext) => Promise<void> | void): void;
export function liveTest(title: string, needs: readonly Requirement[], fn: (t: ExecutionContext) => Promise<void> | void, opts?: LiveTestOptions): void;
export function liveTest(title: string, a: readonly Requirement[] | ((t: ExecutionContext) => Promise<void> | void), b?: (t: ExecutionContext) => Promise<void> | void, opts?: LiveTestOptions): void {
  if (typeof a === 'function') requiresTest(title, LIVE, a);
  else requiresTest(title, a, b!, opts);
}
