/**
 * The cgroup v2 file system as the cgroup backend uses it: find the mount, resolve a user's
 * path, open a directory fd for bpf(), walk the tree. One small interface so that tests without
 * root can hand the backend pktmark/testing's FakeCgroupFs (which opens FakeBpf cgroups); the
 * real one is cgroup.ts. Fds from `open` are closed with BpfSys.close (close(2)).
 */
import {
  findCgroup2Mount, openCgroup, resolveCgroupPath, walkCgroups,
  type Cgroup2Mount, type CgroupPath, type CgroupWalk, type WalkOptions,
} from './cgroup.js';

export interface CgroupFs {
  /** the cgroup2 mount; NOT_FOUND (field cgroup) when there is none */
  mount(): Cgroup2Mount;
  /** a user's path (absolute inside the mount, or relative to it) → the checked directory; NOT_FOUND when missing */
  resolve(input: string, mount: Cgroup2Mount): CgroupPath;
  /** the directory's fd, for BPF_PROG_ATTACH/DETACH/QUERY; NOT_FOUND when it is gone */
  open(path: string): number;
  /** breadth-first from `root`, within opts.timeoutMs */
  walk(root: string, opts?: WalkOptions): CgroupWalk;
}

export const realCgroupFs: CgroupFs = {
  mount: () => findCgroup2Mount(),
  resolve: (input, mount) => resolveCgroupPath(input, mount),
  open: (path) => openCgroup(path),
  walk: (root, opts) => walkCgroups(root, opts),
};
