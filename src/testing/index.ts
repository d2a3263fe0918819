/**
 * `pktmark/testing`: fake kernels for tests without root (public API). A FakeTransport answers
 * netlink requests with a function; FakeNftKernel is a small nf_tables behind one; FakeBpf is an
 * in-memory bpf() with fault injection. Give them to `Marker.open({ transport, bpf })` or the
 * CLI's `main(argv, io, { transport, bpf })`.
 */
export { FakeTransport, RecordingTransport, ackFor, doneFor, toHex, fromHex, type FakeHandler, type RecordedExchange } from '../transport/fake.js';
export { FakeNftKernel, type FakeTable, type RuleFault } from './nft-kernel.js';
export { FakeBpf } from './bpf.js';
export { checkRequest, type RequestExpectation } from './checks.js';
export { NETLINK_NETFILTER, NETLINK_ROUTE, type NetlinkProtocol, type Transport, type WaitFor } from '../transport/transport.js';
