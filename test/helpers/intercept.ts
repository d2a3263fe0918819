/**
 * A real socket in a test namespace whose exchanges a test watches or alters: `send` sees (and
 * may replace) each request's bytes, `receive` each reply list. With `receive` there is no
 * `stream`, so dumps come through exchange and their replies are seen too; without it they stream.
 * Tests use it to record what pktmark sends, or to make the kernel answer as an older one would.
 */
import { NetlinkSocket } from '../../src/transport/netlink-socket.js';
import type { NetlinkMessage } from '../../codecs/netlink/message.js';
import type { NetlinkProtocol, Transport, WaitFor } from '../../src/transport/transport.js';

export interface Intercept {
  readonly send?: (bytes: Uint8Array) => Uint8Array | void;
  readonly receive?: (replies: NetlinkMessage[]) => void;
}

/** A transport factory for Marker.open({ transport }): real sockets in `netns`, intercepted. */
export function intercepted(netns: string, hooks: Intercept): (protocol: NetlinkProtocol) => Transport {
  return (protocol) => {
    const s = NetlinkSocket.open({ protocol, netns });
    return {
      protocol,
      nextSeq: () => s.nextSeq(),
      async exchange(bytes, wait) {
        const replies = await s.exchange(hooks.send?.(bytes) ?? bytes, wait);
        hooks.receive?.(replies);
        return replies;
      },
      ...(hooks.receive ? {} : { stream: (bytes: Uint8Array, wait: WaitFor) => s.stream(bytes, wait) }),
      close: () => s.close(),
    };
  };
}
