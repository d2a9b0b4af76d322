#!/usr/bin/env bash
# bench/check.sh - the performance regression gate (`make bench-check`, run by .ci/run).
# Counts, not times, so it is deterministic on a busy machine:
#   parser_ir     userspace instructions per request of the head parser alone
#                 (build/bench_parser under callgrind, --toggle-collect=bench_parse_all)
#   h1_ir         userspace instructions per request of the whole build/demo --bare process,
#                 one worker, under callgrind, with `h2load --h1 -n N -c 1` (HTTP/1.1
#                 keep-alive): (Ir(N requests) - Ir(0 requests)) / N
#   h10_ir        the same with `ab -k -n N -c 1` (HTTP/1.0 keep-alive)
#   h1_sys        syscalls per request of build/demo --bare (strace -c -f attached after
#   h10_sys       startup) under h2load --h1 / ab -k, N requests, one connection;
#                 rt_sigtimedwait is left out (the main thread wakes every 100 ms: time,
#                 not requests)
# One connection (-c 1): every request is its own epoll_wait/read/write round, so the counts
# do not depend on how the scheduler batches events (with -c 8 they move by ~0.2 %).
# Compares each figure with bench/baseline.json and exits 1 if any is more than
# BENCH_CHECK_TOLERANCE (3) % above it. BENCH_CHECK_UPDATE=1 rewrites the baseline instead.
# Needs valgrind, strace, h2load (nghttp2-client), ab (apache2-utils); `make bench-check`
# installs them (bench/deps.sh). About 30-40 s.
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
DEMO=${DEMO:-$ROOT/build/demo}
PARSER=${BENCH_PARSER:-$ROOT/build/bench_parser}
BASELINE=${BENCH_BASELINE:-$ROOT/bench/baseline.json}
TOL=${BENCH_CHECK_TOLERANCE:-3}
N=${BENCH_CHECK_N:-20000}          # requests per callgrind run
SN=${BENCH_CHECK_SYS_N:-10000}     # requests per strace run
PN=${BENCH_CHECK_PARSER_N:-2000}   # passes over bench_parser's 5 requests
SRV_CPU=${BENCH_SRV_CPU:-0}
LG_CPU=${BENCH_LG_CPU:-1}
[ "$(nproc)" -lt 2 ] && LG_CPU=$SRV_CPU      # one CPU: counts do not care, both on it
HZ=$(getconf CLK_TCK)
NEXT_PORT=$((24000 + ($$ % 200) * 20))

for t in valgrind strace h2load ab taskset; do
    command -v "$t" >/dev/null 2>&1 || { echo "check.sh: missing tool: $t (bench/deps.sh installs it)" >&2; exit 2; }
done
for b in "$DEMO" "$PARSER"; do
    [ -x "$b" ] || { echo "check.sh: $b not built (make bench-check builds it)" >&2; exit 2; }
done
. bench/lib.sh
bench_init httpd-check
declare -A F            # figures

# start_demo KIND(run|cg) TAG: sets DPID, DPORT
start_demo() {
    local pre=() i
    pick_port
    DPORT=$PORT
    DLOG=$T/demo.$2.log
    [ "$1" = cg ] && pre=(valgrind --tool=callgrind "--callgrind-out-file=$T/cg.$2.out")
    taskset -c "$SRV_CPU" "${pre[@]}" "$DEMO" --host 127.0.0.1 --port "$DPORT" --workers 1 --bare \
        >"$DLOG" 2>&1 &
    DPID=$!
    STARTED+=("$DPID")
    for ((i = 0; i < 300; i++)); do
        grep -q "httpd: listening on 127.0.0.1:$DPORT" "$DLOG" && break
        alive "$DPID" || break
        sleep 0.1
    done
    grep -q "httpd: listening on 127.0.0.1:$DPORT" "$DLOG" ||
        { echo "check.sh: demo did not start: $(tail -c 300 "$DLOG")" >&2; exit 2; }
    [ "$1" = cg ] && sleep 0.3
    return 0
}
# load TOOL COUNT: exactly COUNT keep-alive requests over one connection; prints the 200s
load() {
    local out url=http://127.0.0.1:$DPORT/
    if [ "$1" = h2load ]; then
        out=$(taskset -c "$LG_CPU" timeout -s KILL 120 h2load --h1 -n "$2" -c 1 "$url" 2>&1)
        sed -n 's/^status codes: \([0-9]*\) 2xx.*/\1/p' <<<"$out"
    else
        out=$(taskset -c "$LG_CPU" timeout -s KILL 120 ab -q -k -n "$2" -c 1 "$url" 2>&1)
        awk '/^Complete requests:/ { c = $3 } /^Failed requests:/ { f = $3 }
             /^Non-2xx responses:/ { f += $3 } END { print (f ? 0 : c) }' <<<"$out"
    fi
}
ir_of() { awk '/^totals:/ { print $2; exit }' "$1" 2>/dev/null; }
die() { echo "check.sh: $*" >&2; exit 2; }

# ---- the parser alone ----
valgrind --tool=callgrind --toggle-collect=bench_parse_all --callgrind-out-file="$T/cg.parser.out" \
    "$PARSER" "$PN" >"$T/parser.log" 2>&1 || die "bench_parser failed: $(tail -c 300 "$T/parser.log")"
ir=$(ir_of "$T/cg.parser.out")
F[parser_ir]=$(calc "$ir / ($PN * 5)")

# ---- the whole server under callgrind: 0 requests, then N with each client ----
start_demo cg idle
stop_pid demo "$DPID" 300
ir0=$(ir_of "$T/cg.idle.out")
[ -n "$ir0" ] || die "no callgrind totals for the idle run"
for tool in h2load ab; do
    start_demo cg "$tool"
    ok=$(load "$tool" "$N")
    stop_pid demo "$DPID" 300
    [ "$ok" = "$N" ] || die "$tool: ${ok:-0} of $N requests got a 200"
    ir=$(ir_of "$T/cg.$tool.out")
    [ -n "$ir" ] || die "no callgrind totals for the $tool run"
    k=h1_ir; [ "$tool" = ab ] && k=h10_ir
    F[$k]=$(calc "($ir - $ir0) / $N")
done

# ---- syscalls per request: strace attached after startup and a warm-up ----
for tool in h2load ab; do
    start_demo run "sys.$tool"
    load "$tool" 200 >/dev/null
    taskset -c "$LG_CPU" strace -c -f -o "$T/strace.$tool.txt" -p "$DPID" 2>"$T/strace.$tool.err" &
    sp=$!
    STARTED+=("$sp")
    for ((i = 0; i < 50; i++)); do grep -q attached "$T/strace.$tool.err" && break; sleep 0.1; done
    sleep 0.3
    ok=$(load "$tool" "$SN")
    kill -INT "$sp" 2>/dev/null
    reap "$sp" 100
    stop_pid demo "$DPID" 100
    [ "$ok" = "$SN" ] || die "strace $tool: ${ok:-0} of $SN requests got a 200"
    calls=$(awk '$NF == "total" { t = $4 } $NF == "rt_sigtimedwait" { s = $4 }
                 END { print t - s }' "$T/strace.$tool.txt")
    k=h1_sys; [ "$tool" = ab ] && k=h10_sys
    F[$k]=$(calc "$calls / $SN")
    F[$k.detail]=$(awk 'NR > 2 && $1 !~ /^-/ && $NF != "total" && $NF != "rt_sigtimedwait" {
        printf "%s%s=%s", sep, $NF, $4; sep = " " }' "$T/strace.$tool.txt")
done

# ---- compare ----
KEYS="parser_ir h1_ir h10_ir h1_sys h10_sys"
declare -A DESC=([parser_ir]="parser alone, instructions/request"
    [h1_ir]="HTTP/1.1 h2load --h1, instructions/request"
    [h10_ir]="HTTP/1.0 ab -k, instructions/request"
    [h1_sys]="HTTP/1.1 h2load --h1, syscalls/request"
    [h10_sys]="HTTP/1.0 ab -k, syscalls/request")
base() { sed -n "s/^ *\"$1\": *\([0-9.]*\).*/\1/p" "$BASELINE" 2>/dev/null; }
if [ "${BENCH_CHECK_UPDATE:-0}" = 1 ]; then
    {
        echo "{"
        echo "  \"_what\": \"bench/check.sh figures; regenerate with BENCH_CHECK_UPDATE=1 make bench-check\","
        echo "  \"_machine\": \"$(uname -m), $(cc --version | head -1), valgrind $(valgrind --version | sed 's/valgrind-//')\","
        sep=""
        for k in $KEYS; do
            printf '%s  "%s": %.3f' "$sep" "$k" "${F[$k]}"
            sep=$',\n'
        done
        printf '\n}\n'
    } >"$BASELINE"
    echo "check.sh: wrote $BASELINE"
fi
fail=0
printf '%-44s %12s %12s %9s\n' "figure (lower is better)" "now" "baseline" "delta"
for k in $KEYS; do
    b=$(base "$k")
    v=${F[$k]}
    if [ -z "$b" ]; then
        printf '%-44s %12.3f %12s %9s\n' "${DESC[$k]}" "$v" "-" "-"
        fail=1
        continue
    fi
    d=$(calc "($v - $b) * 100 / $b")
    flag=""
    if awk -v d="$d" -v t="$TOL" 'BEGIN { exit !(d > t) }'; then flag="  REGRESSION (> +$TOL %)"; fail=1; fi
    if awk -v d="$d" -v t="$TOL" 'BEGIN { exit !(d < -t) }'; then flag="  better: update the baseline"; fi
    printf '%-44s %12.3f %12.3f %+8.2f%%%s\n' "${DESC[$k]}" "$v" "$b" "$d" "$flag"
done
echo "syscalls per $SN requests: h2load: ${F[h1_sys.detail]}"
echo "                           ab -k:  ${F[h10_sys.detail]}"
echo "($N requests per callgrind run, one connection; $(nproc) CPUs; ${SECONDS} s)"
if [ $fail -ne 0 ]; then
    [ -f "$BASELINE" ] || echo "check.sh: no baseline $BASELINE (BENCH_CHECK_UPDATE=1 writes one)" >&2
    echo "bench-check: FAILED: a figure is more than $TOL % above bench/baseline.json" >&2
    exit 1
fi
echo "bench-check: ok (every figure within +$TOL % of bench/baseline.json)"
