#!/usr/bin/env bash
# The wire's checks with buf (protos/buf.yaml says which rules and why):
#
#   tests/protos/buf_check.sh lint BUILD_DIR       buf lint of protos/
#   tests/protos/buf_check.sh breaking BUILD_DIR   buf breaking of protos/ against the
#                                                  previous commit's protos/
#
# "Previous" is SLUICE_BUF_AGAINST if set (a git revision: a CI job on a branch passes the
# merge base with its target), otherwise HEAD~1: in CI, a fresh clone with history whose HEAD
# is the commit under test. The working tree's protos/ is what is checked, so locally the
# uncommitted edits count too. With no earlier commit (a shallow clone, the first commit) or
# no protos/ in it there is nothing to compare: it says so and passes. buf is installed into
# BUILD_DIR/tools/buf by tests/protos/install_buf.sh; failing that, the check fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
what=${1:?usage: buf_check.sh lint|breaking BUILD_DIR}
BUILD_DIR=${2:?usage: buf_check.sh lint|breaking BUILD_DIR}
BUF=$(tests/protos/install_buf.sh "$BUILD_DIR/tools/buf" | tail -n 1)
# buf keeps a cache (modules, git clones) under $XDG_CACHE_HOME or ~/.cache; the build tree
# holds it so the check writes nothing outside.
export BUF_CACHE_DIR=$BUILD_DIR/tools/buf/cache

case "$what" in
  lint)
    (cd protos && "$BUF" lint)
    echo "buf lint: protos/ passes (protos/buf.yaml)"
    ;;
  breaking)
    against=${SLUICE_BUF_AGAINST:-HEAD~1}
    if ! rev=$(git -C "$ROOT" rev-parse --verify --quiet "$against^{commit}"); then
      echo "buf breaking: no earlier commit '$against' in this clone (first commit, or a shallow" \
           "clone): nothing to compare against, so nothing can have broken"
      exit 0
    fi
    if ! git -C "$ROOT" cat-file -e "$rev:protos" 2>/dev/null; then
      echo "buf breaking: commit $rev ($against) has no protos/: nothing to compare against"
      exit 0
    fi
    "$BUF" breaking protos --against "$ROOT/.git#ref=$rev,subdir=protos"
    echo "buf breaking: protos/ is compatible with $against ($rev)"
    ;;
  *)
    echo "usage: buf_check.sh lint|breaking BUILD_DIR" >&2
    exit 2
    ;;
esac
