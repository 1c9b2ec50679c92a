#!/usr/bin/env -S node --max-semi-space-size=1
// Thin launcher: the compiled CLI lives in dist/ (built by `npm ci` through the prepare script).
// The node flags above are part of the product: a 1 MiB young generation keeps a busy agent's
// memory near its working set (test/helpers/agent.ts starts agents with the same flags).
import '../dist/src/polyfill.js'
const { runCli } = await import('../dist/src/cli/main.js')
await runCli(process.argv)
