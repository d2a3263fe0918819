export { Marker, encode, explain, DEFAULT_TABLE, type MarkerOptions } from './marker.js';
export { normalizeRule } from './normalize.js';
export { formatMark, type MarkRule, type MarkRuleInput, type Mark, type Mask, type IfName, type Via, type Hook, type Direction, type Rate, type AddressMatch, type AddressList } from './rule.js';
export type { RuleRecord, RawPart, ListUpdate, UpdateResult } from './backends/backend.js';
export { PktmarkError, isPktmarkError, type ErrorCode } from './errors.js';
export type { NetnsTarget } from './transport/netns.js';
export { markConflicts, REGISTRY, REGISTRY_ATTRIBUTION, type MarkConflict, type RegistryEntry } from './registry/index.js';
// desired state (issue 11): Marker.apply / Marker.watch take these; parseDesired and Agent load
// yaml and prom-client, so they are the entry points pktmark/apply and pktmark/agent, loaded only when used
export type { ApplyOptions, ApplyResult, PlanStep, Prune, StepAction, DesiredRuleInput, DesiredStateInput, DesiredState, DesiredRule } from './apply/index.js';
export type { Agent, AgentOptions } from './agent/agent.js';
// issue 12: the override check (Marker.verify) and the ipftrace2 hand-off
export type { VerifyOptions, VerifyReport, VerifyLoss, VerifyPointReport, MarkWriter, StopReason } from './verify/index.js';
export { ipftArgs, type IpftArgs } from './ipft.js';
// who else uses which mark bits, live (issue 12): the scan behind `pktmark conflicts`, add's warning and --mark auto
export { conflicts, pickAutoMark, busyBits, SCAN_SOURCES, type ConflictReport, type MarkUser, type MarkAction, type Unreadable, type AutoChoice, type ScanSource } from './conflicts/index.js';
export type { MarkerAddOptions } from './marker.js';
