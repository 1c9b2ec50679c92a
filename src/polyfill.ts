// libp2p v3 (yamux, noise) calls Promise.withResolvers, which Node 20 lacks. Without it every
// inbound connection upgrade fails. Load this module before anything that imports libp2p.
const P = Promise as unknown as { withResolvers?: <T>() => PromiseWithResolvers<T> }
if (typeof P.withResolvers !== 'function') {
  P.withResolvers = function withResolvers<T> (): PromiseWithResolvers<T> {
    let resolve!: (value: T | PromiseLike<T>) => void
    let reject!: (reason?: unknown) => void
    const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}
export {}
