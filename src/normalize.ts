/**
 * normalizeRule: the entry for user input. It picks the backend (`via`, or the first backend
 * whose fields the input implies), refuses fields no backend knows and fields of another
 * backend by name, then lets rule.ts do the shared checks and the backend its own.
 */
import { BACKENDS, DEFAULT_VIA, VIAS, isVia, viaWords, type Via } from './backends/index.js';
import { fail, normalizeWith, SHARED_FIELD_SET, type MarkRule, type MarkRuleInput } from './rule.js';

function owners(field: string): Via[] {
  return VIAS.filter((v) => (BACKENDS[v].fields as readonly string[]).includes(field));
}

export function normalizeRule(input: MarkRuleInput): MarkRule {
  if (input === null || typeof input !== 'object') fail('INVALID_ARGUMENT', 'rule', 'a rule must be an object');
  for (const k of Object.keys(input)) {
    if (!SHARED_FIELD_SET.has(k) && owners(k).length === 0) fail('INVALID_OPTION', k, `unknown rule field ${JSON.stringify(k)}`);
  }
  const via = input.via ?? VIAS.find((v) => BACKENDS[v].implied?.(input)) ?? DEFAULT_VIA;
  if (!isVia(via)) fail('INVALID_OPTION', 'via', `via ${JSON.stringify(via)} is not ${viaWords()}`);
  const b = BACKENDS[via];
  for (const k of Object.keys(input)) {
    if (SHARED_FIELD_SET.has(k) || (b.fields as readonly string[]).includes(k)) continue;
    const o = owners(k);
    fail('INVALID_OPTION', k, `${k} applies to via ${o.map((v) => JSON.stringify(v)).join(' or ')} only, not via ${JSON.stringify(via)}`);
  }
  return normalizeWith(b, input);
}
