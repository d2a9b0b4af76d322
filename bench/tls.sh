#!/usr/bin/env bash
# bench/tls.sh - HTTPS: httpd.h's build/demo-tls (BearSSL) against nginx (OpenSSL), one
# worker each on the same CPU, the load on the other, interleaved in one run. See bench/TLS.md.
#   full handshakes/s and resumed handshakes/s, ECDSA P-256 and RSA-2048 certificates
#     (bench/tlsload.c: TLS 1.2, ECDHE-{ECDSA,RSA}-AES128-GCM-SHA256, X25519, session IDs,
#     no tickets; each connection: handshake, GET /, close), with the server's CPU time
#     per handshake from /proc
#   HTTPS keep-alive: h2load --h1 (8 connections), server CPU per request and req/s
#   memory per idle TLS connection: N connections after one request each, server RSS delta
# nginx: TLS 1.2 only, the same two suites in the same order, ssl_session_cache shared,
# tickets off, the same certificates (made by tests/tls_certs.sh).
# Knobs: BENCH_FULL_N=2000 BENCH_RES_N=20000 BENCH_KA_N=200000 BENCH_IDLE_N=2000
#        BENCH_IDLE_WAIT=22 (s between opening the idle connections and reading RSS)
#        BENCH_ROUNDS=3 (median)  BENCH_SERVERS="demo nginx"  DEMO=build/demo-tls
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
DEMO=${DEMO:-$ROOT/build/demo-tls}
NGINX=${NGINX:-/usr/sbin/nginx}
SERVERS=${BENCH_SERVERS:-demo nginx}
FULL_N=${BENCH_FULL_N:-2000}
RES_N=${BENCH_RES_N:-20000}
KA_N=${BENCH_KA_N:-200000}
IDLE_N=${BENCH_IDLE_N:-2000}
ROUNDS=${BENCH_ROUNDS:-3}
SRV_CPU=${BENCH_SRV_CPU:-0}
LG_CPU=${BENCH_LG_CPU:-1}
HZ=$(getconf CLK_TCK)
for t in h2load taskset openssl cc "$NGINX"; do
    command -v "$t" >/dev/null 2>&1 || { echo "tls.sh: missing tool: $t" >&2; exit 2; }
done
[ -x "$DEMO" ] || { echo "tls.sh: $DEMO not built (make build/demo-tls)" >&2; exit 2; }
. bench/lib.sh
bench_init httpd-tls-bench
NEXT_PORT=$((21000 + ($$ % 200) * 20))
tests/tls_certs.sh "$T/certs" || exit 2
cc -O2 -Wall -o "$T/tlsload" bench/tlsload.c -lssl -lcrypto || exit 2
TLSLOAD() { taskset -c "$LG_CPU" timeout -s KILL 300 "$T/tlsload" "$@"; }
declare -A R

nginx_conf_tls() {  # dir port cert key
    nginx_conf "$1" on 10000 "    default_type text/plain;
    ssl_protocols TLSv1.2;
    ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256;
    ssl_prefer_server_ciphers on;
    ssl_session_cache shared:SSL:10m;
    ssl_session_tickets off;
    server {
        listen 127.0.0.1:$2 ssl backlog=4096;
        ssl_certificate $3;
        ssl_certificate_key $4;
        location / { return 200 \"Hello, World!\"; }
    }"
}
SPID=
start() {  # name cert(ec|rsa)
    local i
    pick_port
    local logf=$T/$1.$2.$SECONDS.log
    if [ "$1" = demo ]; then
        taskset -c "$SRV_CPU" "$DEMO" --host 127.0.0.1 --port 0 --workers 1 --tls-port "$PORT" \
            --tls-cert "$T/certs/$2.pem" --tls-key "$T/certs/$2.key" >"$logf" 2>&1 &
    else
        nginx_conf_tls "$T/nginx.$2" "$PORT" "$T/certs/$2.pem" "$T/certs/$2.key"
        taskset -c "$SRV_CPU" "$NGINX" -p "$T/nginx.$2/" -c "$T/nginx.$2/nginx.conf" >"$logf" 2>&1 &
    fi
    SPID=$!
    STARTED+=("$SPID")
    for ((i = 0; i < 100; i++)); do port_open "$PORT" && break; sleep 0.1; done
    [ "$1" = demo ] && for ((i = 0; i < 50; i++)); do grep -q "listening on" "$logf" && break; sleep 0.1; done
    sleep 0.3
}
stop() { stop_pid "$1" "$SPID" 100; }
# run NAME CERT METRIC COMMAND...: server CPU ticks and the client's rate, median of ROUNDS
measure() {
    local name=$1 cert=$2 metric=$3 n=$4; shift 4
    local cpus=() rates=() r c0 c1 out
    for ((r = 0; r < ROUNDS; r++)); do
        c0=$(cpu_ticks "$SPID")
        out=$("$@" 2>&1 | grep -E 'rate=|req/s' | head -3)
        c1=$(cpu_ticks "$SPID")
        local rate
        rate=$(kv rate "$out")
        [ -z "$rate" ] && rate=$(sed -n 's/.*, \([0-9.]*\) req\/s.*/\1/p' <<<"$out" | head -1)
        rates+=("${rate:-0}")
        cpus+=("$(calc "($c1 - $c0) * 1000000 / $HZ / $n")")   # us of server CPU per unit
        log "$name $cert $metric: rate ${rate:-?}/s, server $(calc "($c1 - $c0) * 1000000 / $HZ / $n") us/unit"
    done
    R[$name.$cert.$metric.rate]=$(median "${rates[@]}")
    R[$name.$cert.$metric.cpu]=$(median "${cpus[@]}")
}
for cert in ec rsa; do
    for name in $SERVERS; do
        start "$name" "$cert"
        TLSLOAD full 127.0.0.1 "$PORT" 50 4 >/dev/null 2>&1            # warm up
        measure "$name" "$cert" full "$FULL_N" TLSLOAD full 127.0.0.1 "$PORT" "$FULL_N" 8
        measure "$name" "$cert" resumed "$RES_N" TLSLOAD resume 127.0.0.1 "$PORT" "$RES_N" 8
        if [ "$cert" = ec ]; then
            measure "$name" "$cert" keepalive "$KA_N" taskset -c "$LG_CPU" h2load --h1 -n "$KA_N" \
                -c 8 --ciphers=ECDHE-ECDSA-AES128-GCM-SHA256 "https://127.0.0.1:$PORT/"
            # idle connections: RSS of the serving process (nginx: its worker)
            local_pid=$SPID
            [ "$name" = nginx ] && local_pid=$(pgrep -P "$SPID" | head -1)
            before=$(status_kb VmRSS "$local_pid")
            coproc IDLE { TLSLOAD idle 127.0.0.1 "$PORT" "$IDLE_N" 64; }
            STARTED+=("$IDLE_PID")
            read -r line <&"${IDLE[0]}"; read -r ready <&"${IDLE[0]}"
            # what the handshake burst left in free lists goes back within two of httpd.h's
            # 10 s trim periods; both servers are measured after the same wait
            sleep "${BENCH_IDLE_WAIT:-22}"
            after=$(status_kb VmRSS "$local_pid")
            R[$name.idle]=$(calc "($after - $before) * 1024 / $IDLE_N")
            log "$name: $IDLE_N idle TLS connections: RSS $before -> $after kB: ${R[$name.idle]} B each ($line)"
            exec {IDLE[1]}>&-
            reap "$IDLE_PID" 50
        fi
        stop "$name"
    done
done
echo
echo "== HTTPS, one worker (server CPU $SRV_CPU, load CPU $LG_CPU), medians of $ROUNDS"
printf '%-34s %14s %14s %8s\n' "" demo nginx "ratio"
row() {  # label key unit
    local d=${R[demo.$2]:-} n=${R[nginx.$2]:-}
    printf '%-34s %14s %14s %8s\n' "$1" "${d:--}$3" "${n:--}$3" \
        "$([ -n "$d" ] && [ -n "$n" ] && calc "$d / ($n + 1e-9)")"
}
for cert in ec rsa; do
    row "full handshakes/s ($cert)" "$cert.full.rate" ""
    row "  server CPU per full (us)" "$cert.full.cpu" ""
    row "resumed handshakes/s ($cert)" "$cert.resumed.rate" ""
    row "  server CPU per resumed (us)" "$cert.resumed.cpu" ""
done
row "keep-alive req/s (ec)" "ec.keepalive.rate" ""
row "  server CPU per request (us)" "ec.keepalive.cpu" ""
row "RSS per idle TLS connection (B)" "idle" ""
for n in "${NOTES[@]+"${NOTES[@]}"}"; do echo "NOTE: $n"; done
