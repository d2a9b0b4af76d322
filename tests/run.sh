#!/usr/bin/env bash
# Runs every suite, each bounded in time, and sums their "N passed, N failed" lines.
# C unit tests are built with ASan+UBSan (and the server test also with TSan) by the Makefile;
# Python suites drive build/demo-asan over loopback with real clients.
set -u
cd "$(dirname "$0")/.."
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
export BUILD=${BUILD:-build}           # build-poll, build-kqueue: the other backends
export DEMO=${DEMO:-$BUILD/demo-asan}
PY=/usr/bin/python3
total_p=0; total_f=0; broken=()
run_suite() {  # name, timeout-seconds, command...
    local name=$1 secs=$2; shift 2
    if [ -n "${ONLY:-}" ]; then                 # ONLY="test_http.py replay_worker ...": those
        local key=$name
        case "$name" in "fuzz replay "*) key="replay_${name#fuzz replay }" ;; esac
        case " $ONLY " in *" $key "*) ;; *) return 0 ;; esac
    fi
    local out; out=$(mktemp)
    echo "== $name"
    local t0=$SECONDS
    timeout -k 5 "$secs" "$@" >"$out" 2>&1; local rc=$?
    cat "$out"
    echo "   ($name: $((SECONDS - t0)) s)"
    local line; line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
    if [ -z "$line" ]; then
        total_f=$((total_f + 1)); broken+=("$name (rc=$rc, no result line)")
    else
        local p f; p=${line%% passed*}; f=${line#*passed, }; f=${f%% failed*}
        total_p=$((total_p + p)); total_f=$((total_f + f))
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
            total_f=$((total_f + 1)); broken+=("$name (rc=$rc)")
        fi
    fi
    rm -f "$out"
}
run_suite compile_check 300 tests/compile_check.sh
run_suite features 300 tests/features.sh        # the compile-out switches, every combination
for t in "$BUILD"/test_*; do
    [ -x "$t" ] || continue
    run_suite "$(basename "$t")" 300 "$t"
done
for h in "$BUILD"/replay_*; do                  # fuzz corpora as regression inputs
    [ -x "$h" ] || continue
    n=${h#"$BUILD"/replay_}
    run_suite "fuzz replay $n" 300 "$h" "fuzz/corpus/$n"
done
if [ "${FUZZ_SECONDS:-0}" -gt 0 ] && [ "$BUILD" = build ] && command -v clang >/dev/null; then  # CI
    run_suite "fuzz ${FUZZ_SECONDS}s each" $((FUZZ_SECONDS * 6 + 300)) tests/fuzz_ci.sh
fi
for t in tests/test_*.py; do
    [ -f "$t" ] || continue
    run_suite "$(basename "$t")" 600 "$PY" "$t"
done
for b in "${broken[@]+"${broken[@]}"}"; do echo "BROKEN: $b"; done
echo "all suites: ${SECONDS} s"
echo "$total_p passed, $total_f failed"
[ "$total_f" -eq 0 ]
