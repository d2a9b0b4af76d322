# httpd.h - build, run, test.  `make run` starts the demo; `make test` runs every suite.
CC      ?= cc
CXX     ?= c++
WARN    := -Wall -Wextra -Werror
CFLAGS  ?= -O2 -g
STD     := -std=c11
SAN     := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
TSAN    := -O1 -g -fsanitize=thread
LIBS    := -lpthread
B       := build
HOST    ?= 127.0.0.1
PORT    ?= 8080
WORKERS ?= 0

.PHONY: all run test clean bench-quick
all: $(B)/demo $(B)/hello

$(B):
	@mkdir -p $(B)

$(B)/demo: examples/demo.c httpd.h | $(B)
	$(CC) $(STD) $(WARN) $(CFLAGS) -o $@ examples/demo.c $(LIBS)
$(B)/hello: examples/hello.c httpd.h | $(B)
	$(CC) $(STD) $(WARN) $(CFLAGS) -o $@ examples/hello.c $(LIBS)
$(B)/demo-asan: examples/demo.c httpd.h | $(B)
	$(CC) $(STD) $(WARN) $(SAN) -o $@ examples/demo.c $(LIBS)
$(B)/demo-tsan: examples/demo.c httpd.h | $(B)
	$(CC) $(STD) $(WARN) $(TSAN) -o $@ examples/demo.c $(LIBS)

# unit tests: one per module, each built with ASan+UBSan
UNIT := parser wheel router conn
$(B)/test_%: tests/test_%.c tests/harness.h httpd.h | $(B)
	$(CC) $(STD) $(WARN) $(SAN) -o $@ $< $(LIBS)
$(B)/test_server-tsan: tests/test_server.c tests/harness.h httpd.h | $(B)
	$(CC) $(STD) $(WARN) $(TSAN) -o $@ $< $(LIBS)

run: $(B)/demo
	$(B)/demo --host $(HOST) --port $(PORT) --workers $(WORKERS)

# `make test`: every suite prints "N passed, N failed"; tests/run.sh sums them.
test: $(addprefix $(B)/test_,$(UNIT)) $(B)/test_server $(B)/test_server-tsan \
      $(B)/demo-asan $(B)/demo
	@tests/run.sh

bench-quick: $(B)/demo
	@bench/quick.sh

clean:
	rm -rf $(B)
