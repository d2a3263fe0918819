// ava's configuration inside the test/vm guest: the project's own (package.json "ava"), with the
// cache off — the guest sees node_modules read-only, and ava would mkdir node_modules/.cache/ava.
import { readFileSync } from 'node:fs';

const { ava } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
export default { ...ava, cache: false };
