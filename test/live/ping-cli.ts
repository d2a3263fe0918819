// Test-only entry: runs `pktmark ping ARGS` (the CLI lead wires the real bin), so tests can run it
// inside a namespace with `ip netns exec NS node --import tsx test/live/ping-cli.ts ARGS`.
import { pingCommand } from '../../src/cli/commands/ping.js';

process.exitCode = await pingCommand(process.argv.slice(2));
