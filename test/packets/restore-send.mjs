// Sends UDP flows for the restore packet test (run inside a namespace): argv[2] is JSON
// [[src, sport, dst, dport, count], …]; each flow from its own bound source address and port.
import dgram from 'node:dgram';
const flows = JSON.parse(process.argv[2]);
for (const [src, sport, dst, dport, count] of flows) {
  const s = dgram.createSocket('udp4');
  await new Promise((r) => s.bind({ address: src, port: sport }, r));
  for (let i = 0; i < count; i++) await new Promise((r) => s.send(`restore ${i}`, dport, dst, r));
  await new Promise((r) => s.close(r));
}
