// libp2p v3 (yamux, noise) calls Promise.withResolvers, which Node 20 lacks. Without it every
// inbound connection upgrade fails. Load this module before anything that imports libp2p.
const P = Promise;
if (typeof P.withResolvers !== 'function') {
    P.withResolvers = function withResolvers() {
        let resolve;
        let reject;
        const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
        return { promise, resolve, reject };
    };
}
export {};
//# sourceMappingURL=polyfill.js.map