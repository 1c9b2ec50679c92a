import { readFileSync } from 'node:fs';
/** The package version, read from package.json (dist/src/version.js → ../../package.json). */
export const VERSION = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;
//# sourceMappingURL=version.js.map