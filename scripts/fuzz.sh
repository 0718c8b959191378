#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang, AddressSanitizer and
# UndefinedBehaviorSanitizer into build-fuzz/ (override with FUZZ_BUILD_DIR),
# then runs each for FUZZ_SECONDS (default 20) over a copy of its seed corpus
# in build-fuzz/fuzz-runs/<target>/ (FUZZ_RUNS_DIR; the repository's corpus is
# only read), after replaying the inputs of tests/fuzz/regressions/<target>/
# (what the targets once found). Prints the executions per target; exits
# non-zero if any target crashed, leaked, timed out or reported
# undefined behaviour (the reproducer and the log are left in its run
# directory). FUZZ_ARGS adds libFuzzer flags, e.g. "-max_len=65536".
#
#   scripts/fuzz.sh                                   # CI's short run, every target
#   FUZZ_SECONDS=3600 scripts/fuzz.sh                 # a long run
#   FUZZ_SECONDS=600 scripts/fuzz.sh fuzz_http_date   # only the targets named
#   FUZZ_BUILD_ONLY=1 scripts/fuzz.sh                 # build, run nothing
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD_DIR=${FUZZ_BUILD_DIR:-build-fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-20}
RUNS_DIR=${FUZZ_RUNS_DIR:-$BUILD_DIR/fuzz-runs}

if (($#)); then
  TARGETS=("$@")
else
  TARGETS=()
  for f in tests/fuzz/fuzz_*.cc; do TARGETS+=("$(basename "$f" .cc)"); done
fi

# -O1 and line tables keep the sanitizers' reports readable and the build
# short; no NDEBUG, so assertions in the code and its libraries stay on.
FLAGS="-O1 -gline-tables-only -fno-omit-frame-pointer"
FLAGS+=" -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all"
LAUNCHER=()
if command -v ccache >/dev/null; then
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
  LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
echo "==> building the fuzz targets in $BUILD_DIR"
start=$(date +%s)
CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Fuzz \
  -DCMAKE_CXX_FLAGS="$FLAGS" -DSLUICE_BUILD_FUZZERS=ON -DSLUICE_BUILD_TESTS=OFF \
  -DSLUICE_BUILD_BENCH=OFF "${LAUNCHER[@]}" >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)" --target "${TARGETS[@]}"
echo "==> built in $(($(date +%s) - start)) s"
[ -n "${FUZZ_BUILD_ONLY:-}" ] && exit 0

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
failed=()
summary=()
for t in "${TARGETS[@]}"; do
  run=$RUNS_DIR/$t
  rm -rf "$run"
  mkdir -p "$run/corpus"
  if [ -d "tests/fuzz/corpus/$t" ]; then cp -R "tests/fuzz/corpus/$t/." "$run/corpus/"; fi
  args=(-max_total_time="$SECONDS_EACH" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048
    -artifact_prefix="$run/")
  if [ -f "tests/fuzz/$t.dict" ]; then args+=(-dict="$ROOT/tests/fuzz/$t.dict"); fi
  if [ -n "${FUZZ_ARGS:-}" ]; then read -r -a extra <<<"$FUZZ_ARGS" && args+=("${extra[@]}"); fi
  rc=0
  # Past findings first: each input run once (they may be larger than the
  # run's max_len, so they are not part of the corpus).
  regressions=()
  if [ -d "tests/fuzz/regressions/$t" ]; then
    mapfile -t regressions < <(find "tests/fuzz/regressions/$t" -type f | sort)
  fi
  if ((${#regressions[@]})); then
    echo "==> $t: replaying ${#regressions[@]} past finding(s)"
    "$BUILD_DIR/tests/fuzz/$t" "${regressions[@]}" >"$run/regressions.log" 2>&1 || rc=$?
    if ((rc != 0)); then
      failed+=("$t")
      summary+=("$(printf '%-26s FAILED a past finding (exit %d): see %s/regressions.log' "$t" "$rc" "$run")")
      tail -n 60 "$run/regressions.log"
      continue
    fi
  fi
  echo "==> $t: ${SECONDS_EACH} s over $(find "$run/corpus" -type f | wc -l) seed(s)"
  "$BUILD_DIR/tests/fuzz/$t" "${args[@]}" "$run/corpus" >"$run/log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$run/log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$run/log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$run/log" | tail -1 | cut -d' ' -f2)
  units=$(find "$run/corpus" -type f | wc -l)
  if ((rc != 0)); then
    failed+=("$t")
    summary+=("$(printf '%-26s FAILED (exit %d): see %s/log' "$t" "$rc" "$run")")
    echo "--- $t failed (exit $rc); the end of its log:"
    tail -n 60 "$run/log"
    ls "$run"/crash-* "$run"/leak-* "$run"/timeout-* "$run"/oom-* 2>/dev/null || true
  else
    summary+=("$(printf '%-26s %12s execs %8s/s  cov %6s  corpus %5s' "$t" "${execs:-?}" \
      "${rate:-?}" "${cov:-?}" "$units")")
  fi
done

echo "==> fuzzing summary (${SECONDS_EACH} s per target)"
printf '%s\n' "${summary[@]}"
if ((${#failed[@]})); then
  echo "==> FAILED: ${failed[*]}"
  exit 1
fi
