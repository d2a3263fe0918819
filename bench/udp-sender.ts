/**
 * Sends COUNT UDP datagrams with sendto(2) through koffi in a tight loop and prints the mean
 * cost per send in µs: nft's output hook runs inside the syscall, so rules there show up here.
 * Run inside the sending namespace (ip netns exec): node dist/bench/udp-sender.js DST PORT COUNT
 */
import { getLibc } from '../src/transport/syscalls.js';

const [dst, portText, countText] = process.argv.slice(2);
const COUNT = Number(countText);
const AF_INET = 2, SOCK_DGRAM = 2;
const c = getLibc();
const fd = c.socket(AF_INET, SOCK_DGRAM, 0);
if (fd < 0) throw new Error(`socket: errno ${c.errno()}`);
// struct sockaddr_in: family (host order), port and address (network order), 8 bytes of zero
const sa = new Uint8Array(16);
const v = new DataView(sa.buffer);
v.setUint16(0, AF_INET, true);
v.setUint16(2, Number(portText), false);
dst.split('.').forEach((p, i) => { sa[4 + i] = Number(p); });
const payload = new Uint8Array(64);
const burst = (n: number): number => {
  let failed = 0;
  for (let i = 0; i < n; i++) if (c.sendto(fd, payload, payload.length, 0, sa, 16) < 0) failed++;
  return failed;
};
burst(Math.min(10_000, COUNT)); // warm the JIT and the route
const t0 = process.hrtime.bigint();
const failed = burst(COUNT);
const ns = Number(process.hrtime.bigint() - t0);
c.close(fd);
process.stdout.write(JSON.stringify({ packets: COUNT, failed, usPerPacket: ns / COUNT / 1000 }));
