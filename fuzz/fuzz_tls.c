/* fuzz/fuzz_tls.c - fuzz_worker.c in TLS mode: the same programs (connects, requests,
   raw bytes, reads, half-closes, time, tasks, posts, WebSockets) with BearSSL clients
   against the worker's TLS listener, so every split of records across reads and writes,
   parking and unparking, close_notify, the handshake deadline and broken record streams
   meet the worker's own event code. Build: make build/fuzz_tls (clang, libFuzzer) or
   build/replay_tls (any compiler; replays fuzz/corpus/tls). Needs libbearssl-dev. */
#define FUZZ_WORKER_TLS 1
#include "fuzz_worker.c"
