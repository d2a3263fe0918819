/**
 * normalizeRule: the entry for user input. It picks the backend (`via`, or the first backend
 * whose fields the input implies), refuses fields no backend knows and fields of another
 * backend by name, then lets rule.ts do the shared checks and the backend its own.
 */
import { BACKENDS, DEFAULT_VIA, VIAS, isVia, viaWords, type Via } from './backends/index.js';
import { fail, normalizeFields, SHARED_FIELD_SET, type MarkRule, type MarkRuleInput } from './rule.js';

// the backends that take each backend-only field: asked for every such key of every rule of a
// bulk add (hook, table, dev, …), so worked out once per field (unknown fields fail at once and are not kept)
const ownersOf = new Map<string, readonly Via[]>();
function owners(field: string): readonly Via[] {
  let o = ownersOf.get(field);
  if (o === undefined) {
    o = VIAS.filter((v) => (BACKENDS[v].fields as readonly string[]).includes(field));
    if (o.length > 0) ownersOf.set(field, o);
  }
  return o;
}

/** The first backend whose `implied` says the input is its own (a loop, not a closure per rule). */
function impliedVia(input: MarkRuleInput): Via | undefined {
  for (let i = 0; i < VIAS.length; i++) {
    const b = BACKENDS[VIAS[i]];
    if (b.implied?.(input)) return VIAS[i];
  }
  return undefined;
}

const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

export function normalizeRule(input: MarkRuleInput): MarkRule {
  if (input === null || typeof input !== 'object') fail('INVALID_ARGUMENT', 'rule', 'a rule must be an object');
  // for-in with an own-key test is Object.keys without its array: this runs for every rule of a bulk add
  for (const k in input) {
    if (!hasOwn(input, k)) continue;
    if (!SHARED_FIELD_SET.has(k) && owners(k).length === 0) fail('INVALID_OPTION', k, `unknown rule field ${JSON.stringify(k)}`);
  }
  const via = input.via ?? impliedVia(input) ?? DEFAULT_VIA;
  if (!isVia(via)) fail('INVALID_OPTION', 'via', `via ${JSON.stringify(via)} is not ${viaWords()}`);
  const b = BACKENDS[via];
  for (const k in input) {
    if (!hasOwn(input, k) || SHARED_FIELD_SET.has(k) || (b.fields as readonly string[]).includes(k)) continue;
    const o = owners(k);
    fail('INVALID_OPTION', k, `${k} applies to via ${o.map((v) => JSON.stringify(v)).join(' or ')} only, not via ${JSON.stringify(via)}`);
  }
  // every key is now one of this backend's (normalizeWith's own key check would pass)
  return normalizeFields(b, input);
}
