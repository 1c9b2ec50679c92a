// TOML for `layerd setup`: parsing an existing client file (smol-toml) with a one-line error, and
// the check that a text edit changed exactly what was meant. Files are edited as text, never
// re-serialised, so users' comments, order and formatting stay as they were.
import { isDeepStrictEqual } from 'node:util';
import { parse, TomlError } from 'smol-toml';
import { ClientFileError } from '../../errors.js';
/** Parse `text` read from `path`; a syntax error becomes one line naming the file and line. */
export function parseToml(text, path) {
    try {
        return parse(text);
    }
    catch (err) {
        if (err instanceof TomlError) {
            const reason = err.message.split('\n')[0]?.replace(/^Invalid TOML document: /, '') ?? 'invalid';
            throw new ClientFileError(`${path} is not valid TOML (line ${err.line}, column ${err.column}: ${reason}); fix it or move it away`);
        }
        throw err;
    }
}
/** A TOML basic string (JSON's escapes are a subset of TOML's). */
export const tomlString = (s) => JSON.stringify(s);
/** `text` with `block` inserted at character offset `at`, each on lines of their own. */
export function insertBlock(text, at, block) {
    const head = text.slice(0, at);
    const sep = head === '' || head.endsWith('\n\n') ? '' : head.endsWith('\n') ? '\n' : '\n\n';
    const tail = text.slice(at);
    return head + sep + block + (tail === '' ? '' : '\n') + tail;
}
/** Offset of the first line of `text` matching `re` (a line-anchored, `m`-flagged pattern) at or after `from`. */
export function lineOffset(text, re, from = 0) {
    const g = new RegExp(re.source, re.flags.includes('g') ? re.flags : re.flags + 'g');
    g.lastIndex = from;
    const m = g.exec(text);
    return m === null ? undefined : m.index;
}
/**
 * Make sure the edited text parses to `expected` (the old document plus what we meant to add);
 * otherwise the edit touched something else, and the caller gets `manual` as the way out.
 */
export function checkEdit(edited, expected, path, manual) {
    let got;
    try {
        got = parse(edited);
    }
    catch {
        got = undefined;
    }
    if (got === undefined || !isDeepStrictEqual(JSON.parse(JSON.stringify(got)), JSON.parse(JSON.stringify(expected)))) {
        throw new ClientFileError(`cannot change ${path} safely; ${manual}`);
    }
    return edited;
}
//# sourceMappingURL=toml.js.map