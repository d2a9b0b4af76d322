#!/usr/bin/env bash
# bench/streaming.sh - streamed request and response bodies (issue 3): server memory while
# 1 GiB goes through one connection, 100 concurrent 100 MiB uploads, a 1 GiB download to a
# slow reader, and single-connection upload throughput against nginx (interleaved, median).
# See bench/README.md ("Streaming bodies"). Run as `make bench-stream` or bench/streaming.sh.
#
# Usage: bench/streaming.sh [--file-url http://127.0.0.1:PORT/PATH [--file-pid PID]]
#   --file-url: also download that URL (an already running sendfile server) as the slow
#   reader; --file-pid: its server's PID, for the RSS samples. Without it the script starts
#   $STREAM_DOWNLOAD (build/download: `--port P --root DIR`, GET /files/<name>) on a
#   1 GiB file of its own, or skips that row when the binary does not exist.
#
# Knobs (environment): DEMO=build/demo NGINX=/usr/sbin/nginx STREAM_DOWNLOAD=build/download
#   STREAM_DOWNLOAD_ARGS="--workers 1" (added to its --port P --root DIR)
#   STREAM_UP_BYTES=1073741824   STREAM_CONC_N=100  STREAM_CONC_BYTES=104857600
#   STREAM_DL_BYTES=1073741824   STREAM_DL_RATE=90 (MB/s)  STREAM_DL_RCVBUF=65536
#   STREAM_ROUNDS=3  STREAM_NGINX_BUF=16k (client_body_buffer_size)  STREAM_PERF=1
#   STREAM_SETTLE=25 (s to wait after the concurrent burst before RSS is read again)
#   BENCH_KEEP=1 (keep the temp dir)  BENCH_SRV_CPU=0  BENCH_LG_CPU=1  BENCH_BUSY_PCT=5
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
DEMO=${DEMO:-$ROOT/build/demo}
NGINX=${NGINX:-/usr/sbin/nginx}
DOWNLOAD=${STREAM_DOWNLOAD:-$ROOT/build/download}
DOWNLOAD_ARGS=${STREAM_DOWNLOAD_ARGS---workers 1}
UP_BYTES=${STREAM_UP_BYTES:-1073741824}
CONC_N=${STREAM_CONC_N:-100}
CONC_BYTES=${STREAM_CONC_BYTES:-104857600}
DL_BYTES=${STREAM_DL_BYTES:-1073741824}
DL_RATE=${STREAM_DL_RATE:-90}
DL_RCVBUF=${STREAM_DL_RCVBUF:-65536}
ROUNDS=${STREAM_ROUNDS:-3}
SETTLE=${STREAM_SETTLE:-25}
NGINX_BUF=${STREAM_NGINX_BUF:-16k}
SRV_CPU=${BENCH_SRV_CPU:-0}
LG_CPU=${BENCH_LG_CPU:-1}
BUSY_PCT=${BENCH_BUSY_PCT:-5}
HZ=$(getconf CLK_TCK)
READ_BUF_KB=17          # read buffer in use: read_buffer_bytes 16 KiB raised to max_header_bytes
                        # (16 KiB) + 1 KiB, as httpd_query_desc() reports; the demo keeps both
CONST_KB=1024           # the "small constant" of the concurrent-upload target
FLAT_KB=1024            # a download is "flat" when the peak grows less than this
UP_LIMIT_KB=4096        # 1 GiB upload: RSS growth below 4 MiB
BACK_KB=1024            # SETTLE s after the burst, RSS within this of the pre-burst RSS (informative)
GBPS_MIN=1.0            # one connection, GB/s (1e9 bytes/s)

FILE_URL= FILE_PID=
while [ $# -gt 0 ]; do
    case $1 in
    --file-url) FILE_URL=${2:-}; shift 2 ;;
    --file-pid) FILE_PID=${2:-}; shift 2 ;;
    *) echo "usage: bench/streaming.sh [--file-url URL [--file-pid PID]]" >&2; exit 2 ;;
    esac
done

for t in taskset gcc "$NGINX"; do
    command -v "$t" >/dev/null 2>&1 || { echo "streaming.sh: missing tool: $t" >&2; exit 2; }
done
[ -x "$DEMO" ] || { echo "streaming.sh: $DEMO not built (make build/demo)" >&2; exit 2; }

. bench/lib.sh       # log note alive proc_tree reap cleanup stop_pid cpu_ticks status_kb others_* pick_port calc median kv
bench_init httpd-stream  # T, STARTED, NOTES, traps
declare -A R        # results
NEXT_PORT=$((30000 + ($$ % 200) * 50))   # pick_port: free loopback ports from here

reset_hwm() {  # VmHWM := VmRSS now (clear_refs 5, Linux >= 4.0); fails if it cannot be written
    local p
    for p in $(proc_tree "$1"); do echo 5 2>/dev/null >"/proc/$p/clear_refs" || return 1; done
    return 0
}
# start_srv NAME ARGV...: run on the server CPU, wait until it listens on $PORT (pick_port first)
start_srv() {
    local name=$1 i
    shift
    taskset -c "$SRV_CPU" "$@" >"$T/$name.log" 2>&1 &
    local pid=$!
    STARTED+=("$pid")
    SPID=$pid
    for ((i = 0; i < 100; i++)); do
        port_open "$PORT" && break
        alive "$pid" || break
        sleep 0.1
    done
    if ! port_open "$PORT"; then
        note "$name did not start listening on $PORT: $(tail -c 300 "$T/$name.log" | tr '\n' ' ')"
        reap "$pid" 1
        return 1
    fi
    # the demo blocks SIGTERM only once it runs its loop: wait for its line before any signal
    for ((i = 0; i < 50; i++)); do grep -q "listening on" "$T/$name.log" && break; sleep 0.1; done
    return 0
}
start_demo() {  # tag -> DPID, DPORT
    pick_port
    start_srv "demo.$1" "$DEMO" --host 127.0.0.1 --port "$PORT" --workers 1 --bare || return 1
    DPID=$SPID DPORT=$PORT
}
stop_srv() { stop_pid "$1" "$2" 150; }   # name pid: SIGTERM, 15 s, then SIGKILL; notes an odd exit
srv_ok() { alive "$1" || { note "$2 DIED during $3"; return 1; }; }

# watch SERVER CLIENT MAXSECONDS: sample the server's VmRSS every 0.5 s while the client
# runs (bounded), then wait for the client. Sets W_MIN W_MAX W_N W_HWM W_RC W_LIST.
watch_rss() {
    local srv=$1 cl=$2 lim=$(($3 * 2)) i v
    W_MIN= W_MAX= W_N=0 W_LIST=
    for ((i = 0; i < lim; i++)); do
        alive "$cl" || break
        v=$(status_kb VmRSS "$srv")
        W_LIST+="$v "
        W_N=$((W_N + 1))
        { [ -z "$W_MIN" ] || [ "$v" -lt "$W_MIN" ]; } && W_MIN=$v
        { [ -z "$W_MAX" ] || [ "$v" -gt "$W_MAX" ]; } && W_MAX=$v
        sleep 0.5
    done
    alive "$cl" && note "client $cl still running after $3 s; killed"
    reap "$cl" 20
    W_RC=$?
    W_HWM=$(status_kb VmHWM "$srv")
}

# ---- tools, built into build/ ----
mkdir -p build
gcc -O2 -Wall -pthread -o build/bench-upload bench/upload.c || exit 2
gcc -O2 -Wall -o build/bench-slowread bench/slowread.c || exit 2
SINK=1
if ! gcc -std=c11 -O2 -Wall -o build/bench-sink bench/sink.c -lpthread 2>"$T/sink.cc.err"; then
    SINK=0
    note "bench/sink.c did not compile against the current httpd.h (diagnostic rows skipped): $(head -c 300 "$T/sink.cc.err" | tr '\n' ' ')"
fi
UPLOAD() { taskset -c "$LG_CPU" timeout -s KILL 200 build/bench-upload "$@"; }
log "temp dir $T; server on CPU $SRV_CPU, clients on CPU $LG_CPU; demo $DEMO"

# ==== 1: one 1 GiB upload, server RSS growth ====
start_demo up1 || exit 1
UPLOAD --port "$DPORT" --bytes 1048576 --no-crc >/dev/null || note "demo: warm-up upload failed"
sleep 0.2
reset_hwm "$DPID" || note "could not reset VmHWM (clear_refs); peak = max of the 0.5 s samples"
before=$(status_kb VmRSS "$DPID")
t0=$(cpu_ticks "$DPID")
UPLOAD --port "$DPORT" --bytes "$UP_BYTES" --timeout 60 >"$T/up1.out" 2>"$T/up1.err" &
watch_rss "$DPID" $! 70
t1=$(cpu_ticks "$DPID")
out=$(cat "$T/up1.out")
[ $W_RC -ne 0 ] && note "1 GiB upload failed: $out $(head -c 300 "$T/up1.err" | tr '\n' ' ')"
peak=$(( W_HWM > ${W_MAX:-0} ? W_HWM : ${W_MAX:-0} ))
R[up1.growth]=$((peak - before))
R[up1.detail]="RSS before ${before} kB, peak (VmHWM) ${W_HWM} kB, samples min/max ${W_MIN:-?}/${W_MAX:-?} kB over $W_N samples, after $(status_kb VmRSS "$DPID") kB; server CPU $(calc "($t1 - $t0) / $HZ") s; client: $out"
R[up1.ok]=$([ $W_RC -eq 0 ] && echo 1 || echo 0)
log "1 GiB upload: growth ${R[up1.growth]} kB; ${R[up1.detail]}"
srv_ok "$DPID" demo "the 1 GiB upload"
stop_srv demo "$DPID"

# ==== 2: CONC_N concurrent CONC_BYTES uploads ====
start_demo conc || exit 1
UPLOAD --port "$DPORT" --bytes 1048576 --no-crc >/dev/null || note "demo: warm-up upload failed"
sleep 0.2
reset_hwm "$DPID" || note "could not reset VmHWM; peak = max of the samples"
before=$(status_kb VmRSS "$DPID")
UPLOAD --port "$DPORT" --bytes "$CONC_BYTES" --conns "$CONC_N" --timeout 120 >"$T/conc.out" 2>"$T/conc.err" &
watch_rss "$DPID" $! 130
out=$(cat "$T/conc.out")
[ $W_RC -ne 0 ] && note "concurrent uploads failed: $out $(head -c 300 "$T/conc.err" | tr '\n' ' ')"
peak=$(( W_HWM > ${W_MAX:-0} ? W_HWM : ${W_MAX:-0} ))
R[conc.growth]=$((peak - before))
R[conc.limit]=$((CONC_N * READ_BUF_KB + CONST_KB))
R[conc.detail]="RSS before ${before} kB, peak (VmHWM) ${W_HWM} kB, samples min/max ${W_MIN:-?}/${W_MAX:-?} kB over $W_N samples, after $(status_kb VmRSS "$DPID") kB; = $(calc "${R[conc.growth]} / $CONC_N") kB per connection; client: $out"
R[conc.ok]=$([ $W_RC -eq 0 ] && echo 1 || echo 0)
log "$CONC_N x $CONC_BYTES uploads: growth ${R[conc.growth]} kB; ${R[conc.detail]}"
# the memory that comes back: the demo's workers free what the last 10 s period never
# needed and trim the heap, so after the burst RSS should return to about where it was
R[conc.before]=$before
R[conc.settle]=
for ((i = 5; i <= SETTLE; i += 5)); do
    sleep 5
    alive "$DPID" || break
    v=$(status_kb VmRSS "$DPID")
    R[conc.settle]+="${i}s=$v "
done
rest=$((SETTLE % 5))
[ "$rest" -gt 0 ] && sleep "$rest"
R[conc.back]=$(status_kb VmRSS "$DPID")
log "RSS ${SETTLE} s after the burst: ${R[conc.back]} kB (before ${before} kB); every 5 s: ${R[conc.settle]}"
srv_ok "$DPID" demo "the concurrent uploads"
stop_srv demo "$DPID"

# ==== 3: a slow reader downloading DL_BYTES ====
DL_SECS=$(( DL_BYTES / (DL_RATE * 1000000) + 15 ))      # the reader's time bound
slow_download() {  # key server-pid host port path [warm-up path of a 1 MiB body]
    local key=$1 srv=$2 host=$3 port=$4 path=$5 warm=${6:-}
    if [ -n "$warm" ]; then
        taskset -c "$LG_CPU" build/bench-slowread --host "$host" --port "$port" --path "$warm" --rate 1000 \
            --timeout 10 --expect 1048576 >/dev/null 2>&1 || note "$key: warm-up GET $warm failed"
        sleep 0.2
    fi
    [ -n "$srv" ] && { reset_hwm "$srv" || note "$key: could not reset VmHWM; peak = max of the samples"; }
    local before=
    [ -n "$srv" ] && before=$(status_kb VmRSS "$srv")
    taskset -c "$LG_CPU" build/bench-slowread --host "$host" --port "$port" --path "$path" --rate "$DL_RATE" \
        --rcvbuf "$DL_RCVBUF" --timeout "$DL_SECS" --expect "$DL_BYTES" >"$T/$key.out" 2>"$T/$key.err" &
    local cl=$!
    if [ -n "$srv" ]; then
        watch_rss "$srv" $cl $((DL_SECS + 5))
    else
        reap $cl $(( (DL_SECS + 5) * 10 )); W_RC=$?; W_MIN= W_MAX= W_HWM=0 W_N=0
    fi
    local out
    out=$(cat "$T/$key.out")
    [ $W_RC -ne 0 ] && note "$key download incomplete: $out $(head -c 200 "$T/$key.err" | tr '\n' ' ')"
    R[$key.ok]=$([ $W_RC -eq 0 ] && echo 1 || echo 0)
    R[$key.out]=$out
    if [ -n "$srv" ]; then
        local peak=$(( W_HWM > ${W_MAX:-0} ? W_HWM : ${W_MAX:-0} ))
        R[$key.growth]=$((peak - before))
        R[$key.min]=${W_MIN:-0}
        R[$key.max]=${W_MAX:-0}
        R[$key.detail]="RSS before ${before} kB, samples every 0.5 s min/max ${W_MIN:-?}/${W_MAX:-?} kB ($W_N samples), VmHWM ${W_HWM} kB"
        R[$key.samples]=$W_LIST
    else
        R[$key.detail]="no server PID given (--file-pid): RSS not sampled"
    fi
    log "$key: ${R[$key.detail]}; client: $out"
}
start_demo dl || exit 1
slow_download dl.demo "$DPID" 127.0.0.1 "$DPORT" "/bytes/$DL_BYTES" /bytes/1048576
srv_ok "$DPID" demo "the slow download"
stop_srv demo "$DPID"

FILE_ROW=
if [ -n "$FILE_URL" ]; then
    if [[ $FILE_URL =~ ^http://([0-9.]+):([0-9]+)(/.*)$ ]]; then
        FILE_ROW="$FILE_URL"
        slow_download dl.file "$FILE_PID" "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" "${BASH_REMATCH[3]}"
    else
        note "--file-url must look like http://127.0.0.1:PORT/PATH (IPv4 literal): $FILE_URL"
    fi
elif [ -x "$DOWNLOAD" ]; then
    mkdir -p "$T/files"
    truncate -s "$DL_BYTES" "$T/files/big.bin"          # sparse: no disk I/O, zero pages
    head -c 1048576 /dev/zero >"$T/files/warm.bin"
    pick_port
    # shellcheck disable=SC2086
    if start_srv download "$DOWNLOAD" --port "$PORT" --root "$T/files" $DOWNLOAD_ARGS; then
        FPID=$SPID
        FILE_ROW="$DOWNLOAD /files/big.bin (sparse ${DL_BYTES}-byte file)"
        slow_download dl.file "$FPID" 127.0.0.1 "$PORT" /files/big.bin /files/warm.bin
        srv_ok "$FPID" download "the slow download"
        stop_srv download "$FPID"
    fi
    rm -f "$T/files/big.bin"
else
    log "sendfile download: skipped, $DOWNLOAD does not exist yet (examples/download.c; or pass --file-url)"
fi

# ==== 4: one connection, UP_BYTES, demo vs nginx (and the sink diagnostics), interleaved ====
NGD=$T/nginx
pick_port
NGPORT=$PORT
nginx_conf "$NGD" on 1024 "    default_type text/plain;
    client_body_buffer_size $NGINX_BUF;
    client_max_body_size 0;
    server {
        listen 127.0.0.1:$NGPORT;
        location = /upload { return 200 \"ok\\n\"; }
        location / { return 200 \"Hello, World!\"; }
    }"
SIDES="demo nginx"
declare -A PID_OF PORT_OF PATH_OF
start_demo thr || exit 1
PID_OF[demo]=$DPID PORT_OF[demo]=$DPORT PATH_OF[demo]=/upload
PORT=$NGPORT
start_srv nginx "$NGINX" -p "$NGD/" -c "$NGD/nginx.conf" -e "$NGD/error.log" || exit 1
PID_OF[nginx]=$SPID PORT_OF[nginx]=$NGPORT PATH_OF[nginx]=/upload
if [ $SINK = 1 ]; then
    pick_port
    if start_srv sink build/bench-sink --port "$PORT" --workers 1; then
        SIDES="$SIDES sink-discard sink-crc8"
        PID_OF[sink-discard]=$SPID PORT_OF[sink-discard]=$PORT PATH_OF[sink-discard]=/discard
        PID_OF[sink-crc8]=$SPID PORT_OF[sink-crc8]=$PORT PATH_OF[sink-crc8]=/upload
    fi
fi

# every side: a request, then GET / on the same connection right after the body; the clock
# stops at the second response, which no server can send before consuming the whole body
up_run() {  # side round
    local s=$1 r=$2 out rc t0 t1 crc=() others oticks
    [ "$s" = nginx ] || [ "$s" = sink-discard ] && crc=(--no-crc)
    others_snapshot >"$T/others.before"
    t0=$(cpu_ticks "${PID_OF[$s]}")
    out=$(UPLOAD --port "${PORT_OF[$s]}" --path "${PATH_OF[$s]}" --bytes "$UP_BYTES" --follow / --timeout 60 "${crc[@]}" 2>"$T/thr.$s.$r.err")
    rc=$?
    t1=$(cpu_ticks "${PID_OF[$s]}")
    others_snapshot >"$T/others.after"
    local el
    el=$(kv elapsed "$out")
    read -r others oticks < <(others_pct "$T/others.before" "$T/others.after" "${el:-1}")
    [ "$rc" -ne 0 ] && note "$s upload round $r failed: $out $(head -c 300 "$T/thr.$s.$r.err" | tr '\n' ' ')"
    # (a run of 0.2 s is 20 ticks: one tick of a background process is 5 %, so ask for 3)
    [ "${others:-0}" -gt "$BUSY_PCT" ] && [ "${oticks:-0}" -ge 3 ] &&
        note "$s round $r: other processes used ${others}% of a CPU ($oticks ticks) during the run"
    srv_ok "${PID_OF[$s]}" "$s" "upload round $r"
    R[$s.$r.gbps]=$(kv GBps "$out")
    R[$s.$r.cpu]=$(calc "($t1 - $t0) / $HZ")
    R[$s.$r.resp]=$(sed -n 's/.*resp="\([^"]*\)".*/\1/p' <<<"$out")
    log "$(printf '%-12s round %-4s %7s GB/s  %6.3f s  server CPU %5.2f s  others %s%%  resp %s' "$s" "$r" "${R[$s.$r.gbps]}" "${el:-0}" "${R[$s.$r.cpu]}" "$others" "${R[$s.$r.resp]}")"
}
for s in $SIDES; do UPLOAD --port "${PORT_OF[$s]}" --path "${PATH_OF[$s]}" --bytes 67108864 --follow / --no-crc >/dev/null ||
    note "$s: warm-up upload failed"; done
for ((r = 1; r <= ROUNDS; r++)); do
    for s in $SIDES; do up_run "$s" "$r"; done
done
for s in $SIDES; do
    g=() c=()
    for ((r = 1; r <= ROUNDS; r++)); do g+=("${R[$s.$r.gbps]:-0}"); c+=("${R[$s.$r.cpu]:-0}"); done
    R[$s.gbps]=$(median "${g[@]}")
    R[$s.gbps.all]="${g[*]}"
    R[$s.cpu]=$(median "${c[@]}")
done

# does nginx read the body? its worker's recv calls around one 64 MiB upload, summed
if command -v strace >/dev/null 2>&1; then
    wk=$(proc_tree "${PID_OF[nginx]}"); wk=${wk#* }; wk=${wk%% *}
    if [ -n "$wk" ] && [ "$wk" != "${PID_OF[nginx]}" ]; then
        timeout -s KILL 60 strace -qq -p "$wk" -e trace=recvfrom,read,readv -e signal=none -o "$T/nginx.strace" 2>/dev/null &
        sp=$!
        STARTED+=("$sp")
        sleep 0.5
        UPLOAD --port "$NGPORT" --bytes 67108864 --follow / --no-crc >/dev/null || note "nginx: strace upload failed"
        sleep 0.3
        kill -INT "$sp" 2>/dev/null
        reap "$sp" 50
        R[ng.strace]=$(awk '/^(recvfrom|read|readv)\(/ { n++; if (match($0, /= [0-9]+$/)) { v = substr($0, RSTART + 2) + 0; b += v; if (v > mx) mx = v } }
            END { printf "%d calls, %d bytes received (body 67108864 + 2 heads), largest %d, mean %.0f bytes/call", n, b, mx, n ? b / n : 0 }' "$T/nginx.strace")
        log "nginx worker under strace, one 64 MiB upload: ${R[ng.strace]}"
    fi
fi

# the demo's time goes where? one more upload under perf (only when the target is missed)
DEMO_OK=$(awk -v v="${R[demo.gbps]:-0}" -v l="$GBPS_MIN" 'BEGIN { print (v + 0 >= l + 0) ? 1 : 0 }')
if [ "$DEMO_OK" = 0 ] && [ "${STREAM_PERF:-1}" = 1 ] && command -v perf >/dev/null 2>&1; then
    timeout -s KILL 60 perf record -q -F 999 -o "$T/perf.data" -p "${PID_OF[demo]}" >/dev/null 2>&1 &
    pp=$!
    STARTED+=("$pp")
    sleep 0.5
    UPLOAD --port "${PORT_OF[demo]}" --bytes "$UP_BYTES" --follow / --no-crc >/dev/null
    kill -INT "$pp" 2>/dev/null
    reap "$pp" 100
    R[perf]=$(perf report -i "$T/perf.data" --stdio --no-children --sort dso,sym 2>/dev/null |
        awk '/^ +[0-9.]+%/ && n < 6 { sub(/^ +/, ""); gsub(/ +/, " "); printf "%s%s", (n ? "; " : ""), $0; n++ }')
    log "perf (demo during one upload): ${R[perf]}"
fi
for s in $SIDES; do [ "$s" = sink-crc8 ] && continue; stop_srv "$s" "${PID_OF[$s]}"; done

# ==== the table ====
ok() { awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN { if (v == "" || v == "-") { print "?"; exit }
    ok = (op == "lt") ? (v + 0 < l + 0) : (op == "le") ? (v + 0 <= l + 0) : (v + 0 >= l + 0); print ok ? "ok" : "MISS" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.3f", a / b }'; }
row() { printf '%-50s %16s   %-26s %s\n' "$@"; }
{
    echo
    echo "httpd.h bench/streaming.sh  $(date -u '+%Y-%m-%d %H:%M UTC')  $(nproc) CPUs, server on CPU $SRV_CPU, clients on CPU $LG_CPU, demo --workers 1"
    row "metric" "value" "target" ""
    printf '%.0s-' {1..100}; echo
    v=${R[up1.growth]}; [ "${R[up1.ok]}" = 1 ] || v="$v(failed)"
    row "1 GiB upload, 1 conn: server RSS growth" "$v kB" "< $UP_LIMIT_KB kB" "$( [ "${R[up1.ok]}" = 1 ] && ok "${R[up1.growth]}" lt $UP_LIMIT_KB || echo MISS)"
    v=${R[conc.growth]}; [ "${R[conc.ok]}" = 1 ] || v="$v(failed)"
    row "$CONC_N x $((CONC_BYTES >> 20)) MiB concurrent uploads: RSS growth" "$v kB" "<= $CONC_N x $READ_BUF_KB + $CONST_KB = ${R[conc.limit]} kB" "$( [ "${R[conc.ok]}" = 1 ] && ok "${R[conc.growth]}" le "${R[conc.limit]}" || echo MISS)"
    row "  per connection" "$(calc "${R[conc.growth]} / $CONC_N") kB" "" ""
    row "  RSS $SETTLE s after the burst (informative)" "${R[conc.back]} kB" "<= before ${R[conc.before]} + $BACK_KB kB" "$(ok "${R[conc.back]}" le $((${R[conc.before]:-0} + BACK_KB)))"
    dl_row() {  # key label
        local k=$1
        if [ -z "${R[$k.growth]:-}" ]; then
            row "$2: RSS" "not sampled" "flat (< $FLAT_KB kB)" "?"
        else
            row "$2: RSS min/max (0.5 s)" "${R[$k.min]}/${R[$k.max]} kB" "" ""
            row "  peak growth (VmHWM - before)" "${R[$k.growth]} kB" "flat (< $FLAT_KB kB)" "$( [ "${R[$k.ok]}" = 1 ] && ok "${R[$k.growth]}" lt $FLAT_KB || echo MISS)"
        fi
        row "  client" "$(kv MBps "${R[$k.out]}") MB/s" "complete, $DL_RATE MB/s cap" "$( [ "${R[$k.ok]}" = 1 ] && echo ok || echo MISS)"
    }
    dl_row dl.demo "GET /bytes/1 GiB, slow reader"
    if [ -n "$FILE_ROW" ]; then dl_row dl.file "sendfile download, slow reader"
    else row "sendfile download (build/download)" "skipped" "(binary not built)" ""; fi
    row "1 GiB upload, 1 conn: demo GB/s (median)" "${R[demo.gbps]}" ">= $GBPS_MIN GB/s" "$(ok "${R[demo.gbps]}" ge $GBPS_MIN)"
    row "  nginx GB/s (median)" "${R[nginx.gbps]}" "" ""
    row "  demo/nginx" "$(ratio "${R[demo.gbps]}" "${R[nginx.gbps]}")" "" ""
    if [ $SINK = 1 ]; then
        row "  diag: bench/sink /discard GB/s (library only)" "${R[sink-discard.gbps]:-}" "" ""
        row "  diag: bench/sink /upload, CRC slice-by-8" "${R[sink-crc8.gbps]:-}" "" ""
    fi
    echo
    echo "per-run GB/s, rounds 1..$ROUNDS interleaved ($SIDES), server CPU s per run (median):"
    for s in $SIDES; do printf '  %-13s %-30s CPU %s s\n' "$s" "${R[$s.gbps.all]}" "${R[$s.cpu]}"; done
    echo "responses: demo \"${R[demo.1.resp]:-}\", nginx \"${R[nginx.1.resp]:-}\" (each followed by GET / on the same connection, timed to its answer)"
    [ -n "${R[ng.strace]:-}" ] && echo "nginx worker, one 64 MiB upload under strace: ${R[ng.strace]}"
    echo "nginx: client_body_buffer_size $NGINX_BUF, client_max_body_size 0, location = /upload { return 200; } (body discarded)"
    [ -n "${R[perf]:-}" ] && echo "perf, demo during one more 1 GiB upload (top symbols): ${R[perf]}"
    echo "1 GiB upload: ${R[up1.detail]}"
    echo "concurrent: ${R[conc.detail]}"
    echo "  after the burst, RSS (kB) every 5 s: ${R[conc.settle]}"
    echo "download /bytes: ${R[dl.demo.detail]}; ${R[dl.demo.out]}"
    [ -n "${R[dl.demo.samples]:-}" ] && echo "  RSS samples (kB): ${R[dl.demo.samples]}"
    if [ -n "$FILE_ROW" ]; then
        echo "download $FILE_ROW: ${R[dl.file.detail]:-}; ${R[dl.file.out]:-}"
        [ -n "${R[dl.file.samples]:-}" ] && echo "  RSS samples (kB): ${R[dl.file.samples]}"
    fi
    if [ ${#NOTES[@]} -gt 0 ]; then
        echo "NOTES (things that looked wrong):"
        for n in "${NOTES[@]}"; do echo "  - $n"; done
    else
        echo "checks: every upload got 200 with bytes=N (and the CRC-32) matching, downloads complete, servers alive, clean exits"
    fi
    echo "total time ${SECONDS}s"
} | tee "$T/table.txt"
