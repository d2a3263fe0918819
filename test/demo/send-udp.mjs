// Sends COUNT UDP datagrams from SRC to DST:PORT (run inside a namespace by the demo and tests).
import dgram from 'node:dgram';
const [src, dst, port = '9', count = '5'] = process.argv.slice(2);
const s = dgram.createSocket(src.includes(':') ? 'udp6' : 'udp4');
s.bind({ address: src }, async () => {
  for (let i = 0; i < Number(count); i++) {
    await new Promise((r) => s.send(`pktmark demo ${i}`, Number(port), dst, r));
  }
  s.close();
});
