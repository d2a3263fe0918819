/** cgroup v2 discovery from mountinfo, path checks, and the time-bounded walk (no root needed). */
import test, { type ExecutionContext } from 'ava';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findCgroup2Mount, parseCgroup2Mounts, resolveCgroupPath, walkCgroups } from '../../src/transport/cgroup.js';

/** t.throws plus a check of the error's fields; a RegExp matches a field's text */
function fails(t: ExecutionContext, fn: () => unknown, want: Record<string, unknown>, msg = ''): Record<string, unknown> {
  const e = t.throws(fn, undefined, msg) as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(want)) {
    if (v instanceof RegExp) t.regex(String(e?.[k]), v, `${msg} ${k}`);
    else t.deepEqual(e?.[k], v, `${msg} ${k}`);
  }
  return e;
}

/** this machine's systemd hybrid layout: v1 controllers under a tmpfs, cgroup2 at .../unified */
const HYBRID = `22 1 0:20 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;
/** a pure v2 host (optional fields present), and a container that sees only its own subtree */
const PURE = `25 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`;
const CONTAINER = `812 790 0:30 /docker/4f1e /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup rw
`;

test('mountinfo: the hybrid layout has cgroup2 at /sys/fs/cgroup/unified, not at the v1 tmpfs', (t) => {
  t.deepEqual(parseCgroup2Mounts(HYBRID), [{ root: '/', mountPoint: '/sys/fs/cgroup/unified' }]);
  t.deepEqual(findCgroup2Mount(HYBRID), { root: '/', mountPoint: '/sys/fs/cgroup/unified' });
});

test('mountinfo: pure v2 (with optional fields before " - "), a container subtree, and \\040 escapes', (t) => {
  t.deepEqual(parseCgroup2Mounts(PURE), [{ root: '/', mountPoint: '/sys/fs/cgroup' }]);
  t.deepEqual(parseCgroup2Mounts(CONTAINER), [{ root: '/docker/4f1e', mountPoint: '/sys/fs/cgroup' }]);
  t.deepEqual(parseCgroup2Mounts('50 1 0:40 / /mnt/my\\040cg rw - cgroup2 none rw\n'), [{ root: '/', mountPoint: '/mnt/my cg' }]);
});

test('mountinfo: no cgroup2 mount is NOT_FOUND naming field cgroup, with a hint', (t) => {
  fails(t, () => findCgroup2Mount('31 30 0:28 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n'),
    { code: 'NOT_FOUND', field: 'cgroup', hint: /mount -t cgroup2/ });
});

const mount = findCgroup2Mount(HYBRID);

test('paths: .. and control characters are refused before any file system access; absolute paths must be inside the mount', (t) => {
  for (const p of ['../etc', 'a/../../b', '/sys/fs/cgroup/unified/../cpu', '']) {
    fails(t, () => resolveCgroupPath(p, mount), { code: 'INVALID_ARGUMENT', field: 'cgroup' }, p);
  }
  fails(t, () => resolveCgroupPath('a\nb', mount), { code: 'INVALID_ARGUMENT', message: /control character/ });
  fails(t, () => resolveCgroupPath('/sys/fs/cgroup/cpu', mount), { code: 'INVALID_ARGUMENT', message: /not inside the cgroup v2 hierarchy/ });
  fails(t, () => resolveCgroupPath('/sys/fs/cgroup/unifiedX', mount), { code: 'INVALID_ARGUMENT' });
});

test('paths: a directory that is not on cgroup2 is INVALID_ARGUMENT, a missing one NOT_FOUND', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pm-cg-'));
  try {
    mkdirSync(join(dir, 'svc'));
    const fake = { root: '/', mountPoint: dir };
    fails(t, () => resolveCgroupPath('svc', fake), { code: 'INVALID_ARGUMENT', message: /not on a cgroup v2 file system/ });
    fails(t, () => resolveCgroupPath(`${dir}/nope`, fake), { code: 'NOT_FOUND', field: 'cgroup' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('walk: breadth-first from the root, and a deadline stops it and says so', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pm-walk-'));
  try {
    for (const d of ['a/x', 'a/y', 'b']) mkdirSync(join(dir, d), { recursive: true });
    const all = walkCgroups(dir);
    t.deepEqual([...all].map((d) => d.relative), ['/', '/a', '/b', '/a/x', '/a/y']);
    t.is(all.stopped, undefined);
    let clock = 0;
    const cut = walkCgroups(dir, { timeoutMs: 2, now: () => clock++ });
    t.deepEqual([...cut].map((d) => d.relative), ['/', '/a']);
    t.deepEqual(cut.stopped, { reason: 'deadline', visited: 2 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
