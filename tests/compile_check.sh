#!/usr/bin/env bash
# Compile checks: httpd.h as C11 (gcc, clang) and C++ (g++, clang++) with -Wall -Wextra
# -Werror, a two-file link, and only httpd_* symbols exported. Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
check() { local name=$1; shift; if "$@" >"$tmp/log" 2>&1; then pass=$((pass+1)); echo "ok   $name";
          else fail=$((fail+1)); echo "FAIL $name"; head -c 3000 "$tmp/log"; fi; }
printf '#define HTTPD_IMPLEMENTATION\n#include "%s/httpd.h"\nint main(void){return 0;}\n' "$PWD" > "$tmp/t.c"
printf '#include <stdio.h>\n#include <string.h>\n#define HTTPD_IMPLEMENTATION\n#include "%s/httpd.h"\nint main(void){return 0;}\n' "$PWD" > "$tmp/late.c"
W="-Wall -Wextra -Werror"
check "gcc -std=c11"        gcc -std=c11 $W -c "$tmp/t.c" -o "$tmp/t1.o"
check "gcc -std=c11 -O2 -pedantic" gcc -std=c11 -O2 -pedantic $W -c "$tmp/t.c" -o "$tmp/t1b.o"
check "clang -std=c11"      clang -std=c11 $W -c "$tmp/t.c" -o "$tmp/t2.o"
check "g++ -std=c++17"      g++ -x c++ -std=c++17 $W -c "$tmp/t.c" -o "$tmp/t3.o"
check "clang++ -std=c++17"  clang++ -x c++ -std=c++17 $W -c "$tmp/t.c" -o "$tmp/t4.o"
check "g++ -std=c++11"      g++ -x c++ -std=c++11 $W -c "$tmp/t.c" -o "$tmp/t5.o"
check "HTTPD_NO_WEBSOCKET (gcc, g++)" sh -c "gcc -std=c11 $W -DHTTPD_NO_WEBSOCKET -c $tmp/t.c -o $tmp/t7.o && g++ -x c++ -std=c++17 $W -DHTTPD_NO_WEBSOCKET -c $tmp/t.c -o $tmp/t8.o && gcc -std=c11 $W -O2 -DHTTPD_NO_WEBSOCKET -o $tmp/hello_nows examples/hello.c -lpthread"
# TLS: with HTTPD_TLS_BEARSSL as C and C++ (and the demo linked with -lbearssl); without it
# nothing refers to BearSSL (no br_* symbol, no bearssl.h needed)
check "HTTPD_TLS_BEARSSL (gcc, clang, g++, clang++ C++11/17, demo)" sh -c "gcc -std=c11 $W -O2 -DHTTPD_TLS_BEARSSL -c $tmp/t.c -o $tmp/tls1.o && clang -std=c11 $W -DHTTPD_TLS_BEARSSL -c $tmp/t.c -o $tmp/tls2.o && g++ -x c++ -std=c++17 $W -DHTTPD_TLS_BEARSSL -c $tmp/t.c -o $tmp/tls3.o && clang++ -x c++ -std=c++17 $W -DHTTPD_TLS_BEARSSL -c $tmp/t.c -o $tmp/tls4.o && g++ -x c++ -std=c++11 $W -DHTTPD_TLS_BEARSSL -c $tmp/t.c -o $tmp/tls5.o && gcc -std=c11 $W -O2 -DHTTPD_TLS_BEARSSL -o $tmp/demo-tls examples/demo.c -lpthread -lbearssl"
check "HTTPD_TLS_BEARSSL with HTTPD_NO_WEBSOCKET and HTTPD_NO_SENDFILE" gcc -std=c11 $W -DHTTPD_TLS_BEARSSL -DHTTPD_NO_WEBSOCKET -DHTTPD_NO_SENDFILE -c "$tmp/t.c" -o "$tmp/tls6.o"
# the plain demo built here is the one the examples check below uses (one build, not two)
check "without HTTPD_TLS_BEARSSL: no BearSSL symbol, no bearssl.h" sh -c "gcc -std=c11 $W -O2 -o $tmp/demo examples/demo.c -lpthread && ! nm $tmp/t1.o | grep -q ' br_' && ! nm $tmp/demo | grep -q ' br_' && ! gcc -std=c11 -E $tmp/t.c | grep -q 'bearssl_ssl.h'"
check "system headers first + -D_GNU_SOURCE" gcc -std=c11 -D_GNU_SOURCE $W -c "$tmp/late.c" -o "$tmp/t6.o"
printf '#include <stdio.h>\n#include <sys/socket.h>\n#define HTTPD_IMPLEMENTATION\n#include "%s/httpd.h"\nint main(void){return 0;}\n' "$PWD" > "$tmp/late2.c"
check "system headers first, default mode (gcc, clang, g++)" sh -c "gcc $W -c $tmp/late2.c -o $tmp/l1.o && clang $W -c $tmp/late2.c -o $tmp/l2.o && g++ -x c++ $W -c $tmp/late2.c -o $tmp/l3.o"
check "system headers first, -std=gnu11" gcc -std=gnu11 $W -c "$tmp/late2.c" -o "$tmp/l4.o"
check "system headers first, strict -std=c11: one clear error" sh -c "! gcc -std=c11 -c $tmp/late2.c -o $tmp/l5.o 2>$tmp/l5.err && [ \$(grep -c 'error:' $tmp/l5.err) -eq 1 ] && grep -q 'include httpd.h before any system header' $tmp/l5.err"
# the README's first program, exactly as written, as C and as C++ (a C++ user's first build)
awk '/^```c$/ { if (!done) on = 1; next } /^```$/ { if (on) { on = 0; done = 1 } next } on' README.md > "$tmp/readme.c"
check "README example as C (gcc, clang)" sh -c "gcc -std=c11 $W -I. -c $tmp/readme.c -o $tmp/r1.o && clang -std=c11 $W -I. -c $tmp/readme.c -o $tmp/r2.o"
check "README example as C++ (g++, clang++; C++20 and C++17)" sh -c "g++ -x c++ -std=c++20 $W -I. -c $tmp/readme.c -o $tmp/r3.o && clang++ -x c++ -std=c++20 $W -I. -c $tmp/readme.c -o $tmp/r4.o && g++ -x c++ -std=c++17 $W -Wno-pedantic -I. -c $tmp/readme.c -o $tmp/r5.o"
printf '#define HTTPD_IMPLEMENTATION\n#include "%s/httpd.h"\nstatic httpd_static m;\nstatic const httpd_route r[] = { HTTPD_STATIC_ROUTE("/s/", &m), { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 } };\nint main() { return r[0].handler ? 0 : 1; }\n' "$PWD" > "$tmp/route.cc"
check "HTTPD_STATIC_ROUTE in C++11" g++ -std=c++11 $W -c "$tmp/route.cc" -o "$tmp/t7.o"
check "examples (gcc, clang)" sh -c "{ [ -x $tmp/demo ] || gcc -std=c11 $W -O2 -o $tmp/demo examples/demo.c -lpthread; } && clang -std=c11 $W -O2 -o $tmp/hello examples/hello.c -lpthread && clang -std=c11 $W -O2 -o $tmp/download examples/download.c -lpthread && gcc -std=c11 $W -O2 -o $tmp/pack tools/httpd_pack.c -lpthread"
check "two-file link"       sh -c "gcc -std=c11 $W -c tests/link/a.c -o $tmp/a.o && gcc -std=c11 $W -c tests/link/b.c -o $tmp/b.o && gcc -o $tmp/ab $tmp/a.o $tmp/b.o -lpthread && $tmp/ab"
check "only httpd_* exported" sh -c "nm -g --defined-only $tmp/a.o | awk '{print \$3}' | grep -v '^httpd_' | grep -v '^link_a\$' | (! grep .)"
check "HTTPD_STATIC exports nothing" sh -c "printf '#define HTTPD_STATIC\n#define HTTPD_IMPLEMENTATION\n#include \"$PWD/httpd.h\"\nint main(void){return httpd_port(0) == -1 ? 0 : 1;}\n' > $tmp/st.c && gcc -std=c11 -Wall -Wextra -Werror -Wno-unused-function -c $tmp/st.c -o $tmp/st.o && ! nm -g --defined-only $tmp/st.o | grep -q ' T httpd_'"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
