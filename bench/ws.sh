#!/usr/bin/env bash
# bench/ws.sh - WebSocket benchmark: 64-byte echo on one worker, server CPU per message side
# by side with Node `ws` and Python `websockets` echo servers (same machine, same run, same
# client: bench/wsload.c), messages/s at 1 and 100 connections, and userspace memory per
# idle WebSocket (10,000 open with heartbeats on) against an idle HTTP keep-alive connection.
#   bench/ws.sh            (SECONDS_PER_RUN=5 WS_IDLE_N=10000 to change)
# Needs build/demo (make build/demo), node with node-ws, python3-websockets. Loopback only.
set -u
cd "$(dirname "$0")/.."
HZ=$(getconf CLK_TCK)
NEXT_PORT=19300
source bench/lib.sh
bench_init bench-ws
DUR=${SECONDS_PER_RUN:-5}
IDLE_N=${WS_IDLE_N:-10000}
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
cc -O2 -Wall -o "$T/wsload" bench/wsload.c || exit 2
cc -O2 -Wall -o "$T/idle_conns" bench/idle_conns.c || exit 2
[ -x build/demo ] || make -s build/demo || exit 2
export NODE_PATH=${NODE_PATH:-/usr/share/nodejs}

ticks() { local s; s=$(cat "/proc/$1/stat"); s=${s##*) }; set -- $s; echo $(( ${12} + ${13} )); }
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
port_up() { local i; for ((i = 0; i < 100; i++)); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }

start_server() {  # name port -> PID in SRV
    case $1 in
    httpd) build/demo --port "$2" --workers 1 >"$T/$1.log" 2>&1 & ;;
    node)  node bench/ws_echo_node.js "$2" >"$T/$1.log" 2>&1 & ;;
    python) /usr/bin/python3 bench/ws_echo_py.py "$2" >"$T/$1.log" 2>&1 & ;;
    esac
    SRV=$!
    STARTED+=("$SRV")
    port_up "$2" || { note "$1 did not start"; return 1; }
}
declare -A R
for s in httpd node python; do
    port=$((NEXT_PORT += 1))
    start_server "$s" "$port" || continue
    for run in 1x1 100x1 100x16; do
        c=${run%x*} w=${run#*x}
        t0=$(ticks "$SRV")
        out=$("$T/wsload" --port "$port" --conns "$c" --window "$w" --size 64 --seconds "$DUR")
        t1=$(ticks "$SRV")
        msgs=$(sed -n 's/.* msgs=\([0-9]*\).*/\1/p' <<<"$out")
        rate=$(sed -n 's/.* rate=\([0-9]*\).*/\1/p' <<<"$out")
        R[$s.$run.rate]=$rate
        R[$s.$run.cpu]=$(awk -v t=$((t1 - t0)) -v hz="$HZ" -v m="$msgs" 'BEGIN { printf "%.2f", m ? t / hz * 1e6 / m : 0 }')
        log "$s conns=$c window=$w: $out; server CPU $((t1 - t0)) ticks => ${R[$s.$run.cpu]} us/msg"
    done
    stop_pid "$s" "$SRV" 50
done

# idle memory: 10,000 WebSockets (pings every 2 s, so every one has been pinged and has
# answered during the hold) vs 10,000 idle HTTP keep-alive connections, fresh servers
for kind in ws http; do
    port=$((NEXT_PORT += 1))
    build/demo --port "$port" --workers 1 --max-connections $((IDLE_N + 100)) --ws-ping 2 \
        --ws-timeout 30 --keepalive-timeout 60 >"$T/idle.$kind.log" 2>&1 &
    SRV=$!; STARTED+=("$SRV")
    port_up "$port" || { note "demo did not start"; continue; }
    sleep 0.5
    before=$(rss "$SRV")
    if [ $kind = ws ]; then
        "$T/wsload" --port "$port" --conns "$IDLE_N" --idle 8 >"$T/idle.$kind.out" 2>&1 &
    else
        "$T/idle_conns" --port "$port" --conns "$IDLE_N" --timeout 15 >"$T/idle.$kind.out" 2>&1 &
    fi
    CL=$!; STARTED+=("$CL")
    for ((i = 0; i < 600; i++)); do grep -q '^ready' "$T/idle.$kind.out" && break; sleep 0.1; done
    sleep 5                                   # heartbeats: two pings each meanwhile
    after=$(rss "$SRV")
    R[idle.$kind]=$(( (after - before) * 1024 / IDLE_N ))
    log "idle $kind: RSS $before kB -> $after kB: $(tr '\n' ' ' <"$T/idle.$kind.out") => ${R[idle.$kind]} B/conn"
    reap "$CL" 150
    log "idle $kind client: $(tr '\n' ' ' <"$T/idle.$kind.out")"
    stop_pid demo "$SRV" 100
done

echo
echo "64-byte echo on one worker/thread: server CPU per message (us, user+system) and messages/s;"
echo "CxW = C connections with W messages each in flight"
printf '%-8s %10s %10s %10s   %10s %10s %10s\n' server "cpu 1x1" "cpu 100x1" "cpu 100x16" \
    "msg/s 1x1" "100x1" "100x16"
for s in httpd node python; do
    printf '%-8s %10s %10s %10s   %10s %10s %10s\n' "$s" "${R[$s.1x1.cpu]:-?}" "${R[$s.100x1.cpu]:-?}" \
        "${R[$s.100x16.cpu]:-?}" "${R[$s.1x1.rate]:-?}" "${R[$s.100x1.rate]:-?}" "${R[$s.100x16.rate]:-?}"
done
for run in 1x1 100x1 100x16; do
    awk -v r=$run -v a="${R[httpd.$run.cpu]:-0}" -v b="${R[node.$run.cpu]:-0}" \
        'BEGIN { if (b > 0) printf "httpd / node ws CPU per message (%s): %.3fx (target <= 0.25x)\n", r, a / b }'
done
echo "idle ($IDLE_N, heartbeats every 2 s): WebSocket ${R[idle.ws]:-?} B/conn, HTTP keep-alive ${R[idle.http]:-?} B/conn, difference $(( ${R[idle.ws]:-0} - ${R[idle.http]:-0} )) B (target <= 256)"
for n in "${NOTES[@]+"${NOTES[@]}"}"; do echo "NOTE: $n"; done
