/**
 * An in-memory cgroup v2 tree for tests without root, over a {@link FakeBpf}: pass both to
 * `Marker.open({ bpf, cgroupFs })`. Directories are made with `mkdir`; `open` gives FakeBpf
 * cgroup fds (so attachments land in the fake kernel); `rmdir` removes a directory the way the
 * kernel does when a cgroup goes away — its programs are detached.
 *
 * @example
 * ```ts
 * const bpf = new FakeBpf();
 * const cgroups = new FakeCgroupFs(bpf).mkdir('/svc');
 * const m = await Marker.open({ bpf, cgroupFs: cgroups });
 * await m.add({ cgroup: '/svc', mark: 1 });
 * ```
 */
import { posix } from 'node:path';
import { PktmarkError } from '../errors.js';
import type { Cgroup2Mount, CgroupDir, CgroupPath, CgroupWalk, WalkOptions } from '../transport/cgroup.js';
import type { CgroupFs } from '../transport/cgroup-fs.js';
import type { FakeBpf } from './bpf.js';

export const FAKE_CGROUP_MOUNT = '/fake/cgroup2';

export class FakeCgroupFs implements CgroupFs {
  /** directories that exist, as paths relative to the mount ("/" is the root) */
  private readonly dirs = new Set<string>(['/']);
  /** set to make mount() fail as on a host without cgroup v2 */
  noMount = false;

  constructor(private readonly bpf: FakeBpf, readonly mountPoint = FAKE_CGROUP_MOUNT) {
    this.bpf.close(this.bpf.addCgroup(mountPoint));
  }

  /** mkdir -p, relative to the mount */
  mkdir(relative: string): this {
    const segs = relative.split('/').filter(Boolean);
    for (let n = 1; n <= segs.length; n++) {
      const rel = `/${segs.slice(0, n).join('/')}`;
      if (this.dirs.has(rel)) continue;
      const parent = this.bpf.addCgroup(this.abs(`/${segs.slice(0, n - 1).join('/')}`));
      this.bpf.close(this.bpf.addCgroup(this.abs(rel), parent));
      this.bpf.close(parent);
      this.dirs.add(rel);
    }
    return this;
  }

  /** rmdir: the kernel detaches a removed cgroup's programs (cgroup_bpf_release); so does this */
  rmdir(relative: string): void {
    const rel = posix.normalize(`/${relative}`);
    const cg = this.bpf.cgroup(this.abs(rel));
    if (cg) {
      for (const [type, list] of cg.attached) {
        for (const p of [...list.progs]) {
          const target = this.bpf.addCgroup(this.abs(rel));
          const fd = this.bpf.progGetFdById(p.id);
          this.bpf.progDetach({ targetFd: target, progFd: fd, attachType: type });
          this.bpf.close(fd);
          this.bpf.close(target);
        }
      }
    }
    this.dirs.delete(rel);
  }

  mount(): Cgroup2Mount {
    if (this.noMount) throw new PktmarkError('NOT_FOUND', 'no cgroup v2 file system is mounted (FakeCgroupFs.noMount)', { field: 'cgroup' });
    return { mountPoint: this.mountPoint, root: '/' };
  }

  resolve(input: string, mount: Cgroup2Mount): CgroupPath {
    let rest = input;
    if (input.startsWith('/') && (input === mount.mountPoint || input.startsWith(`${mount.mountPoint}/`))) rest = input.slice(mount.mountPoint.length);
    const rel = posix.normalize(`/${rest}`).replace(/(.)\/$/, '$1');
    if (!this.dirs.has(rel)) throw new PktmarkError('NOT_FOUND', `no cgroup ${this.abs(rel)}`, { field: 'cgroup', hint: 'create it first (mkdir), or check the path' });
    return { path: this.abs(rel), relative: rel };
  }

  open(path: string): number {
    const rel = this.rel(path);
    if (rel === undefined || !this.dirs.has(rel)) throw new PktmarkError('NOT_FOUND', `no cgroup directory ${path}`, { field: 'cgroup' });
    return this.bpf.addCgroup(path);
  }

  walk(root: string, _opts?: WalkOptions): CgroupWalk {
    const base = this.rel(root) ?? '/';
    const under = [...this.dirs].filter((d) => d === base || d.startsWith(base === '/' ? '/' : `${base}/`))
      .sort((a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b));
    const dirs: CgroupDir[] = under.map((d) => ({ path: this.abs(d), relative: base === '/' ? d : d.slice(base.length) || '/' }));
    return { [Symbol.iterator]: () => dirs[Symbol.iterator](), stopped: undefined };
  }

  private abs(rel: string): string { return rel === '/' ? this.mountPoint : posix.join(this.mountPoint, rel); }
  private rel(path: string): string | undefined {
    if (path === this.mountPoint) return '/';
    return path.startsWith(`${this.mountPoint}/`) ? path.slice(this.mountPoint.length) : undefined;
  }
}
