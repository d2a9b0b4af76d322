#!/usr/bin/env bash
# CI's short fuzzing pass: every harness for FUZZ_SECONDS with a fixed seed (repeatable),
# two at a time (one per core), from the committed corpus. Prints each harness's last
# lines, then "N passed, N failed" (a harness that finds a crash fails).
set -u
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-20}
harnesses=(parser chunked router conn multipart worker static ws proxy tls)
make -s $(printf 'build/fuzz_%s ' "${harnesses[@]}") >/dev/null || { echo "0 passed, 1 failed"; exit 1; }
out=$(mktemp -d)
one() {
    mkdir -p "build/corpus/$1"
    build/fuzz_"$1" -seed=1 -max_total_time="$secs" -dict=fuzz/http.dict \
        -artifact_prefix=build/ "build/corpus/$1" "fuzz/corpus/$1" >"$out/$1.log" 2>&1
    echo $? >"$out/$1.rc"
}
for ((i = 0; i < ${#harnesses[@]}; i += 2)); do
    one "${harnesses[i]}" &
    [ $((i + 1)) -lt ${#harnesses[@]} ] && one "${harnesses[i + 1]}" &
    wait
done
p=0; f=0
for h in "${harnesses[@]}"; do
    echo "-- fuzz_$h"; tail -n 4 "$out/$h.log"
    if [ "$(cat "$out/$h.rc" 2>/dev/null)" = 0 ]; then p=$((p + 1)); else
        f=$((f + 1)); echo "FAILED: fuzz_$h"; tail -n 40 "$out/$h.log"; fi
done
rm -rf "$out"
echo "$p passed, $f failed"
[ "$f" -eq 0 ]
