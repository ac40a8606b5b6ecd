# Timing a whole process for the benchmark scripts (sourced, not run). The caller sets $work (a
# scratch directory) and RUNS (default 3).

# measure CMD...: the best wall seconds of RUNS runs of CMD (stdout discarded, stderr kept in
# $work/stderr, exit status ignored) and the largest peak RSS in KB, from /usr/bin/time -v's
# fields: sets $secs and $rss_kb, and $cpu, the least CPU seconds (user + system) of the runs,
# which a loaded machine disturbs less than wall time.
measure() {
  local best="" peak=0 least=""
  for _ in $(seq 1 "${RUNS:-3}"); do
    /usr/bin/time -v -o "$work/time" "$@" >/dev/null 2>"$work/stderr" || true
    local wall rss used
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$work/time")
    rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/time")
    used=$(awk -F': ' '/(User|System) time \(seconds\)/ { s += $2 } END { print s }' "$work/time")
    if [ -z "$best" ] || awk -v a="$wall" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$wall; fi
    if [ -z "$least" ] || awk -v a="$used" -v b="$least" 'BEGIN { exit !(a < b) }'; then least=$used; fi
    ((rss > peak)) && peak=$rss
  done
  cpu=$(awk -v s="$least" 'BEGIN { print (s < 0.01) ? 0.01 : s }')
  # /usr/bin/time counts in hundredths: a run below that counts as 0.01 s (a floor, not a ratio of infinity).
  secs=$(awk -v s="$best" 'BEGIN { print (s < 0.01) ? 0.01 : s }')
  rss_kb=$peak
}
