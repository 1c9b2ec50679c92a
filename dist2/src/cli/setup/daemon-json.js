// dockerd's daemon.json: the agent first in `registry-mirrors`, every other key kept as it was.
// Docker uses mirrors only for Docker Hub, and sends no ?ns=, so the agent's default registry
// must be docker.io for this to be right (src/cli/setup.ts checks that).
import { ClientFileError, errorMessage } from '../../errors.js';
const KEY = 'registry-mirrors';
const sameUrl = (a, b) => a.replace(/\/+$/, '') === b.replace(/\/+$/, '');
/** The new text of daemon.json (undefined: no file yet) with `mirror` in registry-mirrors. */
export function editDaemonJson(before, mirror, path) {
    let doc = {};
    if (before !== undefined && before.trim() !== '') {
        try {
            doc = JSON.parse(before);
        }
        catch (err) {
            throw new ClientFileError(`${path} is not valid JSON (${errorMessage(err).split('\n')[0]}); fix it or move it away`);
        }
        if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
            throw new ClientFileError(`${path} must hold a JSON object`);
    }
    const mirrors = doc[KEY] ?? [];
    if (!Array.isArray(mirrors) || mirrors.some(m => typeof m !== 'string')) {
        throw new ClientFileError(`${path}: "${KEY}" must be a list of URLs; fix it or move the file away`);
    }
    if (mirrors.some(m => sameUrl(m, mirror)))
        return before;
    // First, as dockerd tries mirrors in order. A key that exists keeps its place in the object.
    return JSON.stringify({ ...doc, [KEY]: [mirror, ...mirrors] }, null, 2) + '\n';
}
//# sourceMappingURL=daemon-json.js.map