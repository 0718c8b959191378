#!/usr/bin/env bash
# The chart test (CTest's ChartCheck): installs helm and kubernetes-models into
# BUILD_DIR/tools/chart when they are not there yet (tests/charts/install_tools.sh), then runs
# tests/charts/check_chart.py, which lints and renders charts/sluice with the real helm and
# validates what it renders. Fails, never skips, when a tool cannot be installed.
#
#   tests/charts/chart_test.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD_DIR=${1:-build}
TOOLS=$BUILD_DIR/tools/chart
if ! HELM=$(tests/charts/install_tools.sh "$TOOLS"); then
  echo "FAIL: could not install helm and kubernetes-models into $TOOLS (see above)" >&2
  exit 1
fi
exec python3 tests/charts/check_chart.py --helm="$HELM" --node-modules="$(cd "$TOOLS" && pwd)/node_modules" charts/sluice
