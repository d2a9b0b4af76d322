#!/usr/bin/env bash
# tests/deps.sh [PACKAGE...] - what `make test` (or, with arguments, `make run`) needs,
# checked before anything is built. Missing Debian
# packages are installed here when that is possible without asking (root, or sudo without
# a password); otherwise it stops at once and prints the one command to run.
# A new suite that needs a tool adds its package to PKGS (and nowhere else).
set -u
PKGS=(
    gcc g++ make libc6-dev          # the library, examples and C suites
    clang libclang-rt-14-dev        # clang compile checks, sanitizer runtimes
    libfuzzer-14-dev                # the CI fuzzing pass (libFuzzer)
    curl                            # real clients
    python3 python3-h11 python3-yaml  # the Python suites (Debian's /usr/bin/python3, no PyPI)
    haproxy nginx                   # reverse proxies in front (rolling restarts, PROXY)
    prometheus                      # promtool check metrics, a real scraping server
    libsqlite3-dev                  # examples/notes_api.c (the only program linking it)
    chromium                        # the browser as a client (forms, pages)
    gzip brotli                     # precompressed variants (tests/test_static.py, httpd_pack)
    python3-websockets nodejs node-ws   # WebSocket clients (tests/test_ws.py, bench/ws.sh)
    procps iproute2                 # ps, ss
    libbearssl-dev openssl          # TLS (HTTPD_TLS_BEARSSL) and test certificates
    libnss3-tools                   # certutil: the test CA trusted by Chromium (tests/test_tls.py)
)
# `make test-portability` (tests/portability.sh): cross compilers, their C libraries, qemu
PORT_PKGS=(
    gcc clang g++ musl-tools
    gcc-i686-linux-gnu libc6-dev-i386-cross          # 32-bit x86 (gcc-multilib conflicts
    gcc-arm-linux-gnueabihf libc6-dev-armhf-cross    #  with the cross compilers)
    gcc-s390x-linux-gnu libc6-dev-s390x-cross        # big-endian
    qemu-user python3 python3-h11
)
# `make bench-check` (bench/check.sh, in CI): callgrind, strace and two standard clients
CHECK_PKGS=(gcc make libc6-dev util-linux valgrind strace nghttp2-client apache2-utils)
# `make bench` (bench/suite.sh): load generators, the peers (nginx, h2o, lighttpd,
# libmicrohttpd), what bench/ws.sh and bench/tls.sh run, the plots
BENCH_PKGS=(
    gcc make libc6-dev libsqlite3-dev libbearssl-dev openssl procps util-linux
    valgrind strace wrk nghttp2-client apache2-utils
    nginx h2o lighttpd libmicrohttpd-dev
    nodejs node-ws python3-websockets libssl-dev curl gnuplot-nox
)
if [ "${1:-}" = --portability-list ]; then echo "${PORT_PKGS[*]}"; exit 0; fi
if [ "${1:-}" = --bench-list ]; then echo "${BENCH_PKGS[*]}"; exit 0; fi
if [ "${1:-}" = --check-list ]; then echo "${CHECK_PKGS[*]}"; exit 0; fi
[ $# -gt 0 ] && PKGS=("$@")          # `make run` asks only for a compiler
missing=()
if command -v dpkg-query >/dev/null 2>&1; then
    for p in "${PKGS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
else                                # not Debian: check the commands, cannot install
    cmds=(gcc g++ make clang curl python3 haproxy nginx promtool prometheus chromium gzip brotli node ps ss)
    [ $# -gt 0 ] && cmds=(cc)
    for c in "${cmds[@]}"; do
        command -v "$c" >/dev/null 2>&1 || missing+=("$c")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "tests/deps.sh: missing: ${missing[*]} (this check knows Debian package names only)" >&2
        exit 1
    fi
    exit 0
fi
[ ${#missing[@]} -eq 0 ] && exit 0

cmd="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" = 0 ]; then
    sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo)
else
    echo "make needs these Debian packages: ${missing[*]}" >&2
    echo "install them with:   sudo sh -c '$cmd'" >&2
    exit 1
fi
echo "tests/deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq >/dev/null &&
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || {
    echo "tests/deps.sh: apt-get failed; run: sudo sh -c '$cmd'" >&2
    exit 1
}
