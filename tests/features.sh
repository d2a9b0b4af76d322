#!/usr/bin/env bash
# The compile-out switches, warning-free: every combination of the first eight (256) as C11
# (gcc -fsyntax-only: the front end's warnings), the other two alone and with each of the
# rest, each switch alone built as C++17 (g++), HTTPD_MINIMAL (with and without
# HTTPD_NO_THREADS) built with gcc, clang, g++ and clang++ and linked into the hello
# example, and HTTPD_MINIMAL with TLS refused. Two builds at a time. Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
printf '#define HTTPD_IMPLEMENTATION\n#include "%s/httpd.h"\nint main(void){return 0;}\n' "$PWD" > "$tmp/t.c"
W="-Wall -Wextra -Werror"
SW=(HTTPD_NO_MULTIPART HTTPD_NO_SSE HTTPD_NO_STATIC HTTPD_NO_FILES HTTPD_NO_MIDDLEWARE
    HTTPD_NO_GETADDRINFO HTTPD_NO_WEBSOCKET HTTPD_NO_THREADS)
MORE=(HTTPD_NO_STREAMING HTTPD_NO_TASKS HTTPD_NO_LOG_MESSAGES HTTPD_NO_SHED)
: > "$tmp/jobs"
for ((m = 0; m < 1 << ${#SW[@]}; m++)); do
    f=""
    for ((i = 0; i < ${#SW[@]}; i++)); do (( m >> i & 1 )) && f="$f -D${SW[i]}"; done
    echo "gcc -std=c11 $W $f -fsyntax-only $tmp/t.c" >> "$tmp/jobs"
done
for m in "${MORE[@]}"; do
    echo "gcc -std=c11 $W -D$m -fsyntax-only $tmp/t.c" >> "$tmp/jobs"
    for s in "${SW[@]}" "${MORE[@]}"; do
        [ "$s" != "$m" ] && echo "gcc -std=c11 $W -D$m -D$s -fsyntax-only $tmp/t.c" >> "$tmp/jobs"
    done
done
for s in "${SW[@]}" "${MORE[@]}"; do
    echo "g++ -x c++ -std=c++17 $W -D$s -c $tmp/t.c -o $tmp/$s.o" >> "$tmp/jobs"
done
for cc in "clang -std=c11" "clang++ -x c++ -std=c++17" "g++ -x c++ -std=c++17" "gcc -std=c11 -O2 -pedantic"; do
    echo "$cc $W -DHTTPD_MINIMAL -c $tmp/t.c -o $tmp/m$RANDOM.o" >> "$tmp/jobs"
    echo "$cc $W -DHTTPD_MINIMAL -DHTTPD_NO_THREADS -c $tmp/t.c -o $tmp/n$RANDOM.o" >> "$tmp/jobs"
done
echo "gcc -std=c11 $W -O2 -DHTTPD_MINIMAL -o $tmp/hello examples/hello.c -lpthread" >> "$tmp/jobs"
echo "gcc -std=c11 $W -O2 -DHTTPD_MINIMAL -DHTTPD_NO_THREADS -o $tmp/hello1 examples/hello.c" >> "$tmp/jobs"
echo "sh -c '! gcc -std=c11 -DHTTPD_MINIMAL -DHTTPD_TLS_BEARSSL -c $tmp/t.c -o $tmp/x.o 2>/dev/null'" >> "$tmp/jobs"
# one line per job: "ok" or "FAIL <command>"
tr '\n' '\0' < "$tmp/jobs" | xargs -0 -P 2 -I{} sh -c \
    'if sh -c "$1" > /dev/null 2>&1; then echo ok; else echo "FAIL $1"; fi' _ {} \
    > "$tmp/out" 2>&1
pass=$(grep -c '^ok$' "$tmp/out"); fail=$(grep -c '^FAIL' "$tmp/out")
grep '^FAIL' "$tmp/out" | head -20
echo "feature switches: $pass builds ok, $fail failed"
echo "$((fail == 0 ? 1 : 0)) passed, $((fail == 0 ? 0 : 1)) failed"
[ "$fail" -eq 0 ]
