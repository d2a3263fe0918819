/**
 * The --netns argument cannot be turned against the caller: a FIFO, a tty, a regular file, a
 * directory or a non-network nsfs file is refused with INVALID_NETNS, before setns and without
 * blocking; names cannot climb out of /run/netns. None of this needs root: the refusals happen
 * before setns (and setns checks the namespace type before privileges).
 */
import test from 'ava';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PktmarkError } from '../../src/errors.js';
import { resolveNetnsPath, withNetns } from '../../src/transport/netns.js';
import { NETNS_OPEN_FLAGS, openNetnsFile } from '../../src/transport/nsfs.js';
import { NSFS_MAGIC, O_CLOEXEC, O_NOCTTY, O_NONBLOCK, getLibc, type Libc } from '../../src/transport/syscalls.js';

const dir = mkdtempSync(join(tmpdir(), 'pktmark-netns-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

function refused(t: import('ava').ExecutionContext, target: string, code: PktmarkError['code'] = 'INVALID_NETNS'): PktmarkError {
  const t0 = Date.now();
  const e = t.throws(() => withNetns(target, () => t.fail('fn ran inside a namespace it should have refused')), { instanceOf: PktmarkError });
  t.is(e?.code, code, `${target}: ${e?.message}`);
  t.true(Date.now() - t0 < 2000, 'refused at once, not after blocking');
  return e as PktmarkError;
}

test('a FIFO is refused without blocking on open (no writer ever comes)', (t) => {
  const fifo = join(dir, 'fifo');
  execFileSync('/usr/bin/mkfifo', [fifo]);
  const e = refused(t, fifo);
  t.regex(e.message, /not a namespace file/);
});

test('a regular file and a directory are refused', (t) => {
  const f = join(dir, 'file');
  writeFileSync(f, 'not a namespace');
  refused(t, f);
  refused(t, dir);
  refused(t, '/etc/passwd');
});

test('a tty is refused: /dev/tty, /dev/ptmx and a live pty slave', async (t) => {
  refused(t, '/dev/tty');
  refused(t, '/dev/ptmx');
  refused(t, '/dev/null');
  // a real pty: python holds one open and prints the slave's name
  const py = spawn('/usr/bin/python3', ['-c', 'import pty,os,sys,time; m,s=pty.openpty(); print(os.ttyname(s), flush=True); time.sleep(30)'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const name = await new Promise<string>((resolve, reject) => {
      py.stdout.once('data', (d: Buffer) => resolve(d.toString().trim()));
      py.once('error', reject);
    });
    t.regex(name, /^\/dev\/pts\/\d+$/);
    refused(t, name);
  } finally {
    py.kill();
  }
});

test('an nsfs file of another namespace type is refused at setns (EINVAL), not entered', (t) => {
  const e = refused(t, '/proc/self/ns/mnt');
  t.regex(e.message, /not a network namespace/);
});

test('names cannot climb out of /run/netns, and paths must be absolute', (t) => {
  for (const bad of ['..', '.', 'a/b', '../etc/passwd', './x', 'x\0/../y', '\0']) {
    const e = t.throws(() => resolveNetnsPath(bad), { instanceOf: PktmarkError });
    t.is(e?.code, 'INVALID_NETNS', JSON.stringify(bad));
  }
  t.is(resolveNetnsPath('blue'), '/run/netns/blue');
  t.is(resolveNetnsPath('/proc/1/ns/net'), '/proc/1/ns/net');
  refused(t, 'pktmark-no-such-namespace-here');
});

test('the namespace of this process opens: /proc/self/ns/net is nsfs', (t) => {
  const c = getLibc();
  const fd = openNetnsFile('self', '/proc/self/ns/net', c);
  t.true(fd >= 0);
  c.close(fd);
});

/** A libc that records calls and answers statfs/fstatfs with the given filesystem types. */
function fakeLibc(statfsType: number, fstatfsType: number, calls: string[]): Libc {
  const put = (buf: Uint8Array, type: number): void => { new DataView(buf.buffer).setBigInt64(0, BigInt(type), true); };
  return {
    statfs: (path: string, buf: Uint8Array) => { calls.push(`statfs ${path}`); put(buf, statfsType); return 0; },
    open: (path: string, flags: number) => { calls.push(`open ${path} 0o${flags.toString(8)}`); return 42; },
    fstatfs: (fd: number, buf: Uint8Array) => { calls.push(`fstatfs ${fd}`); put(buf, fstatfsType); return 0; },
    close: (fd: number) => { calls.push(`close ${fd}`); return 0; },
    errno: () => 0,
    strerror: () => '',
  } as unknown as Libc;
}

test('open flags are O_RDONLY|O_NONBLOCK|O_NOCTTY|O_CLOEXEC, statfs comes before open, fstatfs before use', (t) => {
  t.is(NETNS_OPEN_FLAGS, O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  const calls: string[] = [];
  t.is(openNetnsFile('x', '/run/netns/x', fakeLibc(NSFS_MAGIC, NSFS_MAGIC, calls)), 42);
  t.deepEqual(calls, ['statfs /run/netns/x', `open /run/netns/x 0o${NETNS_OPEN_FLAGS.toString(8)}`, 'fstatfs 42']);
});

test('a file that is not nsfs is never opened; one swapped in after the check is closed and refused', (t) => {
  const calls: string[] = [];
  t.throws(() => openNetnsFile('x', '/run/netns/x', fakeLibc(0x01021994 /* tmpfs */, NSFS_MAGIC, calls)), { instanceOf: PktmarkError });
  t.deepEqual(calls, ['statfs /run/netns/x']);
  const swapped: string[] = [];
  const e = t.throws(() => openNetnsFile('x', '/run/netns/x', fakeLibc(NSFS_MAGIC, 0x01021994, swapped)), { instanceOf: PktmarkError });
  t.is(e?.code, 'INVALID_NETNS');
  t.deepEqual(swapped.at(-1), 'close 42');
});
