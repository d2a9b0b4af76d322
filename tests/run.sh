#!/usr/bin/env bash
# Runs every suite, each bounded in time, and sums their "N passed, N failed" lines.
# C unit tests are built with ASan+UBSan (and the server test also with TSan) by the Makefile;
# Python suites drive build/demo-asan over loopback with real clients.
# Suites run side by side, because many of them mostly wait (timeouts, sleeps, real
# clients), in a pool of SLOTS (default: 2 per core) that each takes a share of by the CPU
# it keeps busy (below); each one's output goes to a file and is printed as one block, in
# the order queued below, once it and those before it are done. BACKENDS="poll kqueue" adds,
# for each, the suites named in SUBSET against build-poll/, build-kqueue/ (the Makefile
# builds them with the rest). ONLY="test_http.py replay_worker kqueue:test_http.py ...": just those.
set -u
cd "$(dirname "$0")/.."
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
BUILD=${BUILD:-build}                  # build-poll, build-kqueue: the other backends
SLOTS=${SLOTS:-$(( 2 * $(nproc) ))}
PY=/usr/bin/python3

# Slots a suite takes (measured: its CPU time over its wall time): 4, two cores (two
# fuzzers or compilers at a time; the fuzzers run for a fixed time, so they get them to
# themselves); 2, about a core; the others, 1, mostly wait.
W4=" features fuzz "
W2=" compile_check test_server test_multipart test_soak.py test_firmware.py test_streaming.py "
W2+=" test_cors.py test_proxy.py test_forms.py test_concurrency.py test_http.py "
# Started first, being the longest (the pool would otherwise end on one of them alone);
# their output still comes in its place.
FIRST=" fuzz test_soak.py test_timeouts.py test_deploy.py "

# The queue, one entry per suite: name, key (for ONLY; "poll:test_http.py" for a backend's),
# slots, timeout, build directory, command (%q-quoted).
names=(); keys=(); weights=(); secs=(); dirs=(); cmds=()
queue() {  # name key timeout-seconds build-dir command...
    local base=${2#*:} w=1
    case "$W4" in *" $base "*) w=4 ;; esac
    case "$W2" in *" $base "*) w=2 ;; esac
    [ "$w" -gt "$SLOTS" ] && w=$SLOTS      # more than the pool would wait for ever
    names+=("$1"); keys+=("$2"); weights+=("$w"); secs+=("$3"); dirs+=("$4")
    shift 4; cmds+=("$(printf '%q ' "$@")")
}
wanted() { [ -z "${ONLY:-}" ] || case " $ONLY " in *" $1 "*) ;; *) false ;; esac; }
suite() {  # prefix build-dir name: queue that suite of that build directory if wanted
    local pre=$1 b=$2 n=$3
    wanted "$pre$n" || return 0
    case "$n" in
        replay_*) queue "${pre}fuzz replay ${n#replay_}" "$pre$n" 300 "$b" \
                      "$b/$n" "fuzz/corpus/${n#replay_}" ;;   # fuzz corpora as regression inputs
        *.py)     queue "$pre$n" "$pre$n" 600 "$b" "$PY" "tests/$n" ;;
        *)        queue "$pre$n" "$pre$n" 300 "$b" "$b/$n" ;;
    esac
}

wanted compile_check && queue compile_check compile_check 300 "$BUILD" tests/compile_check.sh
wanted features && queue features features 300 "$BUILD" tests/features.sh  # compile-out switches
for t in "$BUILD"/test_* "$BUILD"/replay_*; do
    [ -x "$t" ] && suite "" "$BUILD" "$(basename "$t")"
done
if [ "${FUZZ_SECONDS:-0}" -gt 0 ] && [ "$BUILD" = build ] && command -v clang >/dev/null \
   && wanted fuzz; then  # CI
    queue "fuzz ${FUZZ_SECONDS}s each" fuzz $((FUZZ_SECONDS * 6 + 300)) "$BUILD" tests/fuzz_ci.sh
fi
for t in tests/test_*.py; do
    [ -f "$t" ] && suite "" "$BUILD" "$(basename "$t")"
done
for be in ${BACKENDS:-}; do                 # named, as they may not be built yet
    for n in ${SUBSET:-}; do suite "$be:" "build-$be" "$n"; done
done
n=${#names[@]}
order=()                                   # the order of starting: FIRST, then the queue's
for ((i = 0; i < n; i++)); do case "$FIRST" in *" ${keys[i]} "*) order+=("$i") ;; esac; done
for ((i = 0; i < n; i++)); do case "$FIRST" in *" ${keys[i]} "*) ;; *) order+=("$i") ;; esac; done

out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
# a finished suite writes its index to this fifo: the pool wakes as soon as one is done
mkfifo "$out/done"; exec 3<>"$out/done"
start() {  # index: run the suite in the background, bounded in time, output to a file
    local i=$1 argv
    eval "argv=(${cmds[i]})"
    (   t0=$SECONDS; TIMEFORMAT='%0U %0S'
        # PORT_BASE: each suite's own range for the ports it picks itself (pyharness.free_port)
        { time BUILD=${dirs[i]} DEMO=${DEMO:-${dirs[i]}/demo-asan} PORT_BASE=$((10000 + i % 75 * 300)) \
              timeout -k 5 "${secs[i]}" "${argv[@]}" >"$out/$i.out" 2>&1 3>&-; } 2>"$out/$i.cpu"
        echo "$? $((SECONDS - t0))" >"$out/$i.rc"
        echo "$i" >&3 ) &
}
total_p=0; total_f=0; broken=()
show() {  # index: print the suite's block, count its result
    local i=$1 name=${names[$1]} rc wall u s line p f
    read -r rc wall <"$out/$i.rc"; read -r u s <"$out/$i.cpu"
    echo "== $name"
    cat "$out/$i.out"
    echo "   ($name: $wall s, CPU $((u + s)) s)"
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
next=0; shown=0; used=0; finished=()
while [ "$shown" -lt "$n" ]; do
    # start suites in order while the next one fits in the pool; none overtakes a waiting
    # wide one, which could otherwise wait for ever
    while [ "$next" -lt "$n" ] && [ $((used + weights[order[next]])) -le "$SLOTS" ]; do
        j=${order[next]}; start "$j"; used=$((used + weights[j])); next=$((next + 1))
    done
    read -r i <&3
    used=$((used - weights[i])); finished[i]=1
    while [ "$shown" -lt "$n" ] && [ -n "${finished[shown]:-}" ]; do show "$shown"; shown=$((shown + 1)); done
done
for b in "${broken[@]+"${broken[@]}"}"; do echo "BROKEN: $b"; done
echo "all suites: ${SECONDS} s"
echo "$total_p passed, $total_f failed"
[ "$total_f" -eq 0 ]
