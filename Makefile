# httpd.h - build, run, test.  `make run` starts the demo; `make test` runs every suite.
CC      ?= cc
CXX     ?= c++
WARN    := -Wall -Wextra -Werror
CFLAGS  ?= -O2 -g
STD     := -std=c11
# sanitizer builds: -g1 (line tables: reports still say file:line) compiles and links
# faster than -g; SANDBG=-g for full debug info (variables, for a debugger)
SANDBG  ?= -g1
SAN     := -O1 $(SANDBG) -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
TSAN    := -O1 $(SANDBG) -fsanitize=thread
LIBS    := -lpthread
# BACKEND=epoll (default, build/), poll (build-poll/) or kqueue (build-kqueue/: the kqueue
# backend over tests/kqueue_emu.h, with the code paths of a non-Linux system); every program
# and suite is built and run the same way with each.
BACKEND ?= epoll
ifeq ($(BACKEND),epoll)
B       := build
BFLAGS  :=
else ifeq ($(BACKEND),poll)
B       := build-poll
BFLAGS  := -DHTTPD_BACKEND_POLL
else ifeq ($(BACKEND),kqueue)
B       := build-kqueue
BFLAGS  := -DHTTPD_BACKEND_KQUEUE -DHTTPD_TEST_KQUEUE_EMU -DHTTPD_TEST_NOT_LINUX
else
$(error BACKEND is epoll, poll or kqueue)
endif
WARN    += $(BFLAGS)
HDR     := httpd.h tests/kqueue_emu.h
HOST    ?= 127.0.0.1
PORT    ?= 8080
WORKERS ?= 0

.PHONY: all run run-tls test test-run clean bench-quick fuzz
EXAMPLES := demo hello download upload sse_clock store chat
all: $(addprefix $(B)/,$(EXAMPLES)) $(B)/firmware $(B)/httpd_pack $(B)/notes_api

$(B):
	@mkdir -p $(B)

$(B)/%: examples/%.c $(HDR) | $(B)
	$(CC) $(STD) $(WARN) $(CFLAGS) -o $@ $< $(LIBS)
$(B)/%-asan: examples/%.c $(HDR) | $(B)
	$(CC) $(STD) $(WARN) $(SAN) -o $@ $< $(LIBS)
$(B)/download-nosendfile: examples/download.c $(HDR) | $(B)
	$(CC) $(STD) $(WARN) $(SAN) -DHTTPD_NO_SENDFILE -o $@ $< $(LIBS)
# packed assets: tools/httpd_pack turns examples/www into build/www_assets.c for firmware.c
$(B)/httpd_pack: tools/httpd_pack.c $(HDR) | $(B)
	$(CC) $(STD) $(WARN) $(CFLAGS) -o $@ $< $(LIBS)
$(B)/www_assets.c: $(B)/httpd_pack $(shell find examples/www -type f)
	$(B)/httpd_pack --name www_assets --gzip --brotli examples/www > $@.tmp && mv $@.tmp $@
$(B)/firmware: examples/firmware.c $(B)/www_assets.c $(HDR)
	$(CC) $(STD) $(WARN) $(CFLAGS) -I$(B) -o $@ $< $(LIBS)
$(B)/firmware-asan: examples/firmware.c $(B)/www_assets.c $(HDR)
	$(CC) $(STD) $(WARN) $(SAN) -I$(B) -o $@ $< $(LIBS)
# TLS variants (BearSSL): the demo with HTTPS/WSS, and its sanitizer builds
TLS     := -DHTTPD_TLS_BEARSSL
TLSLIB  := -lbearssl
$(B)/demo-tls: examples/demo.c $(HDR) | $(B)
	$(CC) $(STD) $(WARN) $(CFLAGS) $(TLS) -o $@ $< $(LIBS) $(TLSLIB)
$(B)/demo-tls-asan: examples/demo.c $(HDR) | $(B)
	$(CC) $(STD) $(WARN) $(SAN) $(TLS) -o $@ $< $(LIBS) $(TLSLIB)
$(B)/demo-tls-tsan: examples/demo.c $(HDR) | $(B)
	$(CC) $(STD) $(WARN) $(TSAN) $(TLS) -o $@ $< $(LIBS) $(TLSLIB)
$(B)/test_tls: tests/test_tls.c tests/harness.h $(HDR) | $(B)
	$(CC) $(STD) $(WARN) $(SAN) $(TLS) -o $@ $< $(LIBS) $(TLSLIB)
$(B)/test_tls-tsan: tests/test_tls.c tests/harness.h $(HDR) | $(B)
	$(CC) $(STD) $(WARN) $(TSAN) $(TLS) -o $@ $< $(LIBS) $(TLSLIB)
$(B)/replay_tls: fuzz/fuzz_tls.c fuzz/fuzz_worker.c fuzz/replay.c $(HDR) | $(B)
	$(CC) $(STD) $(WARN) $(SAN) $(TLS) -o $@ $< fuzz/replay.c $(LIBS) $(TLSLIB)
$(B)/fuzz_tls: fuzz/fuzz_tls.c fuzz/fuzz_worker.c $(HDR) | $(B)
	clang $(BFLAGS) $(SANDBG) -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	  $(TLS) -o $@ $< $(LIBS) $(TLSLIB)
$(B)/demo-tsan: examples/demo.c $(HDR) | $(B)
	$(CC) $(STD) $(WARN) $(TSAN) -o $@ examples/demo.c $(LIBS)
$(B)/chat-tsan: examples/chat.c $(HDR) | $(B)
	$(CC) $(STD) $(WARN) $(TSAN) -o $@ examples/chat.c $(LIBS)
# tests/fw_server.c (counting allocator hooks) as firmware builds: default, HTTPD_MINIMAL,
# HTTPD_NO_THREADS, both (tiny); driven by tests/test_firmware.py
$(B)/fw_server-asan: tests/fw_server.c $(HDR) | $(B)
	$(CC) $(STD) $(WARN) $(SAN) -o $@ $< $(LIBS)
$(B)/fw_server-min: tests/fw_server.c $(HDR) | $(B)
	$(CC) $(STD) $(WARN) $(SAN) -DHTTPD_MINIMAL -o $@ $< $(LIBS)
$(B)/fw_server-nothreads: tests/fw_server.c $(HDR) | $(B)
	$(CC) $(STD) $(WARN) $(SAN) -DHTTPD_NO_THREADS -o $@ $<
$(B)/fw_server-tiny: tests/fw_server.c $(HDR) | $(B)
	$(CC) $(STD) $(WARN) $(SAN) -DHTTPD_MINIMAL -DHTTPD_NO_THREADS -o $@ $<
$(B)/fw_server-tsan: tests/fw_server.c $(HDR) | $(B)
	$(CC) $(STD) $(WARN) $(TSAN) -o $@ $< $(LIBS)
# the SQLite example: the only program that links a database
$(B)/notes_api: examples/notes_api.c $(HDR) | $(B)
	$(CC) $(STD) $(WARN) $(CFLAGS) -o $@ $< $(LIBS) -lsqlite3
$(B)/notes_api-asan: examples/notes_api.c $(HDR) | $(B)
	$(CC) $(STD) $(WARN) $(SAN) -o $@ $< $(LIBS) -lsqlite3

# unit tests: one per module, each built with ASan+UBSan
UNIT := parser wheel router conn multipart static ws mw kqueue_emu
$(B)/test_%: tests/test_%.c tests/harness.h $(HDR) | $(B)
	$(CC) $(STD) $(WARN) $(SAN) -o $@ $< $(LIBS)
$(B)/test_wheel-16: tests/test_wheel.c tests/harness.h $(HDR) | $(B)
	$(CC) $(STD) $(WARN) $(SAN) -DHTTPD_WHEEL_BITS=4 -o $@ $< $(LIBS)
$(B)/test_parser-min: tests/test_parser.c tests/harness.h $(HDR) | $(B)
	$(CC) $(STD) $(WARN) $(SAN) -DHTTPD_MINIMAL -DHTTPD_NO_THREADS -o $@ $<
$(B)/test_server-tsan: tests/test_server.c tests/harness.h $(HDR) | $(B)
	$(CC) $(STD) $(WARN) $(TSAN) -o $@ $< $(LIBS)
$(B)/test_mw-tsan: tests/test_mw.c tests/harness.h $(HDR) | $(B)
	$(CC) $(STD) $(WARN) $(TSAN) -o $@ $< $(LIBS)

# fuzzing: libFuzzer harnesses (clang), replay binaries (any compiler) run by `make test`
FUZZ         := parser chunked router conn multipart worker static ws proxy tls
FUZZ_SECONDS ?= 60
# CI's short fuzzing pass (FUZZ_SECONDS set by the caller, clang present): the harnesses are
# built with everything else (make -j2) rather than one by one between the runs
FUZZ_BINS := $(if $(filter environment command,$(firstword $(origin FUZZ_SECONDS))),$(if \
    $(shell command -v clang 2>/dev/null),$(addprefix $(B)/fuzz_,$(FUZZ))))
$(B)/replay_%: fuzz/fuzz_%.c fuzz/replay.c $(HDR) | $(B)
	$(CC) $(STD) $(WARN) $(SAN) -o $@ $< fuzz/replay.c $(LIBS)
$(B)/fuzz_%: fuzz/fuzz_%.c $(HDR) | $(B)
	clang $(BFLAGS) $(SANDBG) -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	  -o $@ $< $(LIBS)
fuzz: $(addprefix $(B)/fuzz_,$(FUZZ))
	@for h in $(FUZZ); do mkdir -p $(B)/corpus/$$h && cp -n fuzz/corpus/$$h/* $(B)/corpus/$$h/; \
	  echo "== fuzz_$$h for $(FUZZ_SECONDS) s"; \
	  $(B)/fuzz_$$h -max_total_time=$(FUZZ_SECONDS) -dict=fuzz/http.dict -print_final_stats=1 \
	    -artifact_prefix=$(B)/ $(B)/corpus/$$h fuzz/corpus/$$h 2>&1 | grep -E "^(stat::|Done|==|SUMMARY|.*ERROR)" || exit 1; \
	done

# HTTPS on 127.0.0.1:8443 (and HTTP on $(PORT)) with a self-signed certificate made once
run-tls:
	@tests/deps.sh gcc make libc6-dev libbearssl-dev openssl
	@$(MAKE) --no-print-directory $(B)/demo-tls
	@[ -f $(B)/tls/cert.pem ] || { mkdir -p $(B)/tls && openssl req -x509 -newkey ec \
	    -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 -subj /CN=localhost \
	    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout $(B)/tls/key.pem \
	    -out $(B)/tls/cert.pem 2>/dev/null && echo "made $(B)/tls/cert.pem (self-signed)"; }
	$(B)/demo-tls --host $(HOST) --port $(PORT) --workers $(WORKERS) \
	    --tls-cert $(B)/tls/cert.pem --tls-key $(B)/tls/key.pem --tls-port 8443

run:
	@tests/deps.sh gcc make libc6-dev
	@$(MAKE) --no-print-directory $(B)/demo
	$(B)/demo --host $(HOST) --port $(PORT) --workers $(WORKERS)

# `make test`: first what the suites need (tests/deps.sh installs missing Debian packages
# or says how), then every suite prints "N passed, N failed"; tests/run.sh runs them side by
# side (a pool sized by the cores) and sums them. With epoll it also runs the poll and
# kqueue backends' subset (below), built with the rest and run in the same pool.
test:
	@tests/deps.sh
	@$(MAKE) --no-print-directory test-run $(if $(filter epoll,$(BACKEND)),BACKENDS="poll kqueue")
# what the suites run (build/demo-tls and build/firmware-asan are not among them: the TLS
# demo is built by tests/compile_check.sh, examples/firmware.c with ASan by test_static.py).
# test-run builds build/demo-asan and build/demo, which most Python suites need and nothing
# else; tests/run.sh starts those suites and builds the rest (test-bins, niced) beside them.
BACKENDS ?=
UNITS_RUN := $(sort $(addprefix test_,$(UNIT)) test_wheel-16 test_parser-min test_server \
               test_server-tsan test_mw-tsan test_tls test_tls-tsan) $(addprefix replay_,$(sort $(FUZZ)))
.PHONY: test-bins
test-bins: $(addprefix $(B)/,$(UNITS_RUN)) \
      $(B)/download-asan $(B)/download-nosendfile $(B)/upload-asan $(B)/sse_clock-asan \
      $(B)/store-asan $(B)/httpd_pack $(B)/chat-asan $(B)/chat-tsan \
      $(FUZZ_BINS) $(B)/notes_api-asan $(B)/demo-tls-asan \
      $(B)/fw_server-asan $(B)/fw_server-min $(B)/fw_server-nothreads \
      $(B)/fw_server-tiny $(B)/fw_server-tsan $(addprefix backend-subset-,$(BACKENDS))
test-run: $(B)/demo-asan $(B)/demo
	+@BUILD=$(B) BACKENDS="$(BACKENDS)" SUBSET="$(SUBSET_SUITE)" UNITS="$(UNITS_RUN)" \
	  BUILD_REST="test-bins BACKEND=$(BACKEND)" tests/run.sh

# The other two event backends, a subset of the suites each (the whole suite with each:
# `make test-run BACKEND=poll`, `BACKEND=kqueue`). Part of `make test`; alone, `make
# test-backends`. backend-subset-poll, -kqueue build what the subset runs (with everything
# else, under make -j).
SUBSET_BIN   := test_server test_conn test_tls replay_worker demo-asan demo chat-asan chat-tsan \
                fw_server-nothreads fw_server-tiny
SUBSET_SUITE := test_server test_conn test_tls replay_worker test_http.py \
                test_smuggling.py test_ws.py test_firmware.py
.PHONY: backend-subset backend-subset-poll backend-subset-kqueue
backend-subset: $(addprefix $(B)/,$(SUBSET_BIN))
backend-subset-poll backend-subset-kqueue: backend-subset-%:
	+@$(MAKE) --no-print-directory -s BACKEND=$* backend-subset
.PHONY: test-backends test-portability size
test-backends: backend-subset-poll backend-subset-kqueue
	@BACKENDS="poll kqueue" SUBSET="$(SUBSET_SUITE)" \
	  ONLY="$(foreach be,poll kqueue,$(addprefix $(be):,$(SUBSET_SUITE)))" tests/run.sh
# gcc/clang/C++ with each backend, musl, 32-bit, ARM and s390x under qemu (tests/portability.sh)
test-portability:
	@tests/deps.sh $$(tests/deps.sh --portability-list)
	@tests/portability.sh

# footprint of examples/hello.c (x86-64 -O1, ARM Thumb-2 -Os gc; default and HTTPD_MINIMAL),
# heap at start of a 4-connection server, bytes per idle connection (tools/size.sh)
size:
	@tests/deps.sh gcc binutils gcc-arm-linux-gnueabihf libc6-dev-armhf-cross
	@tools/size.sh

bench-quick: $(B)/demo
	@bench/quick.sh
.PHONY: bench-stream
bench-stream: $(B)/demo $(B)/download
	@bench/streaming.sh
# the regression gate (in CI): instructions and syscalls per request against
# bench/baseline.json, fails over +3 % (bench/check.sh; BENCH_CHECK_UPDATE=1 rewrites it)
.PHONY: bench-check bench
$(B)/bench_parser: bench/bench_parser.c $(HDR) | $(B)
	$(CC) $(STD) $(WARN) $(CFLAGS) -o $@ $< $(LIBS)
bench-check:
	@tests/deps.sh $$(tests/deps.sh --check-list)
	@$(MAKE) --no-print-directory $(B)/demo $(B)/bench_parser
	@bench/check.sh
# every scenario against nginx, h2o, lighttpd and libmicrohttpd, the plots and
# bench/RESULTS.md (bench/suite.sh, about 17 min; BENCH_QUICK=1 make bench: about 4 min)
bench:
	@tests/deps.sh $$(tests/deps.sh --bench-list)
	@$(MAKE) --no-print-directory $(B)/demo $(B)/demo-tls $(B)/notes_api
	@bench/suite.sh

clean:
	rm -rf build build-poll build-kqueue build-port
