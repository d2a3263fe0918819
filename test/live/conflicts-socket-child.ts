/** A UDP socket with SO_MARK, held open inside the namespace the process runs in (`ip netns exec`); prints its port, exits when stdin closes. */
import { createMarkedDgram } from '../../src/socket.js';

const s = createMarkedDgram({ type: 'udp4', mark: Number(process.argv[2]) });
s.bind(0, '127.0.0.1', () => {
  process.stdout.write(`ready ${s.address().port}\n`);
});
process.stdin.on('end', () => { s.close(); process.exit(0); });
process.stdin.resume();
