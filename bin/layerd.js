#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (built by `npm ci` through the prepare script).
import '../dist/src/polyfill.js'
const { runCli } = await import('../dist/src/cli/main.js')
await runCli(process.argv)
