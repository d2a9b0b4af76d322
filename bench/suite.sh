#!/usr/bin/env bash
# bench/suite.sh - `make bench`: build/demo against nginx, h2o, lighttpd and libmicrohttpd
# (bench/mhd_server.c), one worker each, every scenario of issue 16, then the plots and the
# generated part of bench/RESULTS.md. About 17 min; BENCH_QUICK=1: a ~4 min subset
# (one round, 2 s runs, three load levels, shutdown with keep-alive only). See bench/RESULTS.md for what each row is.
#
# Every server runs pinned to CPU $BENCH_SRV_CPU (0), every load generator to $BENCH_LG_CPU
# (1), loopback only. All five servers are up at once (an idle server costs nothing) and
# the runs go round-robin over them (A B C D E A B C D E ...), so drift on this shared
# machine hits all alike; figures are medians of BENCH_ROUNDS runs, with the spread
# (min-max) next to them, and ratios are to nginx.
# Knobs: BENCH_QUICK=1  BENCH_ROUNDS (3; quick 1)  BENCH_DUR (5 s per wrk run; quick 2)
#   BENCH_SERVERS="demo nginx h2o lighttpd mhd"  BENCH_PARTS="small static upload notes
#   ws tls shutdown idle openloop" (a subset to run)  BENCH_OUT=bench/results
#   BENCH_KEEP=1 (keep the temp dir)  BENCH_SRV_CPU=0 BENCH_LG_CPU=1
#   BENCH_NICE=-10 (the suite, its servers and clients run at this niceness when allowed:
#   on a shared machine other work, often niced, then delays a wake-up by less; without it
#   a CPU-bound neighbour put ~10 ms on every server's open-loop p99 at 5,000 req/s)
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
QUICK=${BENCH_QUICK:-0}
SERVERS=${BENCH_SERVERS:-demo nginx h2o lighttpd mhd}
PARTS=${BENCH_PARTS:-small static upload notes ws tls shutdown idle openloop}
if [ "$QUICK" = 1 ]; then ROUNDS=${BENCH_ROUNDS:-1}; DUR=${BENCH_DUR:-2}; else ROUNDS=${BENCH_ROUNDS:-3}; DUR=${BENCH_DUR:-5}; fi
OUT=${BENCH_OUT:-$ROOT/bench/results}
SRV_CPU=${BENCH_SRV_CPU:-0}
LG_CPU=${BENCH_LG_CPU:-1}
IDLE_N=${BENCH_IDLE_N:-10000}
HZ=$(getconf CLK_TCK)
NGINX=${NGINX:-/usr/sbin/nginx}
NEXT_PORT=$((26000 + ($$ % 100) * 60))
for t in wrk h2load taskset cc gnuplot "$NGINX" h2o lighttpd node; do
    command -v "$t" >/dev/null 2>&1 || { echo "suite.sh: missing tool: $t (make bench installs it)" >&2; exit 2; }
done
renice -n "${BENCH_NICE:--10}" -p $$ >/dev/null 2>&1 || true   # children inherit it
. bench/lib.sh
bench_init httpd-suite
chmod 755 "$T"                                  # h2o drops to its user; it reads the files
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
mkdir -p "$OUT"
declare -A R SPID SPORT
has() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }
R[started]=$(date -u '+%Y-%m-%d %H:%M UTC')

# ---- binaries and load tools ----
make -s build/demo build/notes_api build/demo-tls >/dev/null || exit 2
B=$T/bin
mkdir -p "$B"
cc -O2 -Wall -o "$B/mhd_server" bench/mhd_server.c -lmicrohttpd || exit 2
for p in openloop upload idle_conns loadgen; do cc -O2 -Wall -o "$B/$p" "bench/$p.c" -lpthread || exit 2; done
LG() { taskset -c "$LG_CPU" timeout -s KILL "$@"; }     # LG SECONDS cmd...

# ---- content: the same bytes for every server ----
W=$T/www
mkdir -p "$W/static"
printf 'Hello, World!' >"$W/hello.txt"
head -c 1024 /dev/urandom >"$W/static/1k.bin"
head -c 1048576 /dev/urandom >"$W/static/1m.bin"
chmod -R a+rX "$W"

# ---- peer configurations (their own files in $T, nothing from /etc) ----
nginx_conf_suite() {  # dir port
    nginx_conf "$1" on 19000 "    default_type text/plain;
    keepalive_timeout 120s;
    sendfile on;
    types { application/octet-stream bin; }
    server {
        listen 127.0.0.1:$2 backlog=4096;
        location = / { return 200 \"Hello, World!\"; }
        location /static/ { alias $W/static/; }
        location = /upload { client_max_body_size 0; return 200 \"ok\"; }
    }"
}
h2o_conf() {
    mkdir -p "$1"
    cat >"$1/h2o.conf" <<EOF
listen:
  host: 127.0.0.1
  port: $2
num-threads: 1
max-connections: 19000
user: root
pid-file: $1/h2o.pid
error-log: $1/error.log
http1-request-timeout: 120
hosts:
  default:
    paths:
      "/":
        file.file: $W/hello.txt
      "/static":
        file.dir: $W/static
EOF
}
lighttpd_conf() {
    mkdir -p "$1"
    cat >"$1/lighttpd.conf" <<EOF
server.document-root = "$W"
server.port = $2
server.bind = "127.0.0.1"
server.max-fds = 20000
server.max-connections = 16000
server.max-keep-alive-requests = 1000000
server.max-keep-alive-idle = 120
server.errorlog = "$1/error.log"
index-file.names = ( "hello.txt" )
mimetype.assign = ( ".txt" => "text/plain", ".bin" => "application/octet-stream" )
EOF
}
# start NAME [TAG]: SPID[NAME], SPORT[NAME]
start() {
    local s=$1 tag=${2:-main} i d
    pick_port
    d=$T/$s.$tag
    mkdir -p "$d"
    case $s in
    demo) taskset -c "$SRV_CPU" build/demo --host 127.0.0.1 --port "$PORT" --workers 1 --bare \
              --static-dir "$W/static" --upload-cap 209715200 --max-connections 19000 \
              --keepalive-timeout 120 >"$d/log" 2>&1 & ;;
    nginx) nginx_conf_suite "$d" "$PORT"
           taskset -c "$SRV_CPU" "$NGINX" -p "$d/" -c "$d/nginx.conf" -e "$d/error.log" >"$d/log" 2>&1 & ;;
    h2o) h2o_conf "$d" "$PORT"; taskset -c "$SRV_CPU" h2o -c "$d/h2o.conf" >"$d/log" 2>&1 & ;;
    lighttpd) lighttpd_conf "$d" "$PORT"; taskset -c "$SRV_CPU" lighttpd -D -f "$d/lighttpd.conf" >"$d/log" 2>&1 & ;;
    mhd) taskset -c "$SRV_CPU" "$B/mhd_server" --port "$PORT" --static-dir "$W/static" >"$d/log" 2>&1 & ;;
    esac
    SPID[$s]=$!
    SPORT[$s]=$PORT
    STARTED+=("${SPID[$s]}")
    for ((i = 0; i < 100; i++)); do port_open "$PORT" && break; alive "${SPID[$s]}" || break; sleep 0.1; done
    [ "$s" = demo ] && for ((i = 0; i < 50; i++)); do grep -q "listening on" "$d/log" && break; sleep 0.1; done
    port_open "$PORT" || { note "$s ($tag) did not start: $(tail -c 300 "$d/log" "$d/error.log" 2>/dev/null | tr '\n' ' ')"; return 1; }
    sleep 0.2
}
stop() { stop_pid "$1" "${SPID[$1]}" 100; }
up() { alive "${SPID[$1]}" || { note "$1 died ($2); restarting"; start "$1" "re$SECONDS"; }; }

# wrk_run SERVER KEY CONNS PATH EXTRA...: R[KEY.SERVER.rps|cpu] appended for the round
wrk_run() {
    local s=$1 key=$2 c=$3 path=$4; shift 4
    local url=http://127.0.0.1:${SPORT[$s]}$path out t0 t1 line
    t0=$(cpu_ticks "${SPID[$s]}")
    local opts=() rest=()                 # wrk's script arguments go after the URL
    while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
    rest=("$@")
    out=$(LG $((DUR + 30)) wrk -t1 "-c$c" "-d${DUR}s" --latency --timeout 5s "${opts[@]}" "$url" "${rest[@]}" 2>&1)
    t1=$(cpu_ticks "${SPID[$s]}")
    line=$(grep '^BENCHSUM' <<<"$out")
    if [ -z "$line" ]; then note "$s $key: wrk printed no summary: $(tail -c 200 <<<"$out" | tr '\n' ' ')"; up "$s" "$key"; return; fi
    local requests dur errs
    requests=$(kv requests "$line"); dur=$(kv duration_us "$line")
    errs=$(( $(kv connect "$line") + $(kv read "$line") + $(kv write "$line") + $(kv timeout "$line") + $(kv status "$line") ))
    [ "$errs" -gt 0 ] && note "$s $key: wrk errors: ${line#BENCHSUM }"
    R[$key.$s.rps]+=" $(calc "$requests / ($dur / 1e6)")"
    [ "$requests" -gt 0 ] && R[$key.$s.cpu]+=" $(calc "($t1 - $t0) * 1e6 / $HZ / $requests")"
    R[$key.$s.p99]+=" $(kv p99_us "$line")"
    R[$key.$s.err]=$(( ${R[$key.$s.err]:-0} + errs ))
    log "$s $key: $requests req, $(calc "$requests / ($dur / 1e6)") req/s, server $((t1 - t0)) ticks, errors $errs"
    up "$s" "$key"
}
# stats "v1 v2 ..." -> "median min max"
stats() { local m; m=$(median $1); printf '%s %s %s' "$m" "$(printf '%s\n' $1 | sort -g | head -1)" "$(printf '%s\n' $1 | sort -g | tail -1)"; }

log "temp dir $T; servers: $SERVERS; parts: $PARTS; rounds $ROUNDS x ${DUR}s; quick=$QUICK"
for s in $SERVERS; do start "$s" || exit 1; done

# ==== small payload: keep-alive, connection per request, pipelined x16 (wrk, 64 conns) ====
if has small; then
    for s in $SERVERS; do LG 20 wrk -t1 -c64 -d1s "http://127.0.0.1:${SPORT[$s]}/" >/dev/null 2>&1; done
    for ((r = 1; r <= ROUNDS; r++)); do
        for s in $SERVERS; do wrk_run "$s" ka 64 / -s bench/summary.lua; done
        for s in $SERVERS; do wrk_run "$s" close 64 / -H "Connection: close" -s bench/summary.lua; done
        for s in $SERVERS; do wrk_run "$s" pipe 64 / -s bench/pipeline.lua -- 16; done   # 16 per write
    done
fi
# pipeline.lua prints BENCHSUM too (its done() is summary.lua's)
# ==== static files: 1 KiB and 1 MiB, keep-alive, 16 conns ====
if has static; then
    for ((r = 1; r <= ROUNDS; r++)); do
        for f in 1k 1m; do
            for s in $SERVERS; do wrk_run "$s" "static$f" 16 "/static/$f.bin" -s bench/summary.lua; done
        done
    done
fi

# ==== uploads: 100 x 1 MiB at once, and one 100 MiB body (demo, nginx, mhd) ====
UP_SERVERS=$(for s in $SERVERS; do case $s in demo|nginx|mhd) printf '%s ' "$s" ;; esac; done)
if has upload; then
    for ((r = 1; r <= ROUNDS; r++)); do
        for kind in 1m 100m; do
            for s in $UP_SERVERS; do
                if [ $kind = 1m ]; then args=(--bytes 1048576 --conns 100); n=100; else args=(--bytes 104857600 --conns 1); n=1; fi
                t0=$(cpu_ticks "${SPID[$s]}")
                out=$(LG 120 "$B/upload" --port "${SPORT[$s]}" --path /upload --follow / --no-crc --timeout 100 "${args[@]}" 2>"$T/upload.err")
                t1=$(cpu_ticks "${SPID[$s]}")
                ok=$(kv ok "$out"); el=$(kv elapsed "$out")
                [ "$ok" = "$n" ] || note "$s upload $kind: $out $(head -c 200 "$T/upload.err")"
                R[up$kind.$s.mibps]+=" $(calc "$n * ${args[1]} / 1048576 / $el")"
                R[up$kind.$s.cpu]+=" $(calc "($t1 - $t0) * 1e6 / $HZ / ($n * ${args[1]} / 1048576)")"
                log "$s upload $kind: $out; server $((t1 - t0)) ticks"
                up "$s" upload
            done
        done
    done
fi

# ==== open-loop latency: fixed offered loads, keep-alive, 64 conns ====
if [ "$QUICK" = 1 ]; then LEVELS=${BENCH_LEVELS:-5000 10000 20000}; OLDUR=2; else LEVELS=${BENCH_LEVELS:-2000 5000 10000 15000 20000 25000 30000 40000}; OLDUR=5; fi
CURVE_AT=10000
if has openloop; then
    for s in $SERVERS; do LG 20 "$B/openloop" --port "${SPORT[$s]}" --rate 5000 --seconds 1 --conns 64 >/dev/null; done
    for lv in $LEVELS; do
        for s in $SERVERS; do
            out=$(LG $((OLDUR + 20)) "$B/openloop" --port "${SPORT[$s]}" --rate "$lv" --seconds "$OLDUR" \
                --conns 64 --curve "$T/curve.$s.$lv")
            R[ol.$s.$lv]=$out
            log "$s open loop $lv/s: $out"
            [ "$lv" = "$CURVE_AT" ] && cp "$T/curve.$s.$lv" "$OUT/curve.$s.dat"
            up "$s" openloop
        done
    done
fi

# ==== 10,000 idle keep-alive connections: server RSS delta, fresh servers ====
if has idle; then
    for s in $SERVERS; do stop "$s"; done
    for s in $SERVERS; do
        start "$s" idle || continue
        LG 30 "$B/loadgen" --port "${SPORT[$s]}" --requests 2000 --conns 8 >/dev/null 2>&1
        sleep 0.5
        before=$(status_kb VmRSS "${SPID[$s]}")
        taskset -c "$LG_CPU" "$B/idle_conns" --port "${SPORT[$s]}" --conns "$IDLE_N" --timeout 40 >"$T/idle.$s.out" 2>&1 &
        ip=$!; STARTED+=("$ip")
        for ((i = 0; i < 300; i++)); do grep -qE '^(ready|notready)' "$T/idle.$s.out" && break; alive "$ip" || break; sleep 0.1; done
        sleep 1
        after=$(status_kb VmRSS "${SPID[$s]}")
        kill -TERM "$ip" 2>/dev/null; reap "$ip" 50
        R[idle.$s]=$(calc "($after - $before) * 1024 / $IDLE_N")
        R[idle.$s.detail]="RSS $before -> $after kB; $(tr '\n' ' ' <"$T/idle.$s.out")"
        grep -q "^ready answered=$IDLE_N failed=0" "$T/idle.$s.out" || note "$s idle: $(tr '\n' ' ' <"$T/idle.$s.out")"
        log "$s idle: ${R[idle.$s.detail]} => ${R[idle.$s]} B/conn"
        stop "$s"
    done
    for s in $SERVERS; do start "$s" main2 || exit 1; done
fi

# ==== graceful shutdown under traffic: SIGTERM 2 s into a 5 s open-loop run ====
# failed = requests sent that got no complete 2xx (reset, EOF, timeout, bad status);
# refused = requests due after the listener closed (connect refused / never sent).
if has shutdown; then
    SHUT_MODES="ka close"; [ "$QUICK" = 1 ] && SHUT_MODES=ka
    for mode in $SHUT_MODES; do
        for s in $SERVERS nginx-quit; do
            case " $SERVERS " in *" ${s%-quit} "*) ;; *) continue ;; esac
            sig=TERM; srv=$s
            [ "$s" = nginx-quit ] && { sig=QUIT; srv=nginx; }   # nginx's graceful signal
            start "$srv" "shut.$mode.$s" || continue
            ma=(); [ $mode = close ] && ma=(--close)
            LG 30 "$B/openloop" --port "${SPORT[$srv]}" --rate 2000 --seconds 5 --conns 32 --timeout-ms 3000 "${ma[@]}" >"$T/shut.$s.$mode" 2>&1 &
            op=$!; STARTED+=("$op")
            sleep 2
            kill -"$sig" "${SPID[$srv]}"
            t0=$SECONDS
            for ((i = 0; i < 150; i++)); do alive "${SPID[$srv]}" || break; sleep 0.1; done
            exit_s=$((SECONDS - t0))
            alive "${SPID[$srv]}" && note "$s did not exit within 15 s of SIG$sig"
            reap "${SPID[$srv]}" 1
            for q in $(proc_tree "${SPID[$srv]}"); do alive "$q" && kill -KILL "$q"; done
            reap "$op" 200
            out=$(cat "$T/shut.$s.$mode")
            failed=$(( $(kv io "$out") + $(kv status "$out") + $(kv timeout "$out") ))
            refused=$(( $(kv connect "$out") + $(kv unsent "$out") ))
            R[shut.$mode.$s]="$(kv ok "$out") $failed $refused"
            log "$s SIG$sig under load ($mode): $out (exit within ${exit_s}s)"
        done
    done
fi
for s in $SERVERS; do alive "${SPID[$s]}" || start "$s" main3; done

# ==== notes_api (SQLite) mixed read/write, open loop: 90 % GET /notes/:id, 10 % POST ====
if has notes; then
    pick_port; np=$PORT
    taskset -c "$SRV_CPU" build/notes_api --host 127.0.0.1 --port "$np" --workers 1 --db "$T/notes.db" >"$T/notes.log" 2>&1 &
    npid=$!; STARTED+=("$npid")
    for ((i = 0; i < 100; i++)); do port_open "$np" && break; sleep 0.1; done
    for i in 1 2 3 4 5 6 7 8 9 10; do
        curl -s -o /dev/null -X POST -H 'Content-Type: application/json' -d '{"title":"seed","body":"seed note"}' "http://127.0.0.1:$np/notes"
    done
    if [ "$QUICK" = 1 ]; then NL="1000 4000 8000"; else NL="1000 2000 4000 8000 12000 16000"; fi
    R[notes.levels]=$NL
    for lv in $NL; do
        out=$(LG 40 "$B/openloop" --port "$np" --path /notes/5 --rate "$lv" --seconds "$OLDUR" --conns 64 \
            --post-every 10 --post-path /notes --post-body '{"title":"bench","body":"a note written under load"}')
        R[notes.$lv]=$out
        log "notes_api $lv/s: $out"
    done
    stop_pid notes_api "$npid" 100
fi
for s in $SERVERS; do stop "$s"; done

# ==== WebSocket (bench/ws.sh: demo vs Node ws and Python websockets) and HTTPS
# (bench/tls.sh: demo-tls vs nginx), their own scripts with shorter runs ====
if has ws; then
    log "bench/ws.sh"
    SECONDS_PER_RUN=$([ "$QUICK" = 1 ] && echo 2 || echo 5) WS_IDLE_N=$IDLE_N timeout -s KILL 600 bench/ws.sh >"$OUT/ws.txt" 2>"$T/ws.err" ||
        note "bench/ws.sh failed: $(tail -c 300 "$T/ws.err")"
fi
if has tls; then
    log "bench/tls.sh"
    if [ "$QUICK" = 1 ]; then tk=(BENCH_ROUNDS=1 BENCH_FULL_N=500 BENCH_RES_N=4000 BENCH_KA_N=40000 BENCH_IDLE_N=1000 BENCH_IDLE_WAIT=5)
    else tk=(BENCH_ROUNDS=3 BENCH_FULL_N=1000 BENCH_RES_N=10000 BENCH_KA_N=100000 BENCH_IDLE_N=2000); fi
    env "${tk[@]}" timeout -s KILL 900 bench/tls.sh >"$OUT/tls.txt" 2>"$T/tls.err" ||
        note "bench/tls.sh failed: $(tail -c 300 "$T/tls.err")"
fi

# ==== results: results.txt (every figure), the .dat files, the plots, RESULTS.md ====
R[elapsed]=$SECONDS
. bench/report.sh
