// The sharing policy, in one place: which blobs this agent may exchange with peers. Blobs of a
// registry without credentials are shared; blobs fetched with credentials stay private unless
// their registry is configured `shareable: true`. Even then, the taking side (SessionManager)
// takes such a blob from a peer only after its own credentials authorised it upstream, so an
// agent without access never gets the bytes from a neighbour (docs/ARCHITECTURE.md, "Private
// registries").
export function sharingPolicy(registries) {
    const open = new Set(registries.filter(r => !r.credentialed || r.shareable).map(r => r.name));
    const registry = (name) => open.has(name);
    return {
        registry,
        blob: (info) => !info.credentialed || (info.origin !== undefined && registry(info.origin.registry))
    };
}
/** Everything may be shared (unit tests, agents without credentialed registries). */
export const SHARE_ALL = { registry: () => true, blob: () => true };
//# sourceMappingURL=sharing.js.map