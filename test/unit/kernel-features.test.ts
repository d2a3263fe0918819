/** The parts of test/helpers/kernel-features.ts that need no root: finding the cgroup2 mount. */
import test from 'ava';
import { cgroup2Mount } from '../helpers/kernel-features.js';

test('cgroup2Mount: the cgroup2 mount point from mountinfo, v1 hierarchies and look-alikes ignored', (t) => {
  const hybrid = [
    '30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
    '31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
    '40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
  ].join('\n');
  t.is(cgroup2Mount(hybrid), '/sys/fs/cgroup/unified');
  t.is(cgroup2Mount('32 27 0:27 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate'), '/sys/fs/cgroup', 'optional fields before the separator');
  t.is(cgroup2Mount('50 1 0:40 / /mnt/my\\040cg rw - cgroup2 none rw'), '/mnt/my cg', 'octal-escaped space');
  t.is(cgroup2Mount('31 30 0:28 / /sys/fs/cgroup/cpu rw - cgroup cgroup2 rw'), undefined, 'source named cgroup2 is not the type');
  t.is(typeof (cgroup2Mount() ?? ''), 'string', 'this process\'s own mountinfo parses');
});
