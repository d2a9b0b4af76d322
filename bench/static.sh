#!/usr/bin/env bash
# bench/static.sh - static files: build/demo's /static/ mount against nginx (sendfile on)
# serving the same 1 KiB and 1 MiB files over keep-alive, in the same run, interleaved.
# Headline: server CPU per request (utime+stime of the server's processes over a wrk run,
# / responses), median of BENCH_ROUNDS; the same over an exact count of requests from
# bench/loadgen (BENCH_LG_N 1 KiB requests, a twentieth of that for 1 MiB); req/s; syscalls
# per request (strace -c around exactly BENCH_ST_N requests). See bench/README.md.
# Knobs: BENCH_DUR=5 BENCH_ROUNDS=3 BENCH_CONNS=16 BENCH_ST_N=4000 BENCH_FILES="f1k f1m"
#        BENCH_WAIT_QUIET=0 (seconds to wait for other load to stop) DEMO=build/demo
#        NGINX=/usr/sbin/nginx BENCH_KEEP=1 BENCH_BUSY_PCT=5
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
DEMO=${DEMO:-$ROOT/build/demo}
NGINX=${NGINX:-/usr/sbin/nginx}
DUR=${BENCH_DUR:-5}
ROUNDS=${BENCH_ROUNDS:-3}
CONNS=${BENCH_CONNS:-16}
ST_N=${BENCH_ST_N:-4000}
SRV_CPU=${BENCH_SRV_CPU:-0}
LG_CPU=${BENCH_LG_CPU:-1}
BUSY_PCT=${BENCH_BUSY_PCT:-5}
HZ=$(getconf CLK_TCK)
for t in wrk taskset strace cc "$NGINX" "$DEMO"; do
    command -v "$t" >/dev/null 2>&1 || { echo "static.sh: missing: $t" >&2; exit 2; }
done
. bench/lib.sh
bench_init httpd-static
declare -A R SPID SPORT
NEXT_PORT=$((23000 + ($$ % 200) * 50))
mkdir -p "$T/www"
chmod 755 "$T" "$T/www"          # nginx's workers run as nobody
head -c 1024 /dev/urandom >"$T/www/f1k.bin"
head -c 1048576 /dev/urandom >"$T/www/f1m.bin"
FILES=${BENCH_FILES:-f1k f1m}
cc -O2 -Wall -o "$T/loadgen" bench/loadgen.c || exit 2

start() {  # name
    pick_port
    local log=$T/$1.log i
    if [ "$1" = demo ]; then
        taskset -c "$SRV_CPU" "$DEMO" --host 127.0.0.1 --port "$PORT" --workers 1 \
            --static-dir "$T/www" >"$log" 2>&1 &
    else
        local d=$T/nginx
        nginx_conf "$d" on 4096 "    sendfile on;
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$PORT backlog=4096;
        location /static/ { alias $T/www/; }
    }"
        taskset -c "$SRV_CPU" "$NGINX" -p "$d/" -c "$d/nginx.conf" -e "$d/error.log" >"$log" 2>&1 &
    fi
    SPID[$1]=$!
    SPORT[$1]=$PORT
    STARTED+=("$!")
    for ((i = 0; i < 100; i++)); do port_open "$PORT" && break; sleep 0.1; done
    [ "$1" = demo ] && for ((i = 0; i < 50; i++)); do grep -q "listening on" "$log" && break; sleep 0.1; done
    port_open "$PORT" || { echo "static.sh: $1 did not start: $(tail -c 300 "$log")" >&2; exit 1; }
}
WAIT_QUIET=${BENCH_WAIT_QUIET:-0}
while :; do                      # the machine is shared: optionally wait for it to go quiet
    others_snapshot >"$T/ob"; sleep 1; others_snapshot >"$T/oa"
    read -r pre _ < <(others_pct "$T/ob" "$T/oa" 1)
    [ "$pre" -le "$BUSY_PCT" ] || [ "$SECONDS" -ge "$WAIT_QUIET" ] && break
    log "machine busy (others ${pre}% of a CPU); waiting"
    sleep 4
done
start demo
start nginx
for s in demo nginx; do
    for f in $FILES; do
        out=$(taskset -c "$LG_CPU" "$T/loadgen" --port "${SPORT[$s]}" --path "/static/$f.bin" \
              --requests 1 --conns 1 --dump 2>"$T/probe.$s.$f")
        R[$s.$f.size]=$(sed -n 's/.*resp_bytes=\([0-9]*\).*/\1/p' <<<"$out")
        grep -q "200 OK" "$T/probe.$s.$f" || note "$s /static/$f.bin: not 200"
    done
    log "$s: response bytes $(for f in $FILES; do printf '%s=%s ' "$f" "${R[$s.$f.size]}"; done)"
done

wrk_once() {  # server file round
    local s=$1 f=$2 r=$3 t0 t1 others
    local out=$T/wrk.$s.$f.$r
    others_snapshot >"$T/ob"
    t0=$(cpu_ticks "${SPID[$s]}")
    taskset -c "$LG_CPU" timeout -s KILL $((DUR + 30)) wrk -t1 "-c$CONNS" "-d${DUR}s" --timeout 5s \
        -s bench/summary.lua "http://127.0.0.1:${SPORT[$s]}/static/$f.bin" >"$out" 2>&1
    t1=$(cpu_ticks "${SPID[$s]}")
    others_snapshot >"$T/oa"
    read -r others _ < <(others_pct "$T/ob" "$T/oa" "$DUR")
    [ "$others" -gt "$BUSY_PCT" ] && note "$s $f round $r: other processes used $others% of a CPU"
    alive "${SPID[$s]}" || { note "$s died"; exit 1; }
    local line requests bytes duration_us connect read write status timeout p99_us
    line=$(grep '^BENCHSUM' "$out") || { note "$s $f: no wrk summary: $(tail -c 200 "$out")"; return; }
    eval "$(sed 's/^BENCHSUM //' <<<"$line")"
    [ $((connect + read + write + status + timeout)) -gt 0 ] && note "$s $f round $r: wrk errors: $line"
    # bytes read must be whole responses (plus those in flight when wrk stopped)
    local want=$((requests * R[$s.$f.size]))
    [ "$bytes" -lt "$want" ] || [ "$bytes" -gt $((want + CONNS * R[$s.$f.size])) ] &&
        note "$s $f round $r: wrk read $bytes bytes for $requests responses of ${R[$s.$f.size]}"
    R[$s.$f.us.$r]=$(calc "($t1 - $t0) * 1e6 / $HZ / $requests")
    R[$s.$f.rps.$r]=$(calc "$requests / ($duration_us / 1e6)")
    log "$s $f round $r: $(printf %.0f "${R[$s.$f.rps.$r]}") req/s, $(printf %.2f "${R[$s.$f.us.$r]}") us CPU/req, others ${others}%"
}
for f in $FILES; do wrk_once demo "$f" warm; wrk_once nginx "$f" warm; done
for ((r = 1; r <= ROUNDS; r++)); do
    for f in $FILES; do
        if [ $((r % 2)) = 1 ]; then wrk_once demo "$f" "$r"; wrk_once nginx "$f" "$r"
        else wrk_once nginx "$f" "$r"; wrk_once demo "$f" "$r"; fi
    done
done

# CPU per request over an exact count (bench/loadgen, 8 keep-alive connections): no wrk
# timing involved, a steadier figure on a shared machine; interleaved like the wrk runs
LG_N=${BENCH_LG_N:-60000}
for ((r = 1; r <= ROUNDS; r++)); do
    for f in $FILES; do
        n=$LG_N; [ "$f" = f1m ] && n=$((LG_N / 20))
        order="demo nginx"; [ $((r % 2)) = 0 ] && order="nginx demo"
        for s in $order; do
            t0=$(cpu_ticks "${SPID[$s]}")
            out=$(taskset -c "$LG_CPU" timeout -s KILL 300 "$T/loadgen" --port "${SPORT[$s]}" \
                  --path "/static/$f.bin" --requests "$n" --conns 8 2>&1)
            t1=$(cpu_ticks "${SPID[$s]}")
            grep -q "ok=$n " <<<"$out" || note "$s $f loadgen round $r: $out"
            R[$s.$f.lg.$r]=$(calc "($t1 - $t0) * 1e6 / $HZ / $n")
            log "$s $f loadgen round $r: $n requests, $(printf %.2f "${R[$s.$f.lg.$r]}") us CPU/req"
        done
    done
done

# syscalls per request: strace -c on every server process around exactly N requests
for s in demo nginx; do
    for f in $FILES; do
        n=$ST_N; [ "$f" = f1m ] && n=$((ST_N / 8))
        pids=$(proc_tree "${SPID[$s]}" | tr ' ' '\n' | sed 's/^/-p /' | tr '\n' ' ')
        timeout -s INT 120 strace -c -f $pids -o "$T/strace.$s.$f" &
        spid=$!
        sleep 1
        out=$(taskset -c "$LG_CPU" timeout -s KILL 120 "$T/loadgen" --port "${SPORT[$s]}" \
              --path "/static/$f.bin" --requests "$n" --conns 8 2>&1)
        sleep 0.3
        kill -INT "$spid" 2>/dev/null
        wait "$spid" 2>/dev/null
        grep -q "ok=$n " <<<"$out" || note "$s $f strace run: $out"
        total=$(awk '$NF == "total" { print $4 }' "$T/strace.$s.$f")   # % s us/call CALLS
        calls=$(awk '/^ *[0-9.]+ +[0-9.]+ +[0-9]+ +[0-9]+/ && $NF != "total" { print $NF "=" $4 }' \
                "$T/strace.$s.$f" | sort -t= -k2 -rn | head -8 | tr '\n' ' ')
        R[$s.$f.sys]=$(calc "${total:-0} / $n")
        R[$s.$f.calls]=$calls
    done
done
stop_pid demo "${SPID[demo]}" 100
stop_pid nginx "${SPID[nginx]}" 100

printf '\nhttpd.h bench/static.sh  %s  %s CPUs, server on CPU %s, wrk/loadgen on CPU %s\n' \
    "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(nproc)" "$SRV_CPU" "$LG_CPU"
printf 'wrk -t1 -c%s -d%ss keep-alive, GET /static/FILE; CPU = utime+stime of the server, median of %s rounds\n' "$CONNS" "$DUR" "$ROUNDS"
printf '%-34s %12s %12s %10s %8s\n' metric demo nginx demo/nginx target
for f in $FILES; do
    for m in us rps; do
        d=$(median $(for ((r = 1; r <= ROUNDS; r++)); do echo "${R[demo.$f.$m.$r]:-0}"; done))
        g=$(median $(for ((r = 1; r <= ROUNDS; r++)); do echo "${R[nginx.$f.$m.$r]:-0}"; done))
        ratio=$(calc "$d / ($g > 0 ? $g : 1)")
        if [ $m = us ]; then name="$f CPU us/req"; tgt="<=1.0"; ok=$(awk "BEGIN{print ($ratio <= 1.0) ? \"ok\" : \"MISS\"}")
        else name="$f req/s"; tgt=""; ok=""; fi
        printf '%-34s %12.2f %12.2f %10.3f %8s %s\n' "$name" "$d" "$g" "$ratio" "$tgt" "$ok"
    done
    d=$(median $(for ((r = 1; r <= ROUNDS; r++)); do echo "${R[demo.$f.lg.$r]:-0}"; done))
    g=$(median $(for ((r = 1; r <= ROUNDS; r++)); do echo "${R[nginx.$f.lg.$r]:-0}"; done))
    ratio=$(calc "$d / ($g > 0 ? $g : 1)")
    printf '%-34s %12.2f %12.2f %10.3f %8s %s\n' "$f CPU us/req (loadgen, exact N)" "$d" "$g" "$ratio" \
        "<=1.0" "$(awk "BEGIN{print ($ratio <= 1.0) ? \"ok\" : \"MISS\"}")"
    printf '%-34s %12.3f %12.3f\n' "$f syscalls/req (strace -c)" "${R[demo.$f.sys]}" "${R[nginx.$f.sys]}"
done
printf '\nper-run CPU us/req (wrk | loadgen):\n'
for s in demo nginx; do
    printf '  %-6s' "$s"
    for f in $FILES; do
        printf ' %s:' "$f"; for ((r = 1; r <= ROUNDS; r++)); do printf ' %.2f' "${R[$s.$f.us.$r]}"; done
        printf ' |'; for ((r = 1; r <= ROUNDS; r++)); do printf ' %.2f' "${R[$s.$f.lg.$r]}"; done
    done
    echo
done
printf 'syscalls (top):\n'
for s in demo nginx; do for f in $FILES; do printf '  %s %s: %s\n' "$s" "$f" "${R[$s.$f.calls]}"; done; done
for s in demo nginx; do
    printf 'response bytes %s: %s\n' "$s" "$(for f in $FILES; do printf '%s=%s ' "$f" "${R[$s.$f.size]}"; done)"
done
if [ ${#NOTES[@]} -gt 0 ]; then printf 'NOTES:\n'; printf '  %s\n' "${NOTES[@]}"; else echo "checks: no errors, all 200, byte counts match"; fi
