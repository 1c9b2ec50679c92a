// Bundle the compiled agent (dist/src, from tsc) into dist/bundle/: one module for the CLI and
// agent, one for the data thread. bin/layerd.js runs the bundle.
//
// Why: every module V8 loads keeps its source text on the heap (functions compile lazily from
// it), and module loading itself leaves malloc'd memory behind. Unbundled, an agent loads
// ~1,460 files, 7.2 MB of source, mostly comments and whitespace of its dependencies; bundled
// with whitespace and syntax minified it is one file of 3.7 MB. Measured: an agent just started
// 103 -> 87 MB RSS; peak RSS of a cold pull 158 -> 140 MB. Mangled identifiers as well (2.8 MB)
// measured 96 MB, so identifiers are kept, and stack traces in logs still name the functions;
// the source map (read only when node runs with --enable-source-maps) maps them to src/.
import { build } from 'esbuild'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))

await build({
  absWorkingDir: root,
  entryPoints: {
    layerd: 'dist/src/cli/main.js',
    // src/thread/data-thread.ts starts it as new URL('./data-thread-worker.js', import.meta.url).
    'data-thread-worker': 'dist/src/thread/data-thread-worker.js'
  },
  outdir: 'dist/bundle',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  sourcesContent: false,
  // A native addon finds its prebuilt binary relative to its own package directory.
  external: ['classic-level'],
  // Dependencies that are CommonJS call require(); an ES module has none of its own.
  banner: { js: "import { createRequire as __layerdRequire } from 'node:module'; const require = __layerdRequire(import.meta.url);" },
  logLevel: 'warning'
})
