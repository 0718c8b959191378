# Shared by the bench scripts (queue_anchor.sh, decision_anchor.sh, decision_ab.sh,
# decision_costs.sh):
# sourced, not run.

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
say() { echo "==> $*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# require_positive_ints "what the values are" VALUE...: exits 2 unless every
# value is a positive integer.
require_positive_ints() {
  local what=$1
  shift
  for n in "$@"; do
    [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "$what must be positive integers" >&2; exit 2; }
  done
}

# apt_install PACKAGE...: Debian packages, quietly, with sudo when not root.
apt_install() {
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# stop_on_exit: on exit (or INT/TERM), every process in the caller's PIDS
# array gets SIGTERM and is waited for, and the throwaway PostgreSQL cluster
# in $PG (if set) is stopped; the exit status is kept. The caller declares
# PIDS=() and PG="" and appends to them.
stop_on_exit() {
  trap _stop_on_exit EXIT
  trap 'exit 130' INT TERM
}
_stop_on_exit() {
  local rc=$?
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ -n "$PG" ]; then "$ROOT/scripts/pg_throwaway.sh" stop "$PG" >/dev/null || true; fi
  exit "$rc"
}
