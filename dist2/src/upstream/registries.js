// The registry table of the upstream client: each configured UpstreamRegistry checked once (an
// http(s) URL without credentials, query or fragment, possibly with a path prefix), with its own
// circuit breaker so one dead registry never slows the others. Docker Hub is always there.
import { ConfigError, RegistryUnknownError } from '../errors.js';
import { DOCKER_HUB } from '../oci/reference.js';
import { createCircuitBreaker } from './breaker.js';
/** Build the table; `docker.io` is added as DOCKER_HUB unless configured. Throws ConfigError. */
export function createRegistries(registries, breaker) {
    const defs = [...registries];
    // A copy: the table hands `def` out, and the shared constant must not be mutable through it.
    if (!defs.some(r => r.name === DOCKER_HUB.name))
        defs.push({ ...DOCKER_HUB });
    const regs = new Map();
    for (const def of defs) {
        if (regs.has(def.name))
            throw new ConfigError(`upstream registry ${def.name} is configured twice`);
        const url = parseRegistryUrl(def);
        regs.set(def.name, {
            def,
            base: url.origin + url.pathname.replace(/\/+$/, ''),
            origin: url.origin,
            breaker: createCircuitBreaker({ name: def.name, ...breaker }),
            pausedUntil: 0
        });
    }
    return {
        get(name) {
            const reg = regs.get(name);
            if (reg == null)
                throw new RegistryUnknownError(`no upstream registry configured for ${name}`);
            return reg;
        }
    };
}
/** Messages name the registry, never the URL: it might carry userinfo. */
function parseRegistryUrl(def) {
    let url;
    try {
        url = new URL(def.url);
    }
    catch {
        throw new ConfigError(`upstream registry ${def.name}: invalid url`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
        throw new ConfigError(`upstream registry ${def.name}: url must be http or https`);
    if (url.username !== '' || url.password !== '')
        throw new ConfigError(`upstream registry ${def.name}: put credentials in credentials, not in the url`);
    if (url.search !== '' || url.hash !== '')
        throw new ConfigError(`upstream registry ${def.name}: url must not have a query or fragment`);
    return url;
}
//# sourceMappingURL=registries.js.map