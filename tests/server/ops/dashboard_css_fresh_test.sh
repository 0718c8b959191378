#!/usr/bin/env bash
# The stylesheet the coordinator embeds (server/ops/web/dashboard.css, checked
# in) must be what the pinned @tailwindcss/cli compiles now from the page's
# classes: a class added to index.html or dashboard.js without recompiling
# would be silently unstyled.
#
#   tests/server/ops/dashboard_css_fresh_test.sh BUILD_DIR
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
BUILD=${1:?usage: $0 BUILD_DIR}
FRESH=$BUILD/dashboard/dashboard.fresh.css
"$ROOT/server/ops/web/build_css.sh" "$FRESH" "$BUILD/tools/tailwind" >/dev/null
if ! cmp -s "$FRESH" "$ROOT/server/ops/web/dashboard.css"; then
  echo "server/ops/web/dashboard.css is stale: run server/ops/web/build_css.sh and commit it" >&2
  diff <(tr '}' '\n' <"$ROOT/server/ops/web/dashboard.css") <(tr '}' '\n' <"$FRESH") | head -20 >&2
  exit 1
fi
echo "dashboard.css matches a fresh compile ($(wc -c <"$FRESH") bytes)"
