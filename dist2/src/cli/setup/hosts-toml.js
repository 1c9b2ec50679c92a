// containerd's `certs.d/<registry>/hosts.toml`: the agent as the first `[host]` of a registry.
// containerd 1.6 ignores a file without a [host] table (see docs/environment notes), and tries
// hosts in file order, so our table goes before any other host the file has.
import { ClientFileError } from '../../errors.js';
import { checkEdit, insertBlock, lineOffset, parseToml, tomlString } from './toml.js';
export const CONTAINERD_CAPABILITIES = ['pull', 'resolve'];
const capabilities = `[${CONTAINERD_CAPABILITIES.map(c => tomlString(c)).join(', ')}]`;
function hostTable(mirror) {
    return `[host.${tomlString(mirror)}]\n  capabilities = ${capabilities}\n`;
}
const sameUrl = (a, b) => a.replace(/\/+$/, '') === b.replace(/\/+$/, '');
/** The new text of `path` (undefined: no file yet) with the agent as its first host. */
export function editHostsToml(before, want, path, registry) {
    if (before === undefined || before.trim() === '') {
        return `# Pulls of ${registry} go through the layerd agent first (written by \`layerd setup containerd\`).\n` +
            `server = ${tomlString(want.server)}\n\n${hostTable(want.mirror)}`;
    }
    const doc = parseToml(before, path);
    if (doc.host !== undefined && (typeof doc.host !== 'object' || Array.isArray(doc.host))) {
        throw new ClientFileError(`${path}: \`host\` is not a table of hosts; fix it or move the file away`);
    }
    const hosts = doc.host ?? {};
    if (Object.keys(hosts).some(h => sameUrl(h, want.mirror)))
        return before;
    const at = lineOffset(before, /^[ \t]*\[[ \t]*host[ \t]*\./m) ?? before.length;
    const edited = insertBlock(before, at, hostTable(want.mirror));
    const expected = { ...doc, host: { [want.mirror]: { capabilities: [...CONTAINERD_CAPABILITIES] }, ...hosts } };
    return checkEdit(edited, expected, path, `add [host.${tomlString(want.mirror)}] with capabilities = ${capabilities} before its other hosts by hand`);
}
//# sourceMappingURL=hosts-toml.js.map