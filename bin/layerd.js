#!/usr/bin/env -S node --max-semi-space-size=8
// Thin launcher: the compiled CLI lives in dist/ (built by `npm ci` through the prepare script).
// The node flags above are part of the product (test/helpers/agent.ts starts agents with the same
// flags): an 8 MiB young generation lets the 64 KiB socket buffers of a transfer die young. With
// 1 MiB they outlived two scavenges, went to the old generation, and V8 ran a full mark-compact
// for every 64 MB of them: a cold pull cost 11 CPU s/GB instead of 8 (bench figs 2, 4, 10).
import '../dist/src/polyfill.js'
const { runCli } = await import('../dist/src/cli/main.js')
await runCli(process.argv)
