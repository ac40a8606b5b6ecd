# shellcheck shell=bash disable=SC2034,SC2154
# (SC2034, SC2154: the variables this file sets are for the script that sources it, and the ones it
# reads, such as $work, that script sets.)
# Starting and stopping kubesim clusters from the benchmark and reliability scripts (sourced, not
# run). The caller sets KUBESIM (the kubesim binary) and calls kubesim_setup once: it makes a work
# directory ($work) and a trap that stops every cluster started here and removes $work on exit.
# Everything binds 127.0.0.1.

kubesim_pids=()

# kubesim_setup: creates $work and installs the cleanup trap.
kubesim_setup() {
  work=$(mktemp -d)
  trap kubesim_cleanup EXIT
}

# kubesim_cleanup: stops every cluster still running, then removes $work.
kubesim_cleanup() {
  local pid
  for pid in "${kubesim_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${kubesim_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}

# kubesim_start DIR NODES [kubesim flags...]: starts a cluster whose state (kubeconfigs, tokens,
# CAs, truth.json) goes to DIR, waits up to 60 s for its `ready URL` line, and sets $api (the API
# server's URL), $kubesim_pid and $kubesim_ready_secs.
kubesim_start() {
  local dir=$1 nodes=$2
  shift 2
  mkdir -p "$dir"
  local started
  started=$(date +%s.%N)
  "$KUBESIM" --nodes "$nodes" --state-dir "$dir" "$@" >"$dir/stdout" 2>"$dir/stderr" &
  kubesim_pid=$!
  kubesim_pids+=("$kubesim_pid")
  local _
  for _ in $(seq 1 1200); do
    grep -q '^ready ' "$dir/stdout" 2>/dev/null && break
    kill -0 "$kubesim_pid" 2>/dev/null || break
    sleep 0.05
  done
  if ! grep -q '^ready ' "$dir/stdout" 2>/dev/null; then
    echo "kubesim did not start:" >&2
    cat "$dir/stderr" >&2
    exit 1
  fi
  api=$(awk '/^ready /{print $2}' "$dir/stdout")
  kubesim_ready_secs=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
}

# kubesim_stop PID: stops one cluster and waits for it.
kubesim_stop() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# kubesim_api DIR PID stop|start: stops or starts the cluster's API server (SIGUSR1 / SIGUSR2; its
# kubelets keep serving) and waits for kubesim to confirm it.
kubesim_api() {
  local dir=$1 pid=$2 action=$3 signal word
  case $action in
    stop) signal=USR1 word=stopped ;;
    start) signal=USR2 word=started ;;
    *) echo "kubesim_api: stop or start, not $action" >&2; return 2 ;;
  esac
  local before now _
  before=$(grep -c "^api-server $word" "$dir/stdout" || true)
  kill -"$signal" "$pid"
  for _ in $(seq 1 200); do
    now=$(grep -c "^api-server $word" "$dir/stdout" || true)
    ((now > before)) && return 0
    sleep 0.05
  done
  echo "kubesim did not confirm: api-server $word" >&2
  return 1
}
