export { markConflicts, REGISTRY, REGISTRY_ATTRIBUTION, type MarkConflict } from './conflicts.js';
export type { RegistryEntry, RegistryValue } from './data.js';
