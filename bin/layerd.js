#!/usr/bin/env -S MALLOC_MMAP_THRESHOLD_=524288 node --max-semi-space-size=1 --liftoff-only
// Thin launcher: the CLI and agent run from dist/bundle/ (tsc, then scripts/bundle.mjs; both run
// in `npm ci` through the prepare script).
// The settings above are part of the product (test/helpers/agent.ts starts agents with the same
// ones), each measured on the bench:
// - glibc's mmap threshold fixed at 512 KiB: the data path's buffers of 1 MiB and more (pooled
//   file chunks, piece buffers, TLS output of a 1 MiB write) are mapped each on its own and
//   unmapped when freed. By default glibc raises the threshold to the size of the first such
//   buffer freed, after which they are carved from the malloc heaps, where freed ones stay
//   resident in the holes between live allocations. Peak RSS: serving 4 peers 186 -> 165 MB,
//   receiving a peer transfer 132-138 -> 120 MB, 8 clients of one blob 152-158 -> 138-153 MB,
//   the largest of 20 agents 194-196 -> 179 MB; CPU per GB unchanged (the buffers are reused,
//   so a fresh mapping's page faults are rare);
// - a 1 MiB young generation: the transfer buffers are pooled and lent (src/util/lent.ts), so
//   what dies young is Node's 64 KiB socket reads, each copied at once; the more often they are
//   collected, the fewer wait in the malloc heap. 8 -> 2 MiB took a cold pull's peak RSS about
//   10 MB lower; 2 -> 1 MiB 5 MB more (cold pull 137-138 -> 128-135 MB, peer transfer's receiver
//   138 -> 132-133 MB, CPU per GB the same or lower, two alternating runs of each). An 8 MiB one
//   was chosen when the transfer buffers themselves were fresh and lived a while: with 1 MiB they
//   were promoted, and a cold pull paid full mark-compacts (11 CPU s/GB instead of 8);
// - WebAssembly stays on V8's baseline compiler: the only wasm is undici's HTTP parser, which
//   skips over body bytes whatever the tier, and its optimizing compile of llhttp took ~0.3 CPU s
//   and 27–36 MB of compiler memory on a background thread in the first pull of every process
//   (kept by malloc afterwards). Cold pull: peak RSS 176–183 -> 149–155 MB, 6.3–8.1 -> 5.1–6.1
//   CPU s/GB.
const { runCli } = await import('../dist/bundle/layerd.js')
await runCli(process.argv)
