// Sends UDP datagrams from SRC to DST:PORT until its stdin closes, then prints how many it sent
// (run inside a namespace by nft-set-packets.test.ts). Bursts of 4 then a 1 ms pause: a steady
// few thousand per second, so two of these do not starve the updates they run beside.
import dgram from 'node:dgram';
const [src, dst, port = '9'] = process.argv.slice(2);
const s = dgram.createSocket(src.includes(':') ? 'udp6' : 'udp4');
let stop = false;
process.stdin.on('end', () => { stop = true; });
process.stdin.resume();
s.bind({ address: src }, async () => {
  let sent = 0;
  process.stdout.write('ready\n');
  while (!stop) {
    for (let i = 0; i < 4; i++) await new Promise((r) => s.send('pktmark set stream', Number(port), dst, (e) => { if (!e) sent++; r(); }));
    await new Promise((r) => setTimeout(r, 1));
  }
  s.close();
  process.stdout.write(`${JSON.stringify({ sent })}\n`);
});
