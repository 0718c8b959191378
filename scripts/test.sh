#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds, starts a throwaway
# PostgreSQL cluster, runs every CTest suite against it, runs every fuzz
# target briefly (scripts/fuzz.sh), stops the cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

scripts/deps.sh
echo "==> building"
scripts/build.sh

echo "==> starting a throwaway PostgreSQL cluster"
eval "$(scripts/pg_throwaway.sh start)"
trap '"$ROOT/scripts/pg_throwaway.sh" stop "$SLUICE_PGDIR"' EXIT
export SLUICE_PG_ADMIN_DSN

echo "==> running the tests"
(cd "${BUILD_DIR:-build}" && ctest --output-on-failure -j"$(nproc)" --timeout 600 "$@")

# A short run of every fuzz target (README, "Fuzzing"); SKIP_FUZZ=1 skips it.
if [ -z "${SKIP_FUZZ:-}" ]; then
  echo "==> fuzzing"
  scripts/fuzz.sh
fi
