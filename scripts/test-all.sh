#!/usr/bin/env bash
# Run the whole layerd test suite on a fresh Debian 12 machine, as root:
#   1. install the real components the integration tests drive (skipped when already there),
#   2. npm ci (which also builds through the `prepare` script),
#   3. npm test (tsc build + node --test over dist/test/**/*.test.js, one file at a time; on
#      Node 20, which has no --test globs, the same command with the file list expanded here).
#
# Root is needed: the tests start docker-registry, containerd and dockerd, pull with podman, and create network
# namespaces. They only ever talk to loopback or to namespaces they create themselves.
#
# Knobs (environment):
#   LAYERD_TEST_SKIP_INSTALL=1   never run apt-get (fail if something is missing)
#   LAYERD_TEST_SKIP_NPM_CI=1    reuse the existing node_modules (local runs)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO_ROOT="$(pwd)"
START=$(date +%s)

say() { printf '\n==> %s\n' "$*"; }
die() { printf '\nERROR: %s\n' "$*" >&2; exit 1; }

say "layerd test suite in ${REPO_ROOT}"

if [ "$(id -u)" -ne 0 ]; then
  die "run as root (the integration tests start containerd/dockerd and create network namespaces)"
fi

# --- 1. System packages ---------------------------------------------------------------------
PACKAGES=(docker-registry skopeo containerd docker.io podman apache2-utils jq iproute2 ca-certificates chromium util-linux)
# binary -> what provides it (for the message)
BINARIES=(docker-registry skopeo containerd ctr dockerd /usr/bin/docker podman htpasswd jq ip tc openssl tar gzip chromium script)

missing=()
for b in "${BINARIES[@]}"; do
  command -v "$b" >/dev/null 2>&1 || missing+=("$b")
done

if [ "${#missing[@]}" -eq 0 ]; then
  say "System packages: all tools present, skipping apt-get"
elif [ "${LAYERD_TEST_SKIP_INSTALL:-0}" = "1" ]; then
  die "missing tools: ${missing[*]} (and LAYERD_TEST_SKIP_INSTALL=1)"
else
  command -v apt-get >/dev/null 2>&1 || die "missing tools: ${missing[*]}, and no apt-get (Debian 12 expected)"
  say "System packages: missing ${missing[*]}; installing ${PACKAGES[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Keep the packages' services (registry on :5000, containerd, dockerd) from starting by
  # themselves during the install: the tests start their own instances.
  POLICY=/usr/sbin/policy-rc.d
  added_policy=0
  if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$POLICY"
    chmod 755 "$POLICY"
    added_policy=1
  fi
  cleanup_policy() { if [ "$added_policy" = "1" ]; then rm -f "$POLICY"; fi; }
  trap cleanup_policy EXIT
  say "apt-get update"
  apt-get update
  say "apt-get install"
  apt-get install -y --no-install-recommends "${PACKAGES[@]}"
  cleanup_policy
  trap - EXIT
  for b in "${BINARIES[@]}"; do
    command -v "$b" >/dev/null 2>&1 || die "still missing after install: $b"
  done
fi

# --- 2. Node ----------------------------------------------------------------------------------
command -v node >/dev/null 2>&1 || die "node is not installed (Node >= 20.18.1 required)"
command -v npm >/dev/null 2>&1 || die "npm is not installed"
node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a<20||(a===20&&b<18)) { console.error("Node >= 20.18.1 required, found "+process.versions.node); process.exit(1) }' \
  || die "Node too old"

say "Versions"
echo "node       $(node --version), npm $(npm --version)"
echo "registry   $(docker-registry --version 2>&1 | head -n1)"
echo "skopeo     $(skopeo --version 2>&1 | head -n1)"
echo "containerd $(containerd --version 2>&1 | head -n1)"
echo "dockerd    $(dockerd --version 2>&1 | head -n1)"
echo "podman     $(podman --version 2>&1 | head -n1)"
echo "chromium   $(chromium --version 2>/dev/null | head -n1)"
echo "kernel     $(uname -r)"

if [ "${LAYERD_TEST_SKIP_NPM_CI:-0}" = "1" ]; then
  say "npm ci: skipped (LAYERD_TEST_SKIP_NPM_CI=1)"
else
  say "npm ci (installs node_modules and builds with tsc through 'prepare')"
  npm ci --no-audit --no-fund
fi

# --- 3. Tests ---------------------------------------------------------------------------------
# `npm test` is `npm run build && node --test ... 'dist/test/**/*.test.js'`, but Node 20's test
# runner does not expand glob patterns (Node 21+ does): on Node 20 we run the same thing with the
# file list expanded here.
status=0
say "npm test (fresh tsc build, then node --test over dist/test/**/*.test.js)"
npm test || status=$?

END=$(date +%s)
if [ "$status" -eq 0 ]; then
  say "All tests passed in $((END - START)) s"
else
  say "Tests FAILED (exit ${status}) after $((END - START)) s"
fi
exit "$status"
