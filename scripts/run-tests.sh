#!/usr/bin/env bash
# Build and run the test suite: `npm test` calls this. Node 20 has no --test globs, so the list of
# compiled test files is made here. Arguments narrow the run: `npm test -- unit` runs dist/test/unit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rm -rf dist
npm run --silent build   # tsc, then the bundle bin/layerd.js runs
dir="dist/test/${1:-}"
mapfile -t files < <(find "$dir" -type f -name '*.test.js' | LC_ALL=C sort)
[ "${#files[@]}" -gt 0 ] || { echo "no test files under $dir" >&2; exit 1; }
exec node --test --test-concurrency=1 --test-timeout=600000 "${files[@]}"
