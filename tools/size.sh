#!/usr/bin/env bash
# tools/size.sh - footprint of examples/hello.c (`make size`): .text/.data/.bss on x86-64
# (-O1) and ARM Thumb-2 (-Os, function/data sections, --gc-sections), with the default
# features, with HTTPD_MINIMAL and with HTTPD_MINIMAL + HTTPD_NO_THREADS (one thread, no
# -lpthread), each with the public functions extern (as shipped) and static (HTTPD_STATIC:
# a one-file firmware drops what it does not call); then the heap
# at start of a 4-connection server (tests/fw_server.c: counting HTTPD_MALLOC hooks) and
# the userspace bytes an idle connection holds. ARM needs arm-linux-gnueabihf-gcc (Debian
# gcc-arm-linux-gnueabihf; tests/deps.sh installs it); without it that column is skipped.
# Last, the footprint targets of the minimal one-thread build (HTTPD_MINIMAL +
# HTTPD_NO_THREADS, public functions extern): ARM size text <= 20 KiB, x86-64 .text
# <= 32 KiB, heap at start <= 16 KiB; a miss fails (exit 1), so CI keeps them.
set -u
cd "$(dirname "$0")/.."
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
X86=${CC:-gcc}; ARM=arm-linux-gnueabihf-gcc
command -v $ARM >/dev/null || { echo "($ARM not found: no ARM figures)"; ARM=; }
sec() { size -A "$1" | awk -v s="$2" '$1 == s { print $2 }'; }     # bytes of one section
kb() { awk -v b="${1:-0}" 'BEGIN { printf "%.1f KB", b / 1024 }'; }
min_x=0; min_a=0; min_heap=0
row() {  # label, defines
    local label=$1 defs=$2 x a t
    local lib=-lpthread
    case "$defs" in *NO_THREADS*) lib= ;; esac
    $X86 -std=c11 -O1 $defs -Wno-unused-function -o "$tmp/x" examples/hello.c $lib || exit 1
    x="$(kb "$(sec "$tmp/x" .text)") / $(sec "$tmp/x" .data) / $(sec "$tmp/x" .bss)"
    [ "$defs" = "-DHTTPD_MINIMAL -DHTTPD_NO_THREADS" ] && min_x=$(sec "$tmp/x" .text)
    a="-"
    if [ -n "$ARM" ]; then
        $ARM -std=c11 -Os -mthumb -ffunction-sections -fdata-sections -Wl,--gc-sections \
            $defs -Wno-unused-function -o "$tmp/a" examples/hello.c $lib || exit 1
        t=$(size "$tmp/a" | awk 'NR == 2 { print $1 }')
        [ "$defs" = "-DHTTPD_MINIMAL -DHTTPD_NO_THREADS" ] && min_a=$t
        a="$(kb "$(sec "$tmp/a" .text)") / $(sec "$tmp/a" .data) / $(sec "$tmp/a" .bss) (size text $(kb "$t"))"
    fi
    printf "%-34s %-28s %s\n" "$label" "$x" "$a"
}
printf "%-34s %-28s %s\n" "hello.c" ".text/.data/.bss x86-64 -O1" \
    ".text/.data/.bss ARM Thumb-2 -Os gc"
row "default features"            ""
row "default, HTTPD_STATIC"       "-DHTTPD_STATIC"
row "HTTPD_MINIMAL"               "-DHTTPD_MINIMAL"
row "HTTPD_MINIMAL, HTTPD_STATIC" "-DHTTPD_MINIMAL -DHTTPD_STATIC"
row "MINIMAL + NO_THREADS"        "-DHTTPD_MINIMAL -DHTTPD_NO_THREADS"
row "MINIMAL + NO_THREADS, STATIC" "-DHTTPD_MINIMAL -DHTTPD_NO_THREADS -DHTTPD_STATIC"
# heap: a 1-worker server with max_connections = 4 (2 KiB heads), as tests/fw_server.c
for defs in "" "-DHTTPD_MINIMAL"; do
    $X86 -std=c11 -O1 $defs -o "$tmp/fw" tests/fw_server.c -lpthread || exit 1
    h=$("$tmp/fw" --no-serve | awk '/^heap/ { print $2 " B in " $5 " allocations" }')
    [ -n "$defs" ] && min_heap=${h%% *}
    printf "heap at start, 4 connections%-6s %s\n" "${defs:+ (min)}" "$h"
    if "$tmp/fw" --prealloc --no-serve >/dev/null 2>&1; then
        h=$("$tmp/fw" --prealloc --no-serve | awk '/^heap/ { print $2 " B in " $5 " allocations" }')
        printf "  preallocated (no malloc after)%-3s %s\n" "${defs:+ (min)}" "$h"
    fi
done
printf '#define HTTPD_IMPLEMENTATION\n#include "%s/httpd.h"\nint main(void) {\n    printf("%%zu", sizeof(httpd__conn));\n    return 0;\n}\n' "$PWD" > "$tmp/c.c"
for defs in "" "-DHTTPD_MINIMAL"; do
    $X86 -std=c11 $defs -o "$tmp/c" "$tmp/c.c" -lpthread || exit 1
    printf "idle connection, userspace%-8s %s B (its slot; no buffer, no request)\n" \
        "${defs:+ (min)}" "$("$tmp/c")"
done
# the targets (see the top)
fail=0
check() {  # what, bytes, limit
    local st=ok
    [ "$2" -gt 0 ] && [ "$2" -le "$3" ] || { st=MISSED; fail=1; }
    printf "target: %-44s %6s B <= %s B: %s\n" "$1" "$2" "$3" "$st"
}
check "minimal one-thread hello, x86-64 .text" "$min_x" 32768
if [ -n "$ARM" ]; then check "minimal one-thread hello, ARM size text" "$min_a" 20480; fi
check "minimal 4-connection server, heap at start" "$min_heap" 16384
exit $fail
