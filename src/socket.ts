/**
 * `pktmark/socket`: SO_MARK for Node sockets — the earliest place to mark a packet on its way
 * out. Setting a mark needs CAP_NET_ADMIN (or CAP_NET_RAW); reading one does not.
 */
export { type MarkableSocket } from './socket/fd.js';
export { setSocketMark, getSocketMark, parseMark } from './socket/mark.js';
export { connectMarked, type MarkedConnectOptions } from './socket/connect.js';
export {
  markedAgent, MarkedHttpAgent, MarkedHttpsAgent, type MarkedAgentOptions, type MarkedHttpsAgentOptions,
} from './socket/agent.js';
export {
  markedConnector, type Connector, type ConnectorOptions, type ConnectorCallback, type MarkedConnectorOptions,
} from './socket/connector.js';
export { createMarkedDgram, type MarkedDgramOptions } from './socket/dgram.js';
