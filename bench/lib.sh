# bench/lib.sh - helpers shared by the bench/ scripts (sourced, not run).
# shellcheck shell=bash
#
# bench_init PREFIX: makes the temp dir T=/tmp/PREFIX.XXXXXX, empties STARTED (PIDs the
# script started and has not reaped yet) and NOTES (anything that looks wrong), and installs
# the traps: on exit every started process tree is SIGKILLed and T removed (kept with
# BENCH_KEEP=1). Needs HZ (getconf CLK_TCK) set by the caller for others_pct, and
# NEXT_PORT (first port - 1) for pick_port.

log() { printf '[%5ds] %s\n' "$SECONDS" "$*" >&2; }
note() { NOTES+=("$*"); log "NOTE: $*"; }

alive() {  # pid exists and is not a zombie
    local s
    [ -r "/proc/$1/stat" ] || return 1
    s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    s=${s##*) }
    [ "${s%% *}" != Z ]
}
proc_tree() {  # a pid and all its descendants (one ps call; depth-bounded walk up the ppid chain)
    ps -eo pid=,ppid= | awk -v root="$1" '{ par[$1] = $2 }
        END { printf "%s", root
              for (x in par) { y = x; n = 0
                  while ((y in par) && y != root && n++ < 64) y = par[y]
                  if (y == root && x != root) printf " %s", x }
              print "" }'
}
forget() { local p keep=(); for p in "${STARTED[@]}"; do [ "$p" != "$1" ] && keep+=("$p"); done; STARTED=("${keep[@]}"); }
reap() {  # wait for our child $1 at most $2 tenths of a second, then SIGKILL it
    local i
    for ((i = 0; i < $2; i++)); do alive "$1" || break; sleep 0.1; done
    alive "$1" && { kill -KILL "$1" 2>/dev/null; sleep 0.1; }
    wait "$1" 2>/dev/null
    local rc=$?
    forget "$1"
    return $rc
}
cleanup() {
    local p q
    for p in "${STARTED[@]}"; do
        for q in $(proc_tree "$p"); do alive "$q" && kill -KILL "$q" 2>/dev/null; done
    done
    wait 2>/dev/null
    if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "raw logs kept in $T" >&2; else rm -rf "$T"; fi
}
bench_init() {
    T=$(mktemp -d "/tmp/$1.XXXXXX")
    STARTED=()
    NOTES=()
    trap cleanup EXIT
    trap 'exit 130' INT TERM
}
# stop_pid NAME PID TENTHS: SIGTERM, wait up to TENTHS tenths of a second, then SIGKILL the
# process and whatever of its tree is left; notes a slow or non-zero exit.
stop_pid() {
    local name=$1 pid=$2 tree q rc i
    tree=$(proc_tree "$pid")
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < $3; i++)); do alive "$pid" || break; sleep 0.1; done
    alive "$pid" && note "$name did not exit within $(($3 / 10)) s of SIGTERM; killed"
    reap "$pid" 1
    rc=$?
    for q in $tree; do [ "$q" != "$pid" ] && alive "$q" && kill -KILL "$q" 2>/dev/null; done
    [ $rc -ne 0 ] && note "$name exited with status $rc after SIGTERM"
    return 0
}

status_kb() {  # field (VmRSS|VmHWM) summed over the process tree of $2, in kB
    local tot=0 p v
    for p in $(proc_tree "$2"); do
        v=$(awk -v f="$1:" '$1 == f { print $2 }' "/proc/$p/status" 2>/dev/null)
        tot=$((tot + ${v:-0}))
    done
    echo $tot
}
cpu_ticks() {  # utime+stime (clock ticks) summed over the process tree of $1
    local tot=0 p s
    for p in $(proc_tree "$1"); do
        s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
        s=${s##*) }
        set -- $s
        tot=$((tot + ${12} + ${13}))
    done
    echo $tot
}
others_snapshot() {  # "pid ticks" for every user process outside this script's own tree
    local mine f s p
    mine=" $(proc_tree $$) "
    for f in /proc/[0-9]*/stat; do
        { read -r s <"$f"; } 2>/dev/null || continue
        p=${f#/proc/}
        p=${p%/stat}
        case $mine in *" $p "*) continue ;; esac
        s=${s##*) }
        set -- $s
        [ "$2" = 2 ] || [ "$p" = 2 ] && continue    # kernel threads
        echo "$p $((${12} + ${13}))"
    done
}
others_pct() {  # before-file after-file seconds -> "% of one CPU used by other processes" "ticks"
    awk -v hz="$HZ" -v sec="$3" 'NR == FNR { b[$1] = $2; next }
        { d = $2 - ($1 in b ? b[$1] : 0); if (d > 0) t += d }
        END { printf "%.0f %d", (sec > 0 ? t / hz / sec * 100 : 0), t }' "$1" "$2"
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() {  # sets PORT to the next free loopback port after NEXT_PORT
    while :; do
        NEXT_PORT=$((NEXT_PORT + 1))
        port_open $NEXT_PORT || { PORT=$NEXT_PORT; return; }
    done
}
calc() { awk "BEGIN { printf \"%s\", $* }"; }
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR) print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }
kv() { sed -n "s/.* $1=\\([^ ]*\\).*/\\1/p" <<<" $2"; }   # value of key=value in a line

# nginx_conf DIR MASTER(on|off) CONNS HTTP_LINES: DIR/nginx.conf for one nginx worker with
# its own prefix (pid, error log and temp paths in DIR; nothing from /etc/nginx), access log
# off, keep-alive without a request cap; HTTP_LINES (the caller's http-level directives and
# server blocks) go at the end of the http block.
nginx_conf() {
    local d=$1 hard rl=30000
    hard=$(ulimit -Hn)
    if [ "$hard" != unlimited ] && [ "$hard" -lt "$rl" ]; then rl=$hard; fi
    mkdir -p "$d"
    cat >"$d/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process $2;
pid $d/nginx.pid;
error_log $d/error.log;
worker_rlimit_nofile $rl;
events { worker_connections $3; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $d/body;
    proxy_temp_path $d/proxy;
    fastcgi_temp_path $d/fastcgi;
    uwsgi_temp_path $d/uwsgi;
    scgi_temp_path $d/scgi;
$4
}
EOF
}
