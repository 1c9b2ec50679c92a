import { isSha256Digest } from './reference.js';
/**
 * The blobs an image manifest names (its config and layers), with their sizes. An index, a
 * schema 1 manifest or anything that does not parse yields none: this is a hint, never a check.
 */
export function blobDescriptors(body) {
    let j;
    try {
        j = JSON.parse(body.toString('utf8'));
    }
    catch {
        return [];
    }
    if (j === null || typeof j !== 'object')
        return [];
    const m = j;
    const out = [];
    const take = (d, kind) => {
        if (d === null || typeof d !== 'object')
            return;
        const { digest, size } = d;
        if (isSha256Digest(digest) && typeof size === 'number' && Number.isSafeInteger(size) && size >= 0)
            out.push({ digest, size, kind });
    };
    take(m.config, 'config');
    if (Array.isArray(m.layers))
        for (const l of m.layers)
            take(l, 'layer');
    return out;
}
/** The manifests an image index (or Docker manifest list) names; undefined when `body` is not an index. */
export function indexEntries(body) {
    let j;
    try {
        j = JSON.parse(body.toString('utf8'));
    }
    catch {
        return undefined;
    }
    if (j === null || typeof j !== 'object' || !Array.isArray(j.manifests))
        return undefined;
    const out = [];
    for (const m of j.manifests) {
        if (m === null || typeof m !== 'object')
            continue;
        const { digest, size, mediaType, platform } = m;
        if (!isSha256Digest(digest) || typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
            continue;
        const e = { digest, size };
        if (typeof mediaType === 'string')
            e.mediaType = mediaType;
        if (platform !== null && typeof platform === 'object') {
            const p = platform;
            if (typeof p.os === 'string' && typeof p.architecture === 'string') {
                e.platform = { os: p.os, architecture: p.architecture, ...(typeof p.variant === 'string' && p.variant !== '' ? { variant: p.variant } : {}) };
            }
        }
        out.push(e);
    }
    return out;
}
//# sourceMappingURL=manifest.js.map