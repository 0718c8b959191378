#!/usr/bin/env bash
# Compiles the dashboard's stylesheet with Tailwind CSS's own CLI
# (@tailwindcss/cli, the version package-lock.json pins), from tailwind.css and
# the classes index.html and dashboard.js use:
#
#   server/ops/web/build_css.sh [OUT] [TOOLS_DIR]
#
# OUT defaults to server/ops/web/dashboard.css, the copy the coordinator embeds
# (run this after changing the page's classes, and commit the result);
# TOOLS_DIR, where npm installs the compiler, to build/tools/tailwind. The
# install is `npm ci` from the lock (idempotent: skipped when TOOLS_DIR holds
# what the lock installs), needs no stdin, and installs Node.js and npm from
# Debian's packages when they are absent. Exits non-zero with the reason when
# anything cannot be done.
set -euo pipefail
cd "$(dirname "$0")/../../.."
ROOT=$PWD
SRC=$ROOT/server/ops/web
OUT=${1:-$SRC/dashboard.css}
DIR=${2:-$ROOT/build/tools/tailwind}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)

die() { echo "build_css: error: $*" >&2; exit 1; }

want=$(cat "$SRC/package.json" "$SRC/package-lock.json" | sha256sum | cut -d' ' -f1)
CLI=$DIR/node_modules/.bin/tailwindcss
installed() { [ -x "$CLI" ] && [ -f "$DIR/.installed" ] && [ "$(cat "$DIR/.installed")" = "$want" ]; }

exec 9>"$DIR/.lock"  # one install at a time per directory
flock -w 900 9 || die "timed out waiting for another install into $DIR"
if ! installed; then
  if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    echo "build_css: installing Node.js and npm (Debian packages)" >&2
    { DEBIAN_FRONTEND=noninteractive $SUDO apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm; } \
      </dev/null >&2 || die "could not install Node.js and npm with apt-get"
  fi
  cp "$SRC/package.json" "$SRC/package-lock.json" "$DIR/"
  if ! (cd "$DIR" && CI=true timeout 600 npm ci --no-audit --no-fund --loglevel=error </dev/null >&2); then
    die "'npm ci' of @tailwindcss/cli failed in $DIR (is npm's registry reachable?)"
  fi
  echo "$want" >"$DIR/.installed"
fi

# The compiler resolves @import "tailwindcss" from the input's directory
# upwards: compile a copy of the sources placed under the install.
WORK=$DIR/src
rm -rf "$WORK"
mkdir -p "$WORK"
cp "$SRC/tailwind.css" "$SRC/index.html" "$SRC/dashboard.js" "$WORK/"
(cd "$WORK" && "$CLI" --input tailwind.css --output "$WORK/dashboard.css" --minify </dev/null) \
  >/dev/null 2>"$WORK/tailwind.log" || { cat "$WORK/tailwind.log" >&2; die "tailwindcss failed"; }
[ -s "$WORK/dashboard.css" ] || die "tailwindcss wrote no CSS"
mkdir -p "$(dirname "$OUT")"
cp "$WORK/dashboard.css" "$OUT.tmp" && mv "$OUT.tmp" "$OUT"
echo "$OUT"
