// containers-registries.conf (v2), read by podman, skopeo and buildah: per registry a
// `[[registry]]` with the agent as its first `[[registry.mirror]]`. New entries are appended; an
// existing entry for the prefix gets only the mirror, inserted as text inside its own section.
import { ClientFileError } from '../../errors.js';
import { checkEdit, insertBlock, lineOffset, parseToml, tomlString } from './toml.js';
const REGISTRY_HEADER = /^[ \t]*\[\[[ \t]*registry[ \t]*\]\]/m;
const MIRROR_HEADER = /^[ \t]*\[\[[ \t]*registry[ \t]*\.[ \t]*mirror[ \t]*\]\]/m;
/** Any table header but [[registry.mirror]]: where a [[registry]] section ends. */
const OTHER_HEADER = /^[ \t]*\[(?![ \t]*\[[ \t]*registry[ \t]*\.[ \t]*mirror[ \t]*\]\])/m;
function mirrorBlock(mirror) {
    return `[[registry.mirror]]\nlocation = ${tomlString(mirror)}\ninsecure = true\n`;
}
function registryBlock(w, mirror) {
    return `[[registry]]\nprefix = ${tomlString(w.prefix)}\nlocation = ${tomlString(w.location)}\n${w.insecure ? 'insecure = true\n' : ''}\n${mirrorBlock(mirror)}`;
}
function allOffsets(text, re) {
    const out = [];
    for (let at = lineOffset(text, re); at !== undefined; at = lineOffset(text, re, at + 1))
        out.push(at);
    return out;
}
function entries(doc, path) {
    const r = doc.registries;
    if (r !== null && typeof r === 'object' && ['search', 'insecure', 'block'].some(k => k in r)) {
        throw new ClientFileError(`${path} uses the v1 format ([registries.search]); convert it to v2 ([[registry]] tables) first, see containers-registries.conf(5)`);
    }
    const list = doc.registry ?? [];
    if (!Array.isArray(list) || list.some(e => e === null || typeof e !== 'object')) {
        throw new ClientFileError(`${path}: \`registry\` must be a list of [[registry]] tables`);
    }
    return list;
}
/** Add `mirror` to the [[registry]] of one prefix (creating it when missing). Returns the new text. */
function addOne(text, w, mirror, path) {
    const doc = text.trim() === '' ? {} : parseToml(text, path);
    const regs = entries(doc, path);
    const k = regs.findIndex(r => (r.prefix ?? r.location) === w.prefix);
    if (k < 0) {
        const added = { prefix: w.prefix, location: w.location, ...(w.insecure ? { insecure: true } : {}), mirror: [{ location: mirror, insecure: true }] };
        return checkEdit(insertBlock(text, text.length, registryBlock(w, mirror)), { ...doc, registry: [...regs, added] }, path, `append a [[registry]] for ${w.prefix} with a [[registry.mirror]] location = ${tomlString(mirror)} by hand`);
    }
    const entry = regs[k];
    const mirrors = Array.isArray(entry.mirror) ? entry.mirror : [];
    if (mirrors.some(m => m.location === mirror))
        return text;
    const manual = `add [[registry.mirror]] location = ${tomlString(mirror)}, insecure = true as the first mirror of its [[registry]] for ${w.prefix} by hand`;
    const headers = allOffsets(text, REGISTRY_HEADER);
    // Only when each entry is a [[registry]] section do we know where entry k's text is.
    if (headers.length !== regs.length)
        throw new ClientFileError(`cannot change ${path} safely; ${manual}`);
    const start = headers[k];
    const end = lineOffset(text, OTHER_HEADER, start + 1) ?? text.length;
    const first = lineOffset(text, MIRROR_HEADER, start + 1);
    const at = first !== undefined && first < end ? first : end;
    const expected = { ...doc, registry: regs.map((r, i) => i === k ? { ...r, mirror: [{ location: mirror, insecure: true }, ...mirrors] } : r) };
    return checkEdit(insertBlock(text, at, mirrorBlock(mirror)), expected, path, manual);
}
/** The new text of registries.conf (undefined: no file yet) with the agent as first mirror of each prefix. */
export function editRegistriesConf(before, wants, mirror, path) {
    let text = before ?? '# Pulls go through the layerd agent first (written by `layerd setup podman`).\n';
    for (const w of wants)
        text = addOne(text, w, mirror, path);
    return text;
}
//# sourceMappingURL=registries-conf.js.map