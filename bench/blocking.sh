#!/usr/bin/env bash
# p99 of GET / while other clients drive 20 ms of blocking work per request, with the
# work offloaded to the task pool (/block/20) vs done inline in the handler
# (/block-inline/20), in one run. One worker pinned to CPU 0, load on CPU 1.
# Usage: bench/blocking.sh [seconds]      (needs wrk; build/demo is built by make)
set -eu
cd "$(dirname "$0")/.."
SECS=${1:-5}
make -s build/demo
PORT=$(( 20000 + RANDOM % 20000 ))
taskset -c 0 build/demo --port "$PORT" --workers 1 --task-threads 8 --task-queue 1024 \
    > /tmp/httpd-blocking.$$ 2>&1 &
SRV=$!
trap 'kill $SRV 2>/dev/null; wait $SRV 2>/dev/null; rm -f /tmp/httpd-blocking.$$' EXIT
for _ in $(seq 50); do grep -q listening /tmp/httpd-blocking.$$ && break; sleep 0.1; done
run() {   # path -> prints p99 of GET / under 16 concurrent clients looping on path
    local path=$1
    /usr/bin/python3 - "$PORT" "$path" "$SECS" <<'PY' &
import socket, sys, threading, time
port, path, secs = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
end = time.time() + secs + 1
def loop():
    while time.time() < end:
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET %s HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n" % path.encode())
        while s.recv(4096):
            pass
        s.close()
th = [threading.Thread(target=loop) for _ in range(16)]
[t.start() for t in th]; [t.join() for t in th]
PY
    local load=$!
    sleep 0.5
    taskset -c 1 wrk -t1 -c4 -d"${SECS}s" --latency "http://127.0.0.1:$PORT/" \
        | awk '/ 99%/ {print $2} /Requests\/sec/ {print $2}' | paste -sd' '
    wait $load
}
echo "command: bench/blocking.sh $SECS   ($(date -u +%F))"
printf "%-28s %s\n" "blocking work" "GET / p99, req/s"
printf "%-28s %s\n" "offloaded (/block/20)" "$(run /block/20)"
printf "%-28s %s\n" "inline (/block-inline/20)" "$(run /block-inline/20)"
