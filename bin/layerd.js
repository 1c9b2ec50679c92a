#!/usr/bin/env -S node --max-semi-space-size=2 --liftoff-only
// Thin launcher: the CLI and agent run from dist/bundle/ (tsc, then scripts/bundle.mjs; both run
// in `npm ci` through the prepare script).
// The node flags above are part of the product (test/helpers/agent.ts starts agents with the same
// flags), both measured on a 315 MB cold pull and a peer transfer:
// - a 2 MiB young generation: the transfer buffers are pooled and lent (src/util/lent.ts), so
//   what dies young is Node's 64 KiB socket reads, each copied at once; collected every 2 MiB of
//   JS garbage instead of every 8 MiB, fewer of them wait in the malloc heap (peak RSS of a cold
//   pull about 10 MB lower). An 8 MiB one was chosen when the transfer buffers themselves were
//   fresh and lived a while: with 1 MiB they were promoted, and a cold pull paid full
//   mark-compacts (11 CPU s/GB instead of 8);
// - WebAssembly stays on V8's baseline compiler: the only wasm is undici's HTTP parser, which
//   skips over body bytes whatever the tier, and its optimizing compile of llhttp took ~0.3 CPU s
//   and 27–36 MB of compiler memory on a background thread in the first pull of every process
//   (kept by malloc afterwards). Cold pull: peak RSS 176–183 -> 149–155 MB, 6.3–8.1 -> 5.1–6.1
//   CPU s/GB.
const { runCli } = await import('../dist/bundle/layerd.js')
await runCli(process.argv)
