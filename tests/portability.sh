#!/usr/bin/env bash
# tests/portability.sh (`make test-portability`) - the build matrix: what keeps httpd.h
# building and passing beyond x86-64 glibc Linux. Prints "N passed, N failed".
#   - gcc and clang, -std=c11 -pedantic, and the header as C++11/C++17, with each event
#     backend (epoll; poll; kqueue over tests/kqueue_emu.h with the non-Linux code paths)
#     and with the non-Linux paths alone (HTTPD_TEST_NOT_LINUX: no eventfd, signalfd,
#     accept4, sendfile, MSG_MORE, TCP_DEFER_ACCEPT; what a BSD build compiles)
#   - musl (musl-gcc -static): the unit tests, run natively
#   - 32-bit x86 (i686-linux-gnu-gcc -static): the unit tests under qemu-i386
#   - ARM (arm-linux-gnueabihf-gcc -static): the unit tests under qemu-arm, and the demo
#     under qemu-arm answering real clients over loopback (tests/test_http.py)
#   - big-endian s390x (s390x-linux-gnu-gcc -static): the parser, WebSocket framing and
#     PROXY protocol tests under qemu-s390x
#   - firmware: HTTPD_MINIMAL + HTTPD_NO_THREADS on ARM under qemu-arm (test_firmware.py),
#     and static with musl without a resolver
# Cross builds are plain -O1 -g (no sanitizers there). Needs the packages in
# tests/deps.sh's portability list. Binaries go to build-port/.
set -u
cd "$(dirname "$0")/.."
O=build-port
mkdir -p "$O"
W="-Wall -Wextra -Werror"
JOBS=${JOBS:-2}
pass=0; fail=0
t0=$SECONDS
# check NAME COMMAND...: runs it, logs to $O/NAME.log; the result is collected by wait_all
declare -a names=() pids=()
check() {
    local name=$1; shift
    local log="$O/$(echo "$name" | tr -c 'A-Za-z0-9_.+-' _).log"
    ( "$@" ) >"$log" 2>&1 &
    names+=("$name|$log"); pids+=($!)
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do sleep 0.2; done
}
wait_all() {
    for i in "${!pids[@]}"; do
        local name=${names[$i]%%|*} log=${names[$i]#*|}
        if wait "${pids[$i]}"; then
            pass=$((pass + 1)); echo "ok   $name"
        else
            fail=$((fail + 1)); echo "FAIL $name"; tail -c 3000 "$log"
        fi
    done
    names=(); pids=()
}
# a unit test binary's own "N passed, N failed" must say 0 failed
unit_ok() { local out; out=$("$@" 2>&1); local rc=$?; echo "$out" | tail -n 30
            [ $rc -eq 0 ] && echo "$out" | grep -qE '^[0-9]+ passed, 0 failed'; }

# ---- compilers, standards, backends (objects only: fast)
stub="$O/stub.c"
printf '#define HTTPD_IMPLEMENTATION\n#include "../httpd.h"\nint main(void){return 0;}\n' > "$stub"
c11() { check "$1 -std=c11 -pedantic $2" $1 -std=c11 -pedantic -O2 $W $3 -c "$stub" -o /dev/null; }
cxx() { check "$1 -std=$2 $3" $1 -x c++ -std=$2 $W $4 -c "$stub" -o /dev/null; }
for cc in gcc clang; do c11 $cc epoll ""; done
cxx g++ c++11 epoll ""; cxx clang++ c++17 epoll ""
KQ="-DHTTPD_BACKEND_KQUEUE -DHTTPD_TEST_KQUEUE_EMU -DHTTPD_TEST_NOT_LINUX"
c11 gcc poll -DHTTPD_BACKEND_POLL; cxx clang++ c++17 poll -DHTTPD_BACKEND_POLL
c11 clang "kqueue, not Linux" "$KQ"; cxx g++ c++11 "kqueue, not Linux" "$KQ"
# poll without the Linux paths: what another POSIX system compiles
NL="-DHTTPD_BACKEND_POLL -DHTTPD_TEST_NOT_LINUX -DHTTPD_NO_WEBSOCKET"
c11 gcc "poll, not Linux, no WebSocket" "$NL"; cxx g++ c++17 "poll, not Linux, no WebSocket" "$NL"
# no compiler builtin outside a gcc/clang branch (the others get the portable loops)
builtins_guarded() {   # every __builtin_ inside an #if defined(__GNUC__) || ... branch
    awk '/^#[ \t]*if/ { d++; gnu[d] = /defined\(__GNUC__\) \|\| defined\(__clang__\)/ }
         /^#[ \t]*(else|elif)/ { gnu[d] = 0 }
         /^#[ \t]*endif/ { d-- }
         /__builtin_/ && !/^#[ \t]*(if|elif)/ {
             ok = 0; for (i = 1; i <= d; i++) if (gnu[i]) ok = 1
             if (!ok) { print FNR ": " $0; bad = 1 } }
         END { exit bad }' httpd.h
}
check "builtins guarded" builtins_guarded
wait_all

# ---- cross targets: static unit tests
UNITS_ALL="parser wheel router conn multipart static ws mw"
UNITS_BE="parser ws mw"                       # parser, WebSocket framing, PROXY v2 (in mw)
cross_build() {  # cc out src: a static build; the linker's getaddrinfo note is expected
    local log
    log=$("$1" -std=c11 $W -O1 -g -static -o "$2" "$3" -lpthread 2>&1)
    local rc=$?
    echo "$log" | grep -v 'statically linked applications' >&2
    return $rc
}
cross_unit() {   # tag cc runner units...
    local tag=$1 cc=$2 run=$3; shift 3
    for u in "$@"; do
        local bin=$O/${tag}_test_$u
        check "$tag test_$u" eval "cross_build $cc $bin tests/test_$u.c && unit_ok $run $bin"
    done
}
arm_demo() {
    cross_build arm-linux-gnueabihf-gcc "$O/arm_demo" examples/demo.c || return 1
    printf '#!/bin/sh\nexec qemu-arm %s/%s/arm_demo "$@"\n' "$PWD" "$O" > "$O/arm_demo.sh"
    chmod +x "$O/arm_demo.sh"
    DEMO=$O/arm_demo.sh unit_ok timeout -k 5 300 /usr/bin/python3 tests/test_http.py
}
rm -f "$O"/*_test_*
cross_unit musl musl-gcc "" $UNITS_ALL
cross_unit i686 i686-linux-gnu-gcc qemu-i386 $UNITS_ALL
cross_unit arm arm-linux-gnueabihf-gcc qemu-arm $UNITS_ALL
cross_unit s390x s390x-linux-gnu-gcc qemu-s390x $UNITS_BE
# the demo on ARM under qemu-arm, driven by the HTTP suite over loopback
check "arm demo under qemu-arm: tests/test_http.py" arm_demo
# firmware: tests/fw_server.c as HTTPD_MINIMAL + HTTPD_NO_THREADS (no pthreads) on ARM
# under qemu-arm through tests/test_firmware.py (zero allocations after start, under
# load), and a static musl hello of that build that links no resolver (getaddrinfo)
arm_fw() {
    mkdir -p "$O/fw"
    arm-linux-gnueabihf-gcc -std=c11 $W -O1 -g -static -DHTTPD_MINIMAL -DHTTPD_NO_THREADS \
        -o "$O/fw/arm_fw_server" tests/fw_server.c || return 1
    printf '#!/bin/sh\nexec qemu-arm %s/%s/fw/arm_fw_server "$@"\n' "$PWD" "$O" > "$O/fw/fw_server-tiny"
    chmod +x "$O/fw/fw_server-tiny"
    BUILD=$O/fw unit_ok timeout -k 5 300 /usr/bin/python3 tests/test_firmware.py
}
musl_tiny() {
    musl-gcc -std=c11 $W -Os -static -DHTTPD_MINIMAL -DHTTPD_NO_THREADS \
        -o "$O/musl_hello_tiny" examples/hello.c || return 1
    ! nm "$O/musl_hello_tiny" | grep -qi getaddrinfo && size "$O/musl_hello_tiny"
}
check "firmware server on ARM under qemu-arm: tests/test_firmware.py" arm_fw
check "musl static minimal hello, no getaddrinfo" musl_tiny
wait_all
echo "portability: $((SECONDS - t0)) s"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
