// Manifest media types: what layerd asks upstream for, and how it names a manifest whose
// Content-Type says nothing useful.
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
/** Every manifest media type layerd passes through (schema 1 only as a pass-through). */
export const MANIFEST_MEDIA_TYPES = [
    OCI_INDEX,
    OCI_MANIFEST,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    'application/vnd.docker.distribution.manifest.v1+prettyjws',
    'application/vnd.docker.distribution.manifest.v1+json'
];
/** Accept list sent upstream when the client sent none. */
export const DEFAULT_MANIFEST_ACCEPT = [OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST];
/** Content types that say nothing about which manifest this is. */
const GENERIC = new Set(['', 'application/json', 'text/plain', 'application/octet-stream']);
/**
 * The media type of a manifest: its Content-Type when that is specific, else its `mediaType`
 * field, else (an index has `manifests`) the OCI index or manifest type.
 */
export function manifestMediaType(contentType, body) {
    const ct = contentType?.split(';')[0].trim().toLowerCase() ?? '';
    if (!GENERIC.has(ct))
        return ct;
    try {
        const parsed = JSON.parse(body.toString('utf8'));
        if (parsed !== null && typeof parsed === 'object') {
            const j = parsed;
            if (typeof j.mediaType === 'string' && j.mediaType !== '')
                return j.mediaType;
            if (Array.isArray(j.manifests))
                return OCI_INDEX;
        }
    }
    catch { }
    return OCI_MANIFEST;
}
//# sourceMappingURL=media-types.js.map