/**
 * The ICMP socket ping sends through. As root a raw socket (it can carry any identifier and
 * sees ICMP errors about our probes); otherwise a "ping socket" (SOCK_DGRAM + IPPROTO_ICMP,
 * allowed for groups in net.ipv4.ping_group_range), where the kernel picks the identifier and
 * delivers only our replies. Receiving never blocks the event loop: poll(2) waits on a koffi
 * worker, then recvmsg runs with MSG_DONTWAIT.
 */
import { PktmarkError } from '../errors.js';
import { MARK_HINT, openMarkedFd, setFdMark } from '../socket/mark.js';
import { type NetnsTarget, withNetns } from '../transport/netns.js';
import {
  AF_INET, AF_INET6, EACCES, EAGAIN, EINTR, EPERM, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_IP, IPPROTO_IPV6,
  IPV6_HOPLIMIT, IPV6_RECVHOPLIMIT, IP_RECVTTL, IP_TTL, MSG_DONTWAIT, POLLIN, SOCK_DGRAM, SOCK_RAW,
  SOCK_CLOEXEC, SOCK_NONBLOCK, getLibc, setIntOption, syscallError,
} from '../transport/syscalls.js';
import { type IpVersion, decodeSockaddr, findCmsgInt, stripIPv4 } from './packet.js';

export interface IcmpSocketOptions {
  readonly version: IpVersion;
  /** SO_MARK for every probe; undefined = leave the socket unmarked */
  readonly mark?: number;
  readonly netns?: NetnsTarget;
}

export interface Datagram {
  /** the ICMP message (IPv4 header removed) */
  readonly icmp: Uint8Array;
  readonly from: string | undefined;
  readonly ttl: number | undefined;
}

const PING_SOCKET_HINT = 'run as root (CAP_NET_RAW), or allow ping sockets for your group: sysctl net.ipv4.ping_group_range';

export class IcmpSocket {
  private closed = false;
  private readonly buf = { data: new Uint8Array(65536), name: new Uint8Array(28), control: new Uint8Array(64) };
  private readonly pollfd = new Uint8Array(8);

  private constructor(readonly fd: number, readonly version: IpVersion, readonly kind: 'raw' | 'dgram') {
    const v = new DataView(this.pollfd.buffer);
    v.setInt32(0, fd, true);
    v.setInt16(4, POLLIN, true);
  }

  static open(opts: IcmpSocketOptions): IcmpSocket {
    return withNetns(opts.netns, () => IcmpSocket.openHere(opts));
  }

  private static openHere({ version, mark }: IcmpSocketOptions): IcmpSocket {
    const c = getLibc();
    const domain = version === 4 ? AF_INET : AF_INET6;
    const proto = version === 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
    let kind: 'raw' | 'dgram' = 'raw';
    let fd = c.socket(domain, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
    if (fd < 0) {
      const errno = c.errno();
      if (errno !== EPERM && errno !== EACCES) throw syscallError('socket(SOCK_RAW)', errno);
      kind = 'dgram';
      try {
        fd = openMarkedFd(domain, SOCK_DGRAM, proto, undefined);
      } catch (e) {
        if (e instanceof PktmarkError && e.code === 'EPERM') {
          throw new PktmarkError('EPERM', 'cannot open an ICMP socket: no CAP_NET_RAW, and ping sockets are not allowed for this group', {
            errno: e.errno, hint: PING_SOCKET_HINT,
          });
        }
        throw e;
      }
    }
    const s = new IcmpSocket(fd, version, kind);
    try {
      if (mark !== undefined) s.setMark(mark);
      // TTL / hop limit arrive as control messages, except in the IPv4 header of a raw socket.
      if (version === 6) setIntOption(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1);
      else if (kind === 'dgram') setIntOption(fd, IPPROTO_IP, IP_RECVTTL, 1);
    } catch (e) {
      s.close();
      throw e;
    }
    return s;
  }

  private setMark(mark: number): void {
    try {
      setFdMark(this.fd, mark);
    } catch (e) {
      if (e instanceof PktmarkError && e.code === 'EPERM') {
        throw new PktmarkError('EPERM', `cannot set mark ${mark}: ${e.message}`, {
          field: 'mark', ...(e.errno === undefined ? {} : { errno: e.errno }),
          hint: this.kind === 'dgram'
            ? `${MARK_HINT}; without -m, ping works through a ping socket`
            : MARK_HINT,
        });
      }
      throw e;
    }
  }

  /** Send one ICMP message; returns undefined or the errno of a failed send (ENETUNREACH, …). */
  send(icmp: Uint8Array, sockaddr: Uint8Array): number | undefined {
    this.assertOpen();
    const c = getLibc();
    const n = c.sendto(this.fd, icmp, icmp.length, 0, sockaddr, sockaddr.length);
    return n < 0 ? c.errno() : undefined;
  }

  /** Wait up to `timeoutMs` for one datagram; undefined on timeout. */
  async receive(timeoutMs: number): Promise<Datagram | undefined> {
    this.assertOpen();
    const c = getLibc();
    for (;;) {
      const got = this.tryReceive();
      if (got !== undefined) return got;
      if (timeoutMs <= 0) return undefined;
      const start = performance.now();
      new DataView(this.pollfd.buffer).setInt16(6, 0, true);
      const rc = await c.pollAsync(this.pollfd, 1, Math.max(1, Math.ceil(timeoutMs)));
      if (this.closed) return undefined;
      if (rc < 0) {
        const errno = c.errno();
        if (errno !== EINTR) throw syscallError('poll', errno);
      }
      if (rc === 0) return undefined;
      timeoutMs -= performance.now() - start;
    }
  }

  private tryReceive(): Datagram | undefined {
    const c = getLibc();
    const msg: Parameters<typeof c.recvmsg>[1] = this.buf;
    for (;;) {
      const n = c.recvmsg(this.fd, msg, MSG_DONTWAIT);
      if (n < 0) {
        const errno = c.errno();
        if (errno === EAGAIN) return undefined;
        if (errno === EINTR) continue;
        throw syscallError('recvmsg', errno);
      }
      const data = this.buf.data.subarray(0, n);
      const from = decodeSockaddr(this.buf.name, msg.nameLen ?? 0);
      if (this.version === 4 && this.kind === 'raw') {
        const ip = stripIPv4(data);
        if (!ip) continue;
        return { icmp: ip.payload.slice(), from, ttl: ip.ttl };
      }
      const ttl = this.version === 4
        ? findCmsgInt(this.buf.control, msg.controlLen ?? 0, IPPROTO_IP, IP_TTL)
        : findCmsgInt(this.buf.control, msg.controlLen ?? 0, IPPROTO_IPV6, IPV6_HOPLIMIT);
      return { icmp: data.slice(), from, ttl };
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new PktmarkError('CLOSED', 'the ICMP socket is closed');
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    getLibc().close(this.fd);
  }
}
