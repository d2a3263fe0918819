// A UDP echo server for the connmark packet tests: binds ADDR:PORT, sends every datagram back to
// where it came from (the reply direction of its conntrack entry), prints "ready" once bound, and
// exits after MS milliseconds. Run inside a test namespace (ip netns exec).
import dgram from 'node:dgram';
const [addr, port, ms = '5000'] = process.argv.slice(2);
const s = dgram.createSocket(addr.includes(':') ? 'udp6' : 'udp4');
s.on('message', (msg, rinfo) => s.send(msg, rinfo.port, rinfo.address));
s.bind(Number(port), addr, () => process.stdout.write('ready\n'));
setTimeout(() => s.close(), Number(ms));
