#!/usr/bin/env bash
# Installs what Sluice needs to build, test and run the demo, from Debian's
# packages only. Idempotent: does nothing when everything is present.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config git ca-certificates curl python3 python3-yaml procps
  unzip  # tests/charts/install_tools.sh: helm comes zipped inside an npm package
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler grpc-proto
  libpqxx-dev libgoogle-glog-dev libgflags-dev libgtest-dev libgmock-dev
  libcurl4-openssl-dev nlohmann-json3-dev libcpp-httplib-dev
  libsodium-dev  # credential digests, the encryption of stored ESI tokens
  prometheus-cpp-dev  # metrics registry, histograms and the text format (core library only)
  prometheus  # promtool: the metrics tests check /metrics with `promtool check metrics`
  postgresql
  clang libclang-rt-14-dev  # scripts/fuzz.sh: libFuzzer and the sanitizers' runtimes
  chromium  # the dashboard's test drives it headless (tests/server/ops/dashboard_browser_test.py)
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "==> installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
