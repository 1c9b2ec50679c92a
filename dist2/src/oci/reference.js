// The only home of the OCI distribution grammar in layerd: repository names, tags, digests and
// registry host names, plus the Docker Hub default. Both the HTTP edge and the upstream client
// validate with these functions.
import { DigestInvalidError, NameInvalidError } from '../errors.js';
// Path components of lowercase alphanumerics joined by separators (`.`, `_`, `__`, one or more
// `-`), several components joined by `/`.
const COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const SHA256 = /^sha256:[a-f0-9]{64}$/;
const ANY_DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const MAX_NAME = 255;
/** Docker Hub: the name clients use, and the API host behind it. */
export const DOCKER_HUB = { name: 'docker.io', url: 'https://registry-1.docker.io' };
/** Validate a repository name; throws NameInvalidError with the reason. */
export function parseName(name) {
    if (name.length === 0)
        throw new NameInvalidError('repository name is empty');
    if (name.length > MAX_NAME)
        throw new NameInvalidError(`repository name is longer than ${MAX_NAME} characters`);
    for (const part of name.split('/')) {
        if (part === '..' || part === '.')
            throw new NameInvalidError('repository name may not contain "." or ".." components');
        if (!COMPONENT.test(part))
            throw new NameInvalidError(`invalid repository name component ${JSON.stringify(part.slice(0, 64))}`);
    }
    return name;
}
/** A sha256 digest as layerd stores them: `sha256:<64 lowercase hex>`. */
export function isSha256Digest(value) {
    return typeof value === 'string' && SHA256.test(value);
}
/**
 * Validate a digest. Only sha256 is accepted: it is the only algorithm we can verify, and a
 * mirror that stores what it cannot verify would break the "nothing unverified" rule.
 */
export function parseDigest(digest) {
    if (SHA256.test(digest))
        return digest;
    if (ANY_DIGEST.test(digest)) {
        const alg = digest.slice(0, digest.indexOf(':'));
        if (alg !== 'sha256')
            throw new DigestInvalidError(`unsupported digest algorithm ${JSON.stringify(alg.slice(0, 32))} (only sha256)`);
    }
    throw new DigestInvalidError(`invalid digest ${JSON.stringify(digest.slice(0, 80))}: expected sha256:<64 lowercase hex>`);
}
/** A manifest reference names a digest (it has a colon; tags cannot), else a tag. */
export function isDigestReference(ref) { return ref.includes(':'); }
/** A manifest reference: a tag or a (sha256) digest. */
export function parseReference(ref) {
    if (isDigestReference(ref))
        return { digest: parseDigest(ref) };
    if (!TAG.test(ref))
        throw new NameInvalidError(`invalid tag ${JSON.stringify(ref.slice(0, 64))}`);
    return { tag: ref };
}
/** Registry host names as given by `?ns=`: host[:port], no scheme, no path. */
const HOST = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*(?::[0-9]{1,5})?$|^\[[0-9a-fA-F:]+\](?::[0-9]{1,5})?$/;
export function isRegistryHost(ns) { return ns.length <= 255 && HOST.test(ns); }
/** The name layerd knows a registry by: containerd writes Docker Hub as docker.io, some tools use its API host. */
export function canonicalRegistry(name) {
    return name === 'registry-1.docker.io' || name === 'index.docker.io' ? DOCKER_HUB.name : name;
}
/**
 * `[registry/]repository[:tag][@digest]`, as `docker pull` takes it. The first component is a
 * registry when it has a `.` or a `:` or is `localhost` (Docker's rule); otherwise the image is
 * on `defaultRegistry`, and on Docker Hub a one-component name is under `library/`. Neither tag
 * nor digest: `latest`; both: the digest decides. Throws NameInvalidError naming the reference.
 */
export function parseImageReference(ref, defaultRegistry) {
    const shown = JSON.stringify(ref.slice(0, 128));
    try {
        let rest = ref;
        let digest;
        const at = rest.indexOf('@');
        if (at >= 0) {
            digest = parseDigest(rest.slice(at + 1));
            rest = rest.slice(0, at);
        }
        let tag;
        const colon = rest.lastIndexOf(':');
        if (colon > rest.lastIndexOf('/')) {
            tag = parseReference(rest.slice(colon + 1)).tag;
            rest = rest.slice(0, colon);
        }
        let registry = defaultRegistry;
        const slash = rest.indexOf('/');
        const head = slash < 0 ? '' : rest.slice(0, slash);
        if (head.includes('.') || head.includes(':') || head === 'localhost') {
            if (!isRegistryHost(head))
                throw new NameInvalidError(`invalid registry ${JSON.stringify(head.slice(0, 64))}`);
            registry = canonicalRegistry(head.toLowerCase());
            rest = rest.slice(slash + 1);
        }
        if (registry === DOCKER_HUB.name && rest !== '' && !rest.includes('/'))
            rest = `library/${rest}`;
        const repository = parseName(rest);
        return digest !== undefined ? { registry, repository, digest } : { registry, repository, tag: tag ?? 'latest' };
    }
    catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        throw new NameInvalidError(`invalid image reference ${shown}: ${why} (expected [registry/]repository[:tag][@sha256:...])`);
    }
}
/** `registry/repository:tag` or `registry/repository@digest`. */
export function formatImageReference(r) {
    return `${r.registry}/${r.repository}${r.digest !== undefined ? `@${r.digest}` : `:${r.tag ?? 'latest'}`}`;
}
//# sourceMappingURL=reference.js.map