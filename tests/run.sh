#!/usr/bin/env bash
# Runs every suite, each bounded in time, and sums their "N passed, N failed" lines.
# C unit tests are built with ASan+UBSan (and the server test also with TSan) by the Makefile;
# Python suites drive build/demo-asan over loopback with real clients.
# Suites run side by side, because most of them mostly wait (timeouts, sleeps, real
# clients), in a pool of SLOTS (default: 8 per core) that each takes a share of by the CPU
# it keeps busy (below); each one's output goes to a file and is printed as one block, in
# the order queued below, once it and those before it are done.
#   BACKENDS="poll kqueue": also the suites named in SUBSET against build-poll/, build-kqueue/.
#   BUILD_REST="make arguments": the Makefile built only build/demo-asan and build/demo; the
#     rest is built by that make, niced, in the pool, while the READY suites already run.
#   UNITS="test_parser replay_parser ...": the C programs to run (default: those built).
#   ONLY="test_http.py replay_worker kqueue:test_http.py ...": just those.
set -u
cd "$(dirname "$0")/.."
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
BUILD=${BUILD:-build}                  # build-poll, build-kqueue: the other backends
SLOTS=${SLOTS:-$(( 8 * $(nproc) ))}
PY=/usr/bin/python3

# Slots a suite takes, an eighth of a core each (measured: CPU time over wall time, printed
# with each suite): 16, two cores (two compilers at a time); 8, one; the rest mostly wait
# (1; 2 with a browser, whose time is not counted). The fuzzers run for a fixed time: beside
# them only suites that mostly wait (12). The build, niced (the suites come first), takes 4.
W16=" features "
W12=" fuzz "
W8=" compile_check test_soak.py test_ws "
W4=" build "
W2=" test_static.py test_forms.py test_ws.py test_tls.py test_multipart "
# What needs nothing more than build/demo-asan and build/demo (or nothing built at all)
READY=" compile_check features test_concurrency.py test_cors.py test_deploy.py test_http.py
        test_mw.py test_proxy.py test_smuggling.py test_soak.py test_streaming.py test_tasks.py
        test_timeouts.py test_ws_conformance.py "
# Started first: the longest, and the widest (which wait for the pool to empty); their
# output still comes in its place.
FIRST=" features build test_soak.py test_timeouts.py test_deploy.py fuzz compile_check "
has() { case "$1" in *[[:space:]]"$2"[[:space:]]*) ;; *) false ;; esac; }

# The queue, one entry per job: name, key (for ONLY; "poll:test_http.py" for a backend's),
# slots, timeout, build directory, the job to wait for (the build, or -1), command (quoted).
names=(); keys=(); weights=(); secs=(); dirs=(); after=(); cmds=()
b=-1                                       # the build job's index
queue() {  # name key timeout-seconds build-dir command...
    local base=${2#*:} w=1 a=$b
    has "$W16" "$base" && w=16; has "$W12" "$base" && w=12; has "$W8" "$base" && w=8
    has "$W4" "$base" && w=4; has "$W2" "$base" && w=2
    [ "$w" -gt "$SLOTS" ] && w=$SLOTS      # more than the pool would wait for ever
    { [ "$2" = "$base" ] && has "$READY" "$base"; } && a=-1
    names+=("$1"); keys+=("$2"); weights+=("$w"); secs+=("$3"); dirs+=("$4"); after+=("$a")
    shift 4; cmds+=("$(printf '%q ' "$@")")
}
wanted() { [ -z "${ONLY:-}" ] || has " $ONLY " "$1"; }
suite() {  # prefix build-dir name: queue that suite of that build directory if wanted
    local pre=$1 d=$2 n=$3
    wanted "$pre$n" || return 0
    case "$n" in
        replay_*) queue "${pre}fuzz replay ${n#replay_}" "$pre$n" 300 "$d" \
                      "$d/$n" "fuzz/corpus/${n#replay_}" ;;   # fuzz corpora as regression inputs
        *.py)     queue "$pre$n" "$pre$n" 600 "$d" "$PY" "tests/$n" ;;
        *)        queue "$pre$n" "$pre$n" 300 "$d" "$d/$n" ;;
    esac
}

if [ -n "${BUILD_REST:-}" ]; then
    # shellcheck disable=SC2086  # make arguments
    queue build build 3600 "$BUILD" nice -n 10 make --no-print-directory $BUILD_REST
    b=0
fi
wanted compile_check && queue compile_check compile_check 300 "$BUILD" tests/compile_check.sh
wanted features && queue features features 300 "$BUILD" tests/features.sh  # compile-out switches
if [ -n "${UNITS:-}" ]; then units=($UNITS); else
    units=(); for t in "$BUILD"/test_* "$BUILD"/replay_*; do [ -x "$t" ] && units+=("${t##*/}"); done
fi
for t in "${units[@]+"${units[@]}"}"; do suite "" "$BUILD" "$t"; done
if [ "${FUZZ_SECONDS:-0}" -gt 0 ] && [ "$BUILD" = build ] && command -v clang >/dev/null \
   && wanted fuzz; then  # CI
    queue "fuzz ${FUZZ_SECONDS}s each" fuzz $((FUZZ_SECONDS * 6 + 300)) "$BUILD" tests/fuzz_ci.sh
fi
for t in tests/test_*.py; do
    [ -f "$t" ] && suite "" "$BUILD" "${t##*/}"
done
for be in ${BACKENDS:-}; do                 # named, as they may not be built yet
    for t in ${SUBSET:-}; do suite "$be:" "build-$be" "$t"; done
done
n=${#names[@]}
order=()                                   # the order of starting: FIRST, then the queue's
for k in $FIRST; do for ((i = 0; i < n; i++)); do [ "${keys[i]}" = "$k" ] && order+=("$i"); done; done
for ((i = 0; i < n; i++)); do has "$FIRST" "${keys[i]}" || order+=("$i"); done

out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
# a finished job writes its index to this fifo: the pool wakes as soon as one is done
# (fd 9: make's jobserver, which the build job uses, may hold low ones)
mkfifo "$out/done"; exec 9<>"$out/done"
start() {  # index: run the job in the background, bounded in time, output to a file
    local i=$1 argv
    eval "argv=(${cmds[i]})"
    (   t0=$SECONDS; TIMEFORMAT='%0U %0S'
        # PORT_BASE: each suite's own range for the ports it picks itself (pyharness.free_port)
        { time BUILD=${dirs[i]} DEMO=${DEMO:-${dirs[i]}/demo-asan} PORT_BASE=$((10000 + i % 75 * 300)) \
              timeout -k 5 "${secs[i]}" "${argv[@]}" >"$out/$i.out" 2>&1 9>&-; } 2>"$out/$i.cpu"
        echo "$? $((SECONDS - t0))" >"$out/$i.rc"
        echo "$i" >&9 ) &
}
total_p=0; total_f=0; broken=()
show() {  # index: print the job's block, count its result
    local i=$1 name=${names[$1]} rc wall u s line p f
    read -r rc wall <"$out/$i.rc"; read -r u s <"$out/$i.cpu"
    echo "== $name"
    cat "$out/$i.out"
    echo "   ($name: $wall s, CPU $((u + s)) s)"
    if [ "$i" -eq "$b" ]; then             # the build counts only when it fails
        [ "$rc" -eq 0 ] || { total_f=$((total_f + 1)); broken+=("$name (rc=$rc)"); }
        return
    fi
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out/$i.out" | tail -n 1)
    if [ -z "$line" ]; then
        total_f=$((total_f + 1)); broken+=("$name (rc=$rc, no result line)")
    else
        p=${line%% passed*}; f=${line#*passed, }; f=${f%% failed*}
        total_p=$((total_p + p)); total_f=$((total_f + f))
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
            total_f=$((total_f + 1)); broken+=("$name (rc=$rc)")
        fi
    fi
}
shown=0; used=0; state=()                  # state: r running, d done
while :; do
    # start in order what fits in the pool; one that waits for the build is passed over,
    # one that does not fit is waited for (nothing after it starts, or it could wait for ever)
    for j in "${order[@]}"; do
        [ -z "${state[j]:-}" ] || continue
        a=${after[j]}
        if [ "$a" -ge 0 ]; then
            [ "${state[a]:-}" = d ] || continue
            if [ "$(cut -d' ' -f1 "$out/$a.rc")" -ne 0 ]; then   # not run: no programs
                echo "not run: the build failed" >"$out/$j.out"; echo "1 0" >"$out/$j.rc"
                echo "0 0" >"$out/$j.cpu"; state[j]=d; continue
            fi
        fi
        [ $((used + weights[j])) -le "$SLOTS" ] || break
        start "$j"; state[j]=r; used=$((used + weights[j]))
    done
    while [ "$shown" -lt "$n" ] && [ "${state[shown]:-}" = d ]; do show "$shown"; shown=$((shown + 1)); done
    [ "$shown" -lt "$n" ] || break
    read -r i <&9
    used=$((used - weights[i])); state[i]=d
done
for f in "${broken[@]+"${broken[@]}"}"; do echo "BROKEN: $f"; done
echo "all suites: ${SECONDS} s"
echo "$total_p passed, $total_f failed"
[ "$total_f" -eq 0 ]
