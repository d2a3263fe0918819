/**
 * Tests that need something of the machine (root, the real tools, qemu) say so by a list of
 * requirements. Where one is missing: outside CI the test is skipped and the reason printed;
 * in CI (CI set) it is registered and fails with that reason — a CI run never passes by skipping.
 * Kernel *features* are not requirements: a test probes them (kernel-features.ts) and asserts
 * the behaviour for what it found.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import test, { type ExecutionContext } from 'ava';

export interface Requirement {
  readonly name: string;
  /** why it is not met here, or undefined */
  unmet(): string | undefined;
}

export const inCI = (): boolean => !!process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0';
export const isRoot = (): boolean => process.getuid?.() === 0;

const memo = (name: string, check: () => string | undefined): Requirement => {
  let done = false, why: string | undefined;
  return { name, unmet: () => { if (!done) { why = check(); done = true; } return why; } };
};
const binary = (path: string, pkg: string, versionFlag = '-V'): string | undefined =>
  (spawnSync(path, [versionFlag]).error ? `needs ${path} (apt-get install ${pkg})` : undefined);

export const ROOT = memo('root', () => (isRoot() ? undefined : 'needs root (network namespaces, CAP_NET_ADMIN)'));
/** nft, tc and ip by absolute path: `npm test` puts @vercel/nft's `nft` first on PATH */
export const NET_TOOLS = memo('nft, tc, ip', () =>
  binary('/usr/sbin/nft', 'nftables') ?? binary('/usr/sbin/tc', 'iproute2') ?? binary('/usr/sbin/ip', 'iproute2'));
/** dropping to nobody with no capabilities: root and util-linux's setpriv */
export const DROP_TO_NOBODY = memo('setpriv to nobody', () =>
  (!isRoot() ? 'needs root to drop to nobody (setpriv)' : existsSync('/usr/bin/setpriv') ? undefined : 'needs /usr/bin/setpriv (apt-get install util-linux)'));
/** test/vm/run.sh: root, and qemu or apt-get to install it on first use */
export const VM = memo('qemu guest (test/vm/run.sh)', () => {
  if (!isRoot()) return 'needs root (qemu guest with 9p shares, apt for the first build)';
  if (existsSync('/usr/bin/qemu-system-x86_64')) return undefined;
  return existsSync('/usr/bin/apt-get') ? undefined : 'needs qemu-system-x86_64 (or apt-get to install it)';
});
/** the usual needs of a live test: root and the oracle tools */
export const LIVE: readonly Requirement[] = [ROOT, NET_TOOLS];

/** The first unmet requirement's reason, or undefined when all are met. */
export function unmet(needs: readonly Requirement[]): string | undefined {
  for (const n of needs) { const why = n.unmet(); if (why !== undefined) return why; }
  return undefined;
}

export interface LiveTestOptions {
  /** run alone (default true: live tests share the kernel and count packets) */
  readonly serial?: boolean;
}

/**
 * Register a test that needs `needs`. Runs when all are met; otherwise fails in CI and is
 * skipped with a printed reason elsewhere.
 */
export function liveTest(title: string, needs: readonly Requirement[], fn: (t: ExecutionContext) => Promise<void> | void, opts: LiveTestOptions = {}): void {
  const why = unmet(needs);
  if (why === undefined) { (opts.serial === false ? test : test.serial)(title, fn); return; }
  if (inCI()) { test(title, (t) => { t.fail(`cannot run in CI: ${why}`); }); return; }
  console.log(`skip: ${title}: ${why}`);
  test.skip(title, () => {});
}
