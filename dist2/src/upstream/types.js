// The seam between the fetch session and a remote OCI registry. Implemented by
// src/upstream/client.ts; the session and the registry edge only see these types.
export {};
//# sourceMappingURL=types.js.map