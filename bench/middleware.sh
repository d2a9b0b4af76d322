#!/usr/bin/env bash
# bench/middleware.sh - what the operations chain costs, build/demo against itself:
#   none     build/demo --bare: no middleware configured (s->mw NULL: the null checks only)
#   default  build/demo --access-log FILE: request ids + the JSON access log (to a file, with
#            the User-Agent and the redacted Authorization fields) + metrics
# 1. server CPU per request on plaintext keep-alive ("Hello, World!", wrk -t1 -c64), both
#    configurations interleaved in the same run, median of BENCH_ROUNDS rounds each;
#    the access log's lines are counted against wrk's requests;
# 2. userspace instructions per request under callgrind (h2load --h1 -n BENCH_CG_N -c 8,
#    the whole process, minus a start-and-stop run without load), as /work-style ipr runs;
# 3. bytes per idle keep-alive connection (bench/idle_conns, BENCH_IDLE_N connections).
# Knobs: BENCH_DUR=5 BENCH_ROUNDS=5 BENCH_CG_N=20000 BENCH_IDLE_N=10000 BENCH_KEEP=1
#        BENCH_QUIET_PCT=10 BENCH_QUIET_WAIT=30 (before each pair of rounds, wait up to this
#        many seconds for a second in which other processes use under QUIET_PCT % of a CPU)
#        DEMO=build/demo. Server on CPU $BENCH_SRV_CPU (0), load on CPU $BENCH_LG_CPU (1).
# The CPU figure is the median over rounds of each configuration, and the ratio is also
# given as the median of the per-round ratios (none and default run back to back, so a
# busy spell on the machine disturbs both halves of a pair alike).
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
DEMO=${DEMO:-$ROOT/build/demo}
DUR=${BENCH_DUR:-5}
ROUNDS=${BENCH_ROUNDS:-5}
CG_N=${BENCH_CG_N:-20000}
IDLE_N=${BENCH_IDLE_N:-10000}
SRV_CPU=${BENCH_SRV_CPU:-0}
LG_CPU=${BENCH_LG_CPU:-1}
HZ=$(getconf CLK_TCK)
for t in wrk h2load taskset valgrind callgrind_annotate cc; do
    command -v "$t" >/dev/null 2>&1 || { echo "middleware.sh: missing tool: $t" >&2; exit 2; }
done
[ -x "$DEMO" ] || { echo "middleware.sh: $DEMO not built (make build/demo)" >&2; exit 2; }
. bench/lib.sh
bench_init httpd-mw
NEXT_PORT=$((21000 + ($$ % 200) * 20))
declare -A R
CONFIGS="none default"
args_of() {  # config -> the demo's arguments
    case $1 in
    none) echo "--bare" ;;
    default) echo "--access-log $T/access.log --log-flush-ms 1000" ;;
    esac
}
start() {  # config [kind: run|cg TAG]: sets PID, PORT
    local pre=()
    pick_port
    [ "${2:-run}" = cg ] && pre=(valgrind --tool=callgrind "--callgrind-out-file=$T/cg.$1.$3")
    # shellcheck disable=SC2046
    taskset -c "$SRV_CPU" "${pre[@]}" "$DEMO" --host 127.0.0.1 --port "$PORT" --workers 1 \
        $(args_of "$1") >"$T/$1.log" 2>&1 &
    PID=$!
    STARTED+=("$PID")
    local i
    for ((i = 0; i < 300; i++)); do grep -q "listening on 127.0.0.1:$PORT" "$T/$1.log" && break; sleep 0.1; done
    grep -q "listening on" "$T/$1.log" || { note "$1 did not start: $(tail -c 300 "$T/$1.log")"; exit 1; }
    [ "${2:-run}" = cg ] && sleep 0.5
}

# ==== 1. CPU per request, interleaved ====
for c in $CONFIGS; do
    rm -f "$T/access.log"
    start "$c"
    R[$c.pid]=$PID
    R[$c.port]=$PORT
done
wrk_run() {  # config round
    local c=$1 out=$T/wrk.$1.$2 t0 t1 line requests bytes duration_us
    others_snapshot >"$T/others.before"
    t0=$(cpu_ticks "${R[$c.pid]}")
    taskset -c "$LG_CPU" timeout -s KILL $((DUR + 30)) wrk -t1 -c64 "-d${DUR}s" --timeout 5s \
        -s bench/summary.lua "http://127.0.0.1:${R[$c.port]}/" >"$out" 2>&1
    t1=$(cpu_ticks "${R[$c.pid]}")
    others_snapshot >"$T/others.after"
    read -r others _ < <(others_pct "$T/others.before" "$T/others.after" "$DUR")
    line=$(grep '^BENCHSUM' "$out") || { note "$c: wrk failed: $(tail -c 300 "$out")"; return; }
    requests=$(kv requests "$line")
    R[$c.req.$2]=$requests
    R[$c.cpu.$2]=$(calc "($t1 - $t0) * 1e6 / $HZ / $requests")
    R[$c.rps.$2]=$(calc "$requests / ($(kv duration_us "$line") / 1e6)")
    [ "$others" -gt 5 ] && note "round $2 $c: other processes used ${others}% of a CPU"
    [ "$(kv status "$line")" != 0 ] && note "$c: non-2xx responses in round $2"
    log "$(printf '%-8s round %s: %8.0f req/s  server CPU %5.2f us/req  (others %s%%)' \
        "$c" "$2" "${R[$c.rps.$2]}" "${R[$c.cpu.$2]}" "$others")"
}
log "warm-up 1 s each"
for c in $CONFIGS; do
    taskset -c "$LG_CPU" wrk -t1 -c64 -d1s "http://127.0.0.1:${R[$c.port]}/" >/dev/null 2>&1
done
sleep 1.5                                   # the warm-up's lines are out (flush 1 s)
: >"$T/access.log"                          # O_APPEND: the server writes at the new end
QUIET_PCT=${BENCH_QUIET_PCT:-10}
QUIET_WAIT=${BENCH_QUIET_WAIT:-30}
quiet() {  # wait (at most QUIET_WAIT s) for a second with others under QUIET_PCT %
    local t0=$SECONDS pct
    while :; do
        others_snapshot >"$T/q.before"; sleep 1; others_snapshot >"$T/q.after"
        read -r pct _ < <(others_pct "$T/q.before" "$T/q.after" 1)
        [ "$pct" -lt "$QUIET_PCT" ] && return 0
        [ $((SECONDS - t0)) -ge "$QUIET_WAIT" ] && { log "machine busy (${pct}%): going on"; return 0; }
    done
}
for ((r = 1; r <= ROUNDS; r++)); do
    quiet
    for c in $CONFIGS; do wrk_run "$c" "$r"; done
done
metrics=$(curl -s "http://127.0.0.1:${R[default.port]}/metrics")
for c in $CONFIGS; do stop_pid "$c" "${R[$c.pid]}" 300; done
total=0
for ((r = 1; r <= ROUNDS; r++)); do total=$((total + ${R[default.req.$r]:-0})); done
lines=$(wc -l <"$T/access.log")
dropped=$(sed -n 's/^httpd_access_log_dropped_total //p' <<<"$metrics")
# wrk's count plus its warm-up and the requests in flight when each run stopped (<= 64 each)
[ "$lines" -ge "$total" ] && [ "$lines" -le $((total + 64 * ROUNDS)) ] ||
    note "access log: $lines lines for $total counted requests"
log "access log: $lines lines ($(du -h "$T/access.log" | cut -f1)), wrk counted $total; dropped ${dropped:-?}"
rm -f "$T/access.log"
pairs=()
for ((r = 1; r <= ROUNDS; r++)); do
    [ -n "${R[none.cpu.$r]:-}" ] && [ -n "${R[default.cpu.$r]:-}" ] &&
        pairs+=("$(calc "${R[default.cpu.$r]} / ${R[none.cpu.$r]}")")
done
R[pair]=$(median "${pairs[@]}")
R[pair.all]="${pairs[*]}"
for c in $CONFIGS; do
    vals=()
    for ((r = 1; r <= ROUNDS; r++)); do [ -n "${R[$c.cpu.$r]:-}" ] && vals+=("${R[$c.cpu.$r]}"); done
    R[$c.cpu]=$(median "${vals[@]}")
    R[$c.cpu.all]="${vals[*]}"
    vals=()
    for ((r = 1; r <= ROUNDS; r++)); do [ -n "${R[$c.rps.$r]:-}" ] && vals+=("${R[$c.rps.$r]}"); done
    R[$c.rps]=$(median "${vals[@]}")
done

# ==== 2. instructions per request (callgrind) ====
for c in $CONFIGS; do
    rm -f "$T/access.log"
    start "$c" cg idle
    stop_pid "$c-cg" "$PID" 300
    base=$(callgrind_annotate "$T/cg.$c.idle" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
    start "$c" cg load
    taskset -c "$LG_CPU" h2load --h1 -n "$CG_N" -c 8 "http://127.0.0.1:$PORT/" >"$T/h2.$c" 2>&1
    stop_pid "$c-cg" "$PID" 600
    tot=$(callgrind_annotate "$T/cg.$c.load" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
    R[$c.ipr]=$(( (tot - base) / CG_N ))
    grep -q "$CG_N succeeded" "$T/h2.$c" || note "$c: h2load: $(grep -m1 'requests:' "$T/h2.$c")"
    log "$c: $(printf '%d' "${R[$c.ipr]}") instructions/request (h2load --h1 -n $CG_N -c 8)"
done

# ==== 3. bytes per idle connection ====
cc -O2 -Wall -o "$T/idle_conns" bench/idle_conns.c || exit 2
for c in $CONFIGS; do
    rm -f "$T/access.log"
    start "$c"
    taskset -c "$LG_CPU" wrk -t1 -c8 -d1s "http://127.0.0.1:$PORT/" >/dev/null 2>&1   # warm
    sleep 0.5
    before=$(status_kb VmRSS "$PID")
    taskset -c "$LG_CPU" "$T/idle_conns" --port "$PORT" --conns "$IDLE_N" --timeout 40 >"$T/idle.$c" 2>&1 &
    ip=$!
    STARTED+=("$ip")
    for ((i = 0; i < 400; i++)); do grep -qE '^(ready|notready)' "$T/idle.$c" && break; sleep 0.1; done
    sleep 1
    after=$(status_kb VmRSS "$PID")
    R[$c.idle]=$(calc "($after - $before) * 1024 / $IDLE_N")
    grep -q "^ready answered=$IDLE_N failed=0" "$T/idle.$c" || note "$c idle_conns: $(head -2 "$T/idle.$c" | tr '\n' ' ')"
    kill -TERM "$ip" 2>/dev/null
    reap "$ip" 50
    stop_pid "$c" "$PID" 300
    log "$c: $(printf '%.0f' "${R[$c.idle]}") bytes per idle connection"
done

# ==== the table ====
echo
echo "middleware cost, build/demo, 1 worker on CPU $SRV_CPU, load on CPU $LG_CPU ($(date -u +%F))"
printf '%-44s %12s %12s %8s\n' "" none default ratio
printf '%-44s %12.2f %12.2f %8.3f   (rounds: none %s; default %s)\n' "server CPU us/req, keep-alive, wrk -c64" \
    "${R[none.cpu]}" "${R[default.cpu]}" "$(calc "${R[default.cpu]} / ${R[none.cpu]}")" \
    "${R[none.cpu.all]}" "${R[default.cpu.all]}"
printf '%-44s %12s %12s %8.3f   (per round: %s)\n' "  the same, median of the per-round ratios" "" "" \
    "${R[pair]}" "${R[pair.all]}"
printf '%-44s %12.0f %12.0f %8.3f\n' "req/s (median)" "${R[none.rps]}" "${R[default.rps]}" \
    "$(calc "${R[default.rps]} / ${R[none.rps]}")"
printf '%-44s %12d %12d %8.3f\n' "instructions/req (h2load --h1, callgrind)" "${R[none.ipr]}" \
    "${R[default.ipr]}" "$(calc "${R[default.ipr]} / ${R[none.ipr]}")"
printf '%-44s %12.0f %12.0f\n' "bytes per idle keep-alive connection" "${R[none.idle]}" "${R[default.idle]}"
ok=$(calc "${R[pair]} <= 1.10 ? 1 : 0")
echo "target: default <= 1.10 x none server CPU per request (paired median): $([ "$ok" = 1 ] && echo ok || echo MISS)"
for n in "${NOTES[@]+"${NOTES[@]}"}"; do echo "note: $n"; done
