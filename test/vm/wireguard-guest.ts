/**
 * Runs inside the test/vm guest (Debian 6.1, which has the wireguard module): makes wg0 in a
 * throwaway namespace (`ip link add … type wireguard`), sets its fwmark with WG_CMD_SET_DEVICE
 * (no `wg` binary on the host root the guest shares), records the kernel's generic-netlink
 * replies to CTRL_CMD_GETFAMILY and WG_CMD_GET_DEVICE (RecordingTransport: the kernel's own bytes),
 * then runs the live scan on that namespace. Prints one PKTMARK-VM-RESULT line.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { decodeFamilyId, encodeGetFamily, GENL_ID_CTRL } from '../../codecs/genl/genl.js';
import { encodeWgGetDevice, encodeWgSetFwmark } from '../../codecs/genl/wireguard.js';
import { Marker } from '../../src/marker.js';
import { dump, execute } from '../../src/transport/execute.js';
import { RecordingTransport } from '../../src/transport/fake.js';
import { NetlinkSocket } from '../../src/transport/netlink-socket.js';
import { NETLINK_GENERIC } from '../../src/transport/transport.js';

const IP = '/usr/sbin/ip';
const NS = `pmvm-wg-${process.pid}`;
const FWMARK = 0xca6c;
const out: Record<string, unknown> = { kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim() };
try {
  execFileSync(IP, ['netns', 'add', NS]);
  execFileSync(IP, ['-n', NS, 'link', 'add', 'wg0', 'type', 'wireguard']);
  const ifindex = (JSON.parse(execFileSync(IP, ['-n', NS, '-j', 'link', 'show', 'wg0'], { encoding: 'utf8' })) as { ifindex: number }[])[0]!.ifindex;
  const sock = NetlinkSocket.open({ protocol: NETLINK_GENERIC, netns: NS });
  const rec = new RecordingTransport(sock);
  const fam = (await execute(rec, 'get family', (w, seq) => encodeGetFamily(w, seq, 'wireguard'))).find((m) => m.header.type === GENL_ID_CTRL)!;
  const id = decodeFamilyId(fam);
  await execute(sock, 'set fwmark', (w, seq) => encodeWgSetFwmark(w, seq, id, ifindex, FWMARK));
  await dump(rec, 'get device', (w, seq) => encodeWgGetDevice(w, seq, id, ifindex));
  await sock.close();
  out.familyId = id;
  out.ifindex = ifindex;
  out.recording = rec.recording;
  const m = await Marker.open({ netns: NS });
  try { out.scan = await m.conflicts({ sources: ['wireguard'] }); } finally { await m.close(); }
} catch (e) {
  out.error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
} finally {
  try { execFileSync(IP, ['netns', 'del', NS]); } catch { /* already gone */ }
}
process.stdout.write(`PKTMARK-VM-RESULT ${JSON.stringify(out)}\n`);
