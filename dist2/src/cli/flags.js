// Command-line flags that several commands share, applied to the raw config object the same way
// the YAML file would set them (so `serve` and `setup` read one config the same way).
import { ConfigError } from '../errors.js';
import { DOCKER_HUB } from '../oci/reference.js';
/** commander accumulator for repeatable options. */
export const collect = (v, prev) => [...prev, v];
/** `--upstream NAME=URL` (repeatable) → `upstreams.NAME.url`, keeping the file's other keys of NAME. */
export function applyUpstreamFlags(raw, flags) {
    raw.upstreams ??= {};
    for (const u of flags) {
        const i = u.indexOf('=');
        if (i <= 0)
            throw new ConfigError(`--upstream ${JSON.stringify(u)}: expected NAME=URL, e.g. ${DOCKER_HUB.name}=${DOCKER_HUB.url}`);
        raw.upstreams[u.slice(0, i)] = { ...raw.upstreams[u.slice(0, i)], url: u.slice(i + 1) };
    }
}
//# sourceMappingURL=flags.js.map