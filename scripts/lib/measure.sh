# shellcheck shell=bash disable=SC2034,SC2154
# (SC2034, SC2154: the variables this file sets are for the script that sources it, and the ones it
# reads, such as $work, that script sets.)
# Timing a whole process for the benchmark scripts (sourced, not run). The caller sets $work (a
# scratch directory) and RUNS (default 3).

# measure CMD...: the best wall seconds of RUNS runs of CMD (stdout discarded, stderr kept in
# $work/stderr, exit status ignored), the best CPU seconds (user + sys, CMD and its children) and
# the largest peak RSS in KB: sets $secs, $cpu_secs and $rss_kb. Times come from bash's `time`
# (milliseconds; /usr/bin/time prints hundredths, too coarse for runs of a tenth of a second),
# the peak RSS from /usr/bin/time -v's field.
measure() {
  local best="" best_cpu="" peak=0 TIMEFORMAT='%3R %3U %3S'
  for _ in $(seq 1 "${RUNS:-3}"); do
    { time /usr/bin/time -v -o "$work/time" "$@" >/dev/null 2>"$work/stderr"; } 2>"$work/times" || true
    local wall cpu rss
    read -r wall cpu < <(awk '{ print $1, $2 + $3 }' "$work/times")
    rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/time")
    if [ -z "$best" ] || awk -v a="$wall" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$wall; fi
    if [ -z "$best_cpu" ] || awk -v a="$cpu" -v b="$best_cpu" 'BEGIN { exit !(a < b) }'; then best_cpu=$cpu; fi
    ((rss > peak)) && peak=$rss
  done
  # A run below a millisecond counts as 0.001 s (a floor, not a ratio of infinity).
  secs=$(awk -v s="$best" 'BEGIN { print (s < 0.001) ? 0.001 : s }')
  cpu_secs=$(awk -v s="$best_cpu" 'BEGIN { print (s < 0.001) ? 0.001 : s }')
  rss_kb=$peak
}

# keep_best KEY CMD...: one run of CMD, as `measure` runs it, folded into the best wall and CPU
# seconds and the largest peak RSS seen so far for KEY (best_secs[KEY], best_cpu[KEY],
# best_rss[KEY]), and into $secs, $cpu_secs, $rss_kb. Called for every command of a comparison in
# turn, round after round, it spreads the machine's slow spells over all of them alike, where
# `measure` would give one command all its runs in a row.
declare -A best_secs best_cpu best_rss
keep_best() {
  local key=$1
  shift
  RUNS=1 measure "$@"
  if [ -z "${best_secs[$key]:-}" ] || awk -v a="$secs" -v b="${best_secs[$key]}" 'BEGIN { exit !(a < b) }'; then
    best_secs[$key]=$secs
  fi
  if [ -z "${best_cpu[$key]:-}" ] || awk -v a="$cpu_secs" -v b="${best_cpu[$key]}" 'BEGIN { exit !(a < b) }'; then
    best_cpu[$key]=$cpu_secs
  fi
  ((rss_kb > ${best_rss[$key]:-0})) && best_rss[$key]=$rss_kb
  secs=${best_secs[$key]} cpu_secs=${best_cpu[$key]} rss_kb=${best_rss[$key]}
}
