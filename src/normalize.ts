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

/** The backends that have an `implied`, in registry order: made on first use (the registry imports this module's callers). */
let impliers: readonly { readonly via: Via; readonly implied: (input: MarkRuleInput) => boolean }[] | undefined;

/** The first backend whose `implied` says the input is its own (a loop over those that have one, not a closure per rule). */
function impliedVia(input: MarkRuleInput): Via | undefined {
  const list = (impliers ??= VIAS.flatMap((v) => { const f = BACKENDS[v].implied; return f ? [{ via: v, implied: f }] : []; }));
  for (let i = 0; i < list.length; i++) if (list[i].implied(input)) return list[i].via;
  return undefined;
}

const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

export function normalizeRule(input: MarkRuleInput): MarkRule {
  if (input === null || typeof input !== 'object') fail('INVALID_ARGUMENT', 'rule', 'a rule must be an object');
  // for-in with an own-key test is Object.keys without its array: this runs for every rule of a
  // bulk add. One pass: shared fields are every backend's; only a rule with another field needs
  // the second look, once its backend is known (bulk input is usually shared fields only)
  let own = false;
  for (const k in input) {
    if (!hasOwn(input, k) || SHARED_FIELD_SET.has(k)) continue;
    if (owners(k).length === 0) fail('INVALID_OPTION', k, `unknown rule field ${JSON.stringify(k)}`);
    own = true;
  }
  const via = input.via ?? impliedVia(input) ?? DEFAULT_VIA;
  if (!isVia(via)) fail('INVALID_OPTION', 'via', `via ${JSON.stringify(via)} is not ${viaWords()}`);
  const b = BACKENDS[via];
  if (own) {
    for (const k in input) {
      if (!hasOwn(input, k) || SHARED_FIELD_SET.has(k) || (b.fields as readonly string[]).includes(k)) continue;
      const o = owners(k);
      fail('INVALID_OPTION', k, `${k} applies to via ${o.map((v) => JSON.stringify(v)).join(' or ')} only, not via ${JSON.stringify(via)}`);
    }
  }
  // every key is now one of this backend's (normalizeWith's own key check would pass)
  return normalizeFields(b, input);
}
