#!/usr/bin/env bash
# bench/quick.sh - httpd.h's build/demo against nginx on loopback, interleaved, one table.
# See bench/README.md. Run as `make bench-quick` (builds build/demo first) or bench/quick.sh.
#
# Knobs (environment): BENCH_SERVERS="demo nginx"  BENCH_DUR=5 (s per wrk run)
#   BENCH_ROUNDS=3 (median of this many CPU runs)  BENCH_CG_N=20000  BENCH_ST_N=20000
#   BENCH_IDLE_N=10000  BENCH_KEEP=1 (keep raw logs)  DEMO=build/demo  NGINX=/usr/sbin/nginx
#   BENCH_BUSY_PCT=5 (flag runs where other processes used more CPU than this)
#   BENCH_WAIT_QUIET=0 (seconds to wait at the start for other load to stop)
# The server runs on CPU $BENCH_SRV_CPU (0), every load generator on CPU $BENCH_LG_CPU (1).
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
DEMO=${DEMO:-$ROOT/build/demo}
NGINX=${NGINX:-/usr/sbin/nginx}
SERVERS=${BENCH_SERVERS:-demo nginx}
DUR=${BENCH_DUR:-5}
WARM=${BENCH_WARM:-1}
ROUNDS=${BENCH_ROUNDS:-3}
CG_N=${BENCH_CG_N:-20000}
ST_N=${BENCH_ST_N:-20000}
IDLE_N=${BENCH_IDLE_N:-10000}
LOAD_CONNS=8        # keep-alive connections for the loadgen-driven callgrind/strace runs
PIPE=16             # requests per write in the pipelined run
SRV_CPU=${BENCH_SRV_CPU:-0}
LG_CPU=${BENCH_LG_CPU:-1}
HZ=$(getconf CLK_TCK)

for t in wrk taskset valgrind strace cc ps "$NGINX"; do   # h2load and ab: optional
    command -v "$t" >/dev/null 2>&1 || { echo "quick.sh: missing tool: $t" >&2; exit 2; }
done
case " $SERVERS " in *" demo "*)
    [ -x "$DEMO" ] || { echo "quick.sh: $DEMO not built (make build/demo), or set BENCH_SERVERS=nginx" >&2; exit 2; }
esac

. bench/lib.sh       # log note alive proc_tree reap cleanup stop_pid cpu_ticks status_kb others_* pick_port calc median nginx_conf
bench_init httpd-bench  # T, STARTED, NOTES, traps
declare -A R        # results, R[server.metric]
declare -A SPID SPORT SLOG
NEXT_PORT=$((20000 + ($$ % 200) * 50))   # pick_port: free loopback ports below the ephemeral range

# ---- nginx config: its own prefix in the temp dir, nothing from /etc/nginx ----
nginx_conf_quick() {  # dir port master(on|off)
    nginx_conf "$1" "$3" 20000 "    default_type text/plain;
    server {
        listen 127.0.0.1:$2 backlog=4096;
        location / { return 200 \"Hello, World!\"; }
    }"
}

# start_server NAME KIND TAG: KIND run (normal) or cg (under callgrind). Sets SPID[NAME], SPORT[NAME].
start_server() {
    local name=$1 kind=$2 tag=$3 pre=() i
    pick_port
    local logf=$T/$name.$tag.log
    [ "$kind" = cg ] && pre=(valgrind --tool=callgrind "--callgrind-out-file=$T/cg.$tag.out")
    if [ "$name" = demo ]; then
        # --bare: no middleware (no request ids, metrics or log), like nginx with access_log off
        taskset -c "$SRV_CPU" "${pre[@]}" "$DEMO" --host 127.0.0.1 --port "$PORT" --workers 1 --bare >"$logf" 2>&1 &
    else
        local d=$T/nginx.$tag
        nginx_conf_quick "$d" "$PORT" "$([ "$kind" = cg ] && echo off || echo on)"
        taskset -c "$SRV_CPU" "${pre[@]}" "$NGINX" -p "$d/" -c "$d/nginx.conf" -e "$d/error.log" >"$logf" 2>&1 &
    fi
    local pid=$!
    STARTED+=("$pid")
    SPID[$name]=$pid
    SPORT[$name]=$PORT
    SLOG[$name]=$logf
    for ((i = 0; i < 300; i++)); do
        port_open "$PORT" && break
        alive "$pid" || break
        sleep 0.1
    done
    if ! port_open "$PORT"; then
        note "$name ($kind) did not start listening on $PORT; log: $(tail -c 400 "$logf" | tr '\n' ' ')"
        return 1
    fi
    if [ "$name" = demo ]; then
        # the port accepts before the demo prints its line and blocks SIGTERM for its
        # sigtimedwait loop: a SIGTERM in between kills it outright, so wait for the line
        for ((i = 0; i < 100; i++)); do
            grep -q "httpd: listening on 127.0.0.1:$PORT" "$logf" && break
            sleep 0.1
        done
        grep -q "httpd: listening on 127.0.0.1:$PORT" "$logf" ||
            note "demo: no 'httpd: listening on 127.0.0.1:$PORT' line on its output 10 s after the port opened"
    fi
    [ "$kind" = cg ] && sleep 0.5    # under valgrind, let startup finish before any SIGTERM
    return 0
}
# stop_server NAME: SIGTERM, wait (30 s: callgrind writes its file), report an odd exit.
stop_server() { stop_pid "$1" "${SPID[$1]}" 300; }
server_ok() {  # $1 name, $2 what was being run
    alive "${SPID[$1]}" && return 0
    note "$1 DIED during/after $2"
    wait "${SPID[$1]}" 2>/dev/null
    note "$1 exit status $? ; log tail: $(tail -c 400 "${SLOG[$1]}" 2>/dev/null | tr '\n' ' ')"
    forget "${SPID[$1]}"
    start_server "$1" run "restart$SECONDS" || exit 1
    return 1
}

# ---- build the load tools ----
cc -O2 -Wall -o "$T/loadgen" bench/loadgen.c || exit 2
cc -O2 -Wall -o "$T/idle_conns" bench/idle_conns.c || exit 2
LOADGEN() { taskset -c "$LG_CPU" timeout -s KILL 200 "$T/loadgen" "$@"; }
log "temp dir $T; servers: $SERVERS; CLK_TCK=$HZ; server on CPU $SRV_CPU, load on CPU $LG_CPU"
h=$(ulimit -Hn); [ "$h" != unlimited ] && [ "$h" -lt 30000 ] && log "nginx worker_rlimit_nofile capped at the hard limit $h (cannot raise)"

BUSY_PCT=${BENCH_BUSY_PCT:-5}   # flag a run when other processes used more than this % of a CPU
BUSY_RUNS=0
top_others() {  # the busiest processes outside this script, for the notes
    awk 'NR == FNR { b[$1] = $2; next } { d = $2 - ($1 in b ? b[$1] : 0); if (d > 0) print d, $1 }' \
        "$T/others.before" "$T/others.after" | sort -rn | head -3 |
        while read -r d p; do printf '%s(%s ticks) ' "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-60)" "$d"; done
}
WAIT_QUIET=${BENCH_WAIT_QUIET:-0}   # seconds to wait for the machine to go quiet first
while :; do
    others_snapshot >"$T/others.before"
    sleep 1
    others_snapshot >"$T/others.after"
    read -r pre _ < <(others_pct "$T/others.before" "$T/others.after" 1)
    [ "$pre" -le "$BUSY_PCT" ] || [ "$SECONDS" -ge "$WAIT_QUIET" ] && break
    log "machine busy (others ${pre}% of a CPU: $(top_others)); waiting (BENCH_WAIT_QUIET=$WAIT_QUIET)"
    sleep 4
done
if [ "$pre" -gt "$BUSY_PCT" ]; then
    note "machine not quiet before the start: other processes used ${pre}% of a CPU: $(top_others)"
fi

# ==== part 1: wrk runs (both servers up, runs interleaved) ====
for s in $SERVERS; do start_server "$s" run main || exit 1; done
declare -A RSIZE  # response size per server and mode, to cross-check wrk's counts
for s in $SERVERS; do
    out=$(LOADGEN --port "${SPORT[$s]}" --requests 1 --conns 1 --dump 2>"$T/probe.$s.ka")
    RSIZE[$s.ka]=$(sed -n 's/.*resp_bytes=\([0-9]*\).*/\1/p' <<<"$out")
    out=$(LOADGEN --port "${SPORT[$s]}" --requests 1 --conns 1 --close --dump 2>"$T/probe.$s.close")
    RSIZE[$s.close]=$(sed -n 's/.*resp_bytes=\([0-9]*\).*/\1/p' <<<"$out")
    log "$s: keep-alive response ${RSIZE[$s.ka]} bytes, Connection: close response ${RSIZE[$s.close]} bytes"
    grep -q "200" <(head -2 "$T/probe.$s.ka") || note "$s: probe response is not 200: $(head -c 200 "$T/probe.$s.ka" | tr '\r\n' '  ')"
    grep -qi "^content-type: text/plain" <(tr -d '\r' <"$T/probe.$s.ka") || note "$s: probe response has no Content-Type: text/plain"
    grep -q "Hello, World!" "$T/probe.$s.ka" || note "$s: probe body is not 'Hello, World!'"
    grep -qi "^connection: close" <(tr -d '\r' <"$T/probe.$s.close") || note "$s: no 'Connection: close' in its reply to a Connection: close request"
done

# wrk_run NAME MODE(ka|pipe|close) CONNS SECONDS TAG -> R[NAME.MODE.CONNS.TAG.*]
wrk_run() {
    local s=$1 mode=$2 c=$3 d=$4 tag=$5
    local k=$s.$mode.$c.$tag out=$T/wrk.$s.$mode.$c.$tag.txt url=http://127.0.0.1:${SPORT[$s]}/
    local args=(-t1 "-c$c" "-d${d}s" --latency --timeout 5s)
    case $mode in
    ka) args+=(-s bench/summary.lua "$url") ;;
    pipe) args+=(-s bench/pipeline.lua "$url" -- $PIPE) ;;
    close) args+=(-H "Connection: close" -s bench/summary.lua "$url") ;;
    esac
    local pid=${SPID[$s]} t0 t1 others
    others_snapshot >"$T/others.before"
    t0=$(cpu_ticks "$pid")
    taskset -c "$LG_CPU" timeout -s KILL $((d + 30)) wrk "${args[@]}" >"$out" 2>&1
    t1=$(cpu_ticks "$pid")
    others_snapshot >"$T/others.after"
    read -r others _ < <(others_pct "$T/others.before" "$T/others.after" "$d")
    R[$k.others]=$others
    if [ "$tag" != warm ] && [ "$others" -gt "$BUSY_PCT" ]; then
        BUSY_RUNS=$((BUSY_RUNS + 1))
        note "$s wrk $mode c=$c: other processes used ${others}% of a CPU during the run (machine not quiet): $(top_others)"
    fi
    server_ok "$s" "wrk $mode c=$c" || return 1
    local line
    line=$(grep '^BENCHSUM' "$out")
    if [ -z "$line" ]; then note "$s wrk $mode c=$c: no summary; $(tail -c 300 "$out" | tr '\n' ' ')"; return 1; fi
    local requests bytes dur_us e_conn e_read e_write e_status e_timeout p99
    eval "$(sed 's/^BENCHSUM //; s/duration_us/dur_us/; s/connect=/e_conn=/; s/read=/e_read=/; s/write=/e_write=/; s/status=/e_status=/; s/timeout=/e_timeout=/; s/p99_us=/p99=/' <<<"$line")"
    R[$k.req]=$requests
    R[$k.rps]=$(calc "$requests / ($dur_us / 1e6)")
    R[$k.p99]=$p99
    R[$k.ticks]=$((t1 - t0))
    R[$k.cpu]=$([ "$requests" -gt 0 ] && calc "($t1 - $t0) * 1e6 / $HZ / $requests" || echo nan)
    [ $((e_conn + e_read + e_write + e_timeout)) -gt 0 ] &&
        note "$s wrk $mode c=$c: socket errors connect=$e_conn read=$e_read write=$e_write timeout=$e_timeout"
    [ "$e_status" -gt 0 ] && note "$s wrk $mode c=$c: $e_status non-2xx/3xx responses"
    grep -q "Non-2xx" "$out" && note "$s wrk $mode c=$c: $(grep Non-2xx "$out")"
    # wrk counts responses; the bytes it read must match that count of same-size responses,
    # give or take the responses in flight when it stopped (<= conns x depth).
    local sz=${RSIZE[$s.ka]} slack=$c
    [ "$mode" = close ] && sz=${RSIZE[$s.close]}
    [ "$mode" = pipe ] && slack=$((c * PIPE))
    local extra=$((bytes - requests * sz))
    if [ "$extra" -lt 0 ] || [ "$extra" -gt $((slack * sz)) ]; then
        note "$s wrk $mode c=$c: count check failed: $requests responses x $sz B = $((requests * sz)) B but wrk read $bytes B"
    fi
    R[$k.extra]=$extra
    [ "$mode" = pipe ] && p99=-    # wrk times a whole pipelined batch; its percentiles are not meaningful
    log "$(printf '%-5s %-5s c=%-3s %9.0f req/s  p99 %6s us  server CPU %5.2f us/req  (%s ticks, %s req, +%s B, others %s%%)' \
        "$s" "$mode" "$c" "${R[$k.rps]}" "$p99" "${R[$k.cpu]}" "$((t1 - t0))" "$requests" "$extra" "$others")"
}

log "warm-up ${WARM}s each"
for s in $SERVERS; do wrk_run "$s" ka 64 "$WARM" warm >/dev/null; done
for ((r = 1; r <= ROUNDS; r++)); do
    for mode in ka pipe close; do
        for s in $SERVERS; do wrk_run "$s" "$mode" 64 "$DUR" "$r"; done
    done
done
for s in $SERVERS; do wrk_run "$s" ka 256 "$DUR" 1; done
for s in $SERVERS; do
    for mode in ka pipe close; do
        for m in cpu rps p99; do
            vals=()
            for ((r = 1; r <= ROUNDS; r++)); do
                v=${R[$s.$mode.64.$r.$m]:-}
                [ -n "$v" ] && [ "$v" != nan ] && vals+=("$v")
            done
            R[$s.$mode.$m]=$(median "${vals[@]}")
            R[$s.$mode.$m.all]="${vals[*]}"
        done
    done
    R[$s.ka256.cpu]=${R[$s.ka.256.1.cpu]:-}
    R[$s.ka256.rps]=${R[$s.ka.256.1.rps]:-}
    R[$s.ka256.p99]=${R[$s.ka.256.1.p99]:-}
done
for s in $SERVERS; do stop_server "$s"; done

# ==== part 2: syscalls/request (strace -c) and bytes per idle connection, fresh servers ====
for s in $SERVERS; do
    start_server "$s" run p2 || exit 1
    port=${SPORT[$s]}
    LOADGEN --port "$port" --requests 2000 --conns $LOAD_CONNS >/dev/null ||
        note "$s: warm-up loadgen failed"
    # strace every process of the server (-f: all their threads), after startup, before stop
    pargs=()
    for p in $(proc_tree "${SPID[$s]}"); do pargs+=(-p "$p"); done
    taskset -c "$LG_CPU" strace -c -f -o "$T/strace.$s.txt" "${pargs[@]}" 2>"$T/strace.$s.err" &
    sp=$!
    STARTED+=("$sp")
    for ((i = 0; i < 50; i++)); do
        [ "$(grep -c attached "$T/strace.$s.err")" -ge $((${#pargs[@]} / 2)) ] && break
        sleep 0.1
    done
    sleep 0.2
    out=$(LOADGEN --port "$port" --requests "$ST_N" --conns $LOAD_CONNS --timeout 120)
    rc=$?
    kill -INT "$sp" 2>/dev/null
    reap "$sp" 100
    done_n=$(sed -n 's/.*completed=\([0-9]*\).*/\1/p' <<<"$out")
    [ $rc -ne 0 ] && note "$s strace run: loadgen: $out"
    total=$(awk '$NF == "total" { print $4 }' "$T/strace.$s.txt")
    R[$s.sys]=$([ -n "$total" ] && [ "${done_n:-0}" -gt 0 ] && calc "$total / $done_n" || echo nan)
    R[$s.sys.detail]=$(awk 'NR > 2 && $1 !~ /^-/ && $NF != "total" { printf "%s%s=%s", sep, $NF, ($5 ~ /^[0-9]+$/ && NF == 6 ? $4 "(" $5 " err)" : $4); sep = " " }' "$T/strace.$s.txt")
    log "$s: $total syscalls for $done_n requests = ${R[$s.sys]}/req  [${R[$s.sys.detail]}]"
    server_ok "$s" "strace run"

    # idle keep-alive connections
    sleep 0.5
    before=$(status_kb VmRSS "${SPID[$s]}")
    "$T/idle_conns" --port "$port" --conns "$IDLE_N" --timeout 40 >"$T/idle.$s.out" 2>"$T/idle.$s.err" &
    ip=$!
    STARTED+=("$ip")
    for ((i = 0; i < 400; i++)); do
        grep -qE '^(ready|notready|final)' "$T/idle.$s.out" && break
        alive "$ip" || break
        sleep 0.1
    done
    sleep 1
    after=$(status_kb VmRSS "${SPID[$s]}")
    kill -TERM "$ip" 2>/dev/null
    reap "$ip" 50
    ready=$(grep -E '^(ready|notready)' "$T/idle.$s.out")
    final=$(grep '^final' "$T/idle.$s.out")
    R[$s.idle]=$(calc "($after - $before) * 1024 / $IDLE_N")
    R[$s.idle.detail]="RSS ${before} kB -> ${after} kB; $ready; $final"
    log "$s: idle conns: ${R[$s.idle.detail]} => ${R[$s.idle]} B/conn"
    case $ready in "ready answered=$IDLE_N failed=0"*) ;; *) note "$s idle_conns: not all $IDLE_N answered: $ready $(head -c 300 "$T/idle.$s.err" | tr '\n' ' ')" ;; esac
    case $final in "final open=$IDLE_N closed_by_server=0 unexpected_bytes=0"*) ;; *) note "$s idle_conns: $final" ;; esac
    server_ok "$s" "idle connections"
    stop_server "$s"
done

# ==== part 3: userspace instructions/request under callgrind, N requests minus 0 ====
for n in "$CG_N" 0; do
    for s in $SERVERS; do
        tag=cg$n.$s
        start_server "$s" cg "$tag" || continue
        if [ "$n" -gt 0 ]; then
            out=$(LOADGEN --port "${SPORT[$s]}" --requests "$n" --conns $LOAD_CONNS --timeout 150)
            [ $? -ne 0 ] && note "$s callgrind run: loadgen: $out"
            R[$s.cg.done]=$(sed -n 's/.*completed=\([0-9]*\).*/\1/p' <<<"$out")
        fi
        stop_server "$s"
        f=$T/cg.$tag.out
        ir=$(awk '/^totals:/ { print $2; exit }' "$f" 2>/dev/null)
        [ -z "$ir" ] && ir=$(awk '/^summary:/ { print $2; exit }' "$f" 2>/dev/null)
        [ -z "$ir" ] && note "$s callgrind ($n requests): no totals in $f; $(tail -c 300 "${SLOG[$s]}" | tr '\n' ' ')"
        R[$s.ir$n]=${ir:-}
        log "$s: callgrind with $n requests: Ir ${ir:-?}"
    done
done
for s in $SERVERS; do
    if [ -n "${R[$s.ir$CG_N]:-}" ] && [ -n "${R[$s.ir0]:-}" ] && [ "${R[$s.cg.done]:-0}" -gt 0 ]; then
        R[$s.ipr]=$(calc "(${R[$s.ir$CG_N]} - ${R[$s.ir0]}) / ${R[$s.cg.done]}")
    else R[$s.ipr]=nan; fi
done
# ==== part 3b: the whole server process under callgrind, divided by the requests, with
# two standard clients: h2load --h1 (HTTP/1.1 keep-alive) and ab -k (HTTP/1.0 keep-alive)
for tool in h2load ab; do
    command -v "$tool" >/dev/null 2>&1 || { note "$tool not installed (nghttp2-client, apache2-utils): no $tool figure"; continue; }
    for s in $SERVERS; do
        tag=cg.$tool.$s
        start_server "$s" cg "$tag" || continue
        url=http://127.0.0.1:${SPORT[$s]}/
        if [ "$tool" = h2load ]; then
            out=$(taskset -c "$LG_CPU" h2load --h1 -n "$CG_N" -c $LOAD_CONNS "$url" 2>&1)
            done_n=$(sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p' <<<"$out")
        else
            out=$(taskset -c "$LG_CPU" ab -k -n "$CG_N" -c $LOAD_CONNS "$url" 2>&1)
            done_n=$(sed -n 's/^Complete requests: *\([0-9]*\).*/\1/p' <<<"$out")
            fails=$(sed -n 's/^Failed requests: *\([0-9]*\).*/\1/p' <<<"$out")
            [ "${fails:-0}" != 0 ] && note "$s ab -k: $fails failed requests"
        fi
        [ "${done_n:-0}" = "$CG_N" ] || note "$s $tool: ${done_n:-0} of $CG_N requests succeeded"
        stop_server "$s"
        ir=$(awk '/^totals:/ { print $2; exit }' "$T/cg.$tag.out" 2>/dev/null)
        [ -z "$ir" ] && ir=$(awk '/^summary:/ { print $2; exit }' "$T/cg.$tag.out" 2>/dev/null)
        if [ -n "$ir" ] && [ "${done_n:-0}" -gt 0 ]; then R[$s.ipr_$tool]=$(calc "$ir / $done_n"); else R[$s.ipr_$tool]=nan; fi
        log "$s: callgrind, whole process, $tool: Ir ${ir:-?} / ${done_n:-?} requests"
    done
done

# ==== the table ====
A=${SERVERS%% *}
B=${SERVERS##* }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || a == "nan" || b == "nan" || b + 0 == 0) print "-"; else printf "%.3f", a / b }'; }
rawratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || a == "nan" || b == "nan" || b + 0 == 0) print "-"; else print a / b }'; }
verdict() {  # value-or-ratio op limit
    awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN { if (v == "-" || v == "" || v == "nan") { print "?"; exit }
        ok = (op == "le") ? (v + 0 <= l + 0) : 1; print ok ? "ok" : "MISS" }'
}
fmt() { awk -v v="$2" -v f="$1" 'BEGIN { if (v == "" || v == "nan") print "-"; else printf f, v }'; }
row() {  # label format key target-kind limit
    local label=$1 f=$2 key=$3 kind=$4 lim=$5 a b rt tgt v
    a=${R[$A.$key]:-}
    b=${R[$B.$key]:-}
    rt=$(ratio "$a" "$b")
    case $kind in
    ratio) tgt="ratio<=$lim"; v=$(verdict "$(rawratio "$a" "$b")" le "$lim") ;;
    abs) tgt="$A<=$lim"; v=$(verdict "$a" le "$lim") ;;
    *) tgt=""; v="" ;;
    esac
    [ "$A" = "$B" ] && { rt="-"; v=""; tgt=""; }
    printf '%-36s %12s %12s %10s   %-14s %s\n' "$label" "$(fmt "$f" "$a")" "$(fmt "$f" "$b")" "$rt" "$tgt" "$v"
}
{
    echo
    echo "httpd.h bench/quick.sh  $(date -u '+%Y-%m-%d %H:%M UTC')  $(nproc) CPUs, server on CPU $SRV_CPU, wrk/loadgen on CPU $LG_CPU"
    echo "wrk -t1, ${DUR}s per run, CPU figures = median of $ROUNDS interleaved runs; server CPU = utime+stime of its processes"
    printf '%-36s %12s %12s %10s   %-14s %s\n' "metric" "$A" "$B" "$A/$B" "target" ""
    printf '%.0s-' {1..96}; echo
    row "keep-alive CPU us/req (64 conns)" "%.2f" ka.cpu ratio 0.95
    row "pipelined x$PIPE CPU us/req (64 conns)" "%.2f" pipe.cpu ratio 0.4
    row "conn-per-request CPU us/req (64)" "%.2f" close.cpu ratio 0.6
    row "keep-alive CPU us/req (256 conns)" "%.2f" ka256.cpu none 0
    row "keep-alive req/s (64 conns)" "%.0f" ka.rps none 0
    row "keep-alive p99 us (64 conns)" "%.0f" ka.p99 ratio 1.0
    row "keep-alive req/s (256 conns)" "%.0f" ka256.rps none 0
    row "keep-alive p99 us (256 conns)" "%.0f" ka256.p99 ratio 1.0
    row "pipelined x$PIPE req/s (64 conns)" "%.0f" pipe.rps none 0
    row "conn-per-request req/s (64 conns)" "%.0f" close.rps none 0
    row "userspace instructions/req" "%.0f" ipr abs 3000
    row "instr/req whole process, h2load --h1" "%.0f" ipr_h2load abs 2000
    row "instr/req whole process, ab -k (1.0)" "%.0f" ipr_ab abs 2300
    row "syscalls/req (strace -c)" "%.3f" sys ratio 1.0
    row "bytes per idle keep-alive conn" "%.0f" idle abs 256
    echo
    echo "per-run CPU us/req (rounds 1..$ROUNDS):"
    for s in $SERVERS; do
        printf '  %-6s keep-alive: %-22s pipelined: %-22s conn-per-request: %s\n' "$s" \
            "${R[$s.ka.cpu.all]}" "${R[$s.pipe.cpu.all]}" "${R[$s.close.cpu.all]}"
    done
    echo "syscalls ($ST_N keep-alive requests over $LOAD_CONNS conns, strace -c -f):"
    for s in $SERVERS; do echo "  $s: ${R[$s.sys.detail]:-}"; done
    echo "callgrind Ir: N=$CG_N over $LOAD_CONNS keep-alive conns minus N=0:"
    for s in $SERVERS; do echo "  $s: ${R[$s.ir$CG_N]:-?} - ${R[$s.ir0]:-?} over ${R[$s.cg.done]:-?} requests"; done
    echo "idle connections ($IDLE_N):"
    for s in $SERVERS; do echo "  $s: ${R[$s.idle.detail]:-}"; done
    if [ ${#NOTES[@]} -gt 0 ]; then
        echo "NOTES (things that looked wrong):"
        for n in "${NOTES[@]}"; do echo "  - $n"; done
    else
        echo "checks: no errors, all responses 200, wrk counts match bytes read, no crashes"
    fi
    [ "$BUSY_RUNS" -gt 0 ] && echo "WARNING: $BUSY_RUNS measured wrk run(s) overlapped other load on the machine (see NOTES); rerun when it is quiet"
    echo "total time ${SECONDS}s"
} | tee "$T/table.txt"
