#!/usr/bin/env bash
# Installs the buf CLI the proto checks need into a cache directory (by default
# build/tools/buf; the checks pass their own build directory's):
#
#   DIR/node_modules/.bin/buf   buf, from npm's @bufbuild/buf (its package for this
#                               platform carries the release binary)
#
#   tests/protos/install_buf.sh [DIR]
#
# The version is pinned by tests/protos/tools/package-lock.json (`npm ci`). Idempotent: does
# nothing when DIR already holds what this lock installs. Needs no stdin (CI=true is fine);
# installs Node.js and npm from Debian's packages if they are absent. Prints the path of buf
# last; exits non-zero with the reason when it cannot be installed: the checks then fail, they
# do not skip.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
SRC=$ROOT/tests/protos/tools
DIR=${1:-$ROOT/build/tools/buf}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
BUF=$DIR/node_modules/.bin/buf

say() { echo "install_buf: $*" >&2; }
die() { echo "install_buf: error: $*" >&2; exit 1; }

STAMP=$DIR/.installed
want=$(cat "$SRC/package.json" "$SRC/package-lock.json" | sha256sum | cut -d' ' -f1)
installed() { [ -x "$BUF" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; }
if installed; then
  echo "$BUF"
  exit 0
fi

# One install at a time per directory (the lint and breaking checks may start together).
exec 9>"$DIR/.lock"
flock -w 900 9 || die "timed out waiting for another install into $DIR"
if installed; then
  echo "$BUF"
  exit 0
fi

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
  say "installing Node.js and npm (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends nodejs npm; } \
    </dev/null >&2 || die "could not install Node.js and npm with apt-get"
fi

say "npm ci of tests/protos/tools into $DIR"
cp "$SRC/package.json" "$SRC/package-lock.json" "$DIR/"
if ! (cd "$DIR" && CI=true timeout 900 npm ci --no-audit --no-fund --loglevel=error </dev/null >&2); then
  if ! (cd "$DIR" && timeout 60 npm ping </dev/null >/dev/null 2>&1); then
    die "npm cannot reach its registry ($(npm config get registry 2>/dev/null)); the proto checks need it once to install buf"
  fi
  die "'npm ci' failed in $DIR"
fi
[ -x "$BUF" ] || die "$BUF is missing after npm ci"
version=$("$BUF" --version 2>&1) || die "buf does not run: $version"
say "buf $version"
echo "$want" >"$STAMP"
echo "$BUF"
