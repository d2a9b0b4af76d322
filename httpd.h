/* httpd.h - v0.1 - embeddable HTTP/1.1 server                         (licence: end of file)

   In ONE .c file:    #define HTTPD_IMPLEMENTATION
                      #include "httpd.h"
   Everywhere else:   #include "httpd.h"
   Link with -lpthread (not under HTTPD_NO_THREADS). C11 or C++; Linux (epoll), macOS and
   the BSDs (kqueue), other POSIX systems (poll). Nothing else is needed (HTTPS: BearSSL,
   optional, see TLS).

   CONTENTS: QUICK START, CONFIG, ROUTES, REQUESTS, RESPONSES, STREAMING, FILES,
             STATIC FILES, FORMS, WEBSOCKETS, TLS, ASYNC AND BLOCKING WORK, TIMEOUTS,
             SHUTDOWN, OPERATIONS, THREADS, PORTABILITY, LIMITS, ERRORS, REVISIONS
   SECTIONS (search ">>name"): >>config >>util >>log >>buf >>parser >>chunked >>wheel >>router
             >>proxyproto >>ratelimit >>multipart >>sha1 >>ws_frame >>pool >>poll
             >>poll_epoll >>poll_kqueue >>poll_poll >>tls_pem >>tls_conf >>conn >>response
             >>stream >>file >>async >>ws >>ws_api >>metrics >>accesslog >>mw >>ops >>machine
             >>deadline >>tls >>drive >>worker >>setup >>public >>params >>static_path
             >>static_cond >>static

   QUICK START
       static void hello(httpd_request *req) {
           httpd_respond(req, 200, "text/plain", "Hello, World!", 13);
       }
       int main(void) {
           static const httpd_route routes[] = {
               { .method = "GET", .pattern = "/", .handler = hello }, { 0 } };
           httpd_desc d = { 0 };
           d.port = 8080; d.routes = routes;
           return httpd_run(&d);        // until SIGINT/SIGTERM, then a graceful stop
       }

   CONFIG
       Compile time (define before the #include that has HTTPD_IMPLEMENTATION):
         HTTPD_MALLOC(ctx,n) HTTPD_REALLOC(ctx,p,n) HTTPD_FREE(ctx,p)  all three or none;
                            ctx is httpd_desc.alloc_ctx
         HTTPD_API          linkage of the public functions (default extern; HTTPD_STATIC
                            makes them static)
         HTTPD_ASSERT(c)    programmer errors (default assert())
         HTTPD_NO_SENDFILE  file bodies with pread + write instead of sendfile(2)
         HTTPD_NO_HEAP_TRIM never call malloc_trim (glibc) after a burst of freed buffers
         HTTPD_NO_SIMD      plain loops instead of the SSE2/NEON scans of request heads
         HTTPD_NO_WEBSOCKET leave WebSockets out (>>sha1, >>ws_frame, >>ws; httpd_ws_*
                            are then declared but not defined)
         HTTPD_NO_MULTIPART leave multipart/form-data out (>>multipart, httpd_multipart_*)
         HTTPD_NO_SSE       leave Server-Sent Events out (httpd_sse_*)
         HTTPD_NO_STREAMING leave streaming out: httpd_begin/_write/_end, httpd_add_trailer,
                            httpd_on_writable, httpd_body_read/_pause/_resume (a route with
                            stream_body fails httpd_start); implies HTTPD_NO_SSE
         HTTPD_NO_TASKS     leave the blocking-task pool out (>>pool: httpd_defer,
                            httpd_submit, httpd_post)
         HTTPD_NO_THREADS   one thread, no pthreads (no -lpthread): the loop of the one
                            worker runs in httpd_serve/httpd_wait on the caller's thread,
                            tasks between its turns, no watchdog, no access log, no
                            pin_workers (both refused: HTTPD_ERR_INVAL); SIGINT/SIGTERM
                            through signal handlers (PORTABILITY: FIRMWARE)
         HTTPD_NO_FILES     leave file bodies out (>>file: httpd_send_file, sendfile);
                            implies HTTPD_NO_STATIC
         HTTPD_NO_STATIC    leave static files and packed assets out (>>static_path,
                            >>static_cond, >>static; httpd_static_*)
         HTTPD_NO_MIDDLEWARE leave the operations out (>>proxyproto, >>ratelimit, >>metrics,
                            >>accesslog, >>mw, >>ops: middleware chains, CORS, request ids,
                            rate limits, metrics, the access log, on_error, trusted proxies,
                            the PROXY protocol); a desc or route that asks for one of them
                            fails httpd_start with HTTPD_ERR_INVAL
         HTTPD_NO_GETADDRINFO numeric addresses only (inet_pton; "localhost" is 127.0.0.1),
                            no resolver linked in
         HTTPD_NO_SHED      leave load shedding out (desc.max_inflight, route max_concurrent:
                            503 before the handler); a desc or route that sets one fails
                            httpd_start with HTTPD_ERR_INVAL. max_connections still caps.
         HTTPD_NO_LOG_MESSAGES log records carry their level and code with an empty
                            message: no format strings, no formatting (the code says what
                            happened: httpd_strerror(code), or an HTTP status; 0 for a
                            notice; httpd_log_stderr prints level, code and any message).
                            A host build without it shows the full messages.
         HTTPD_WHEEL_BITS   timer slots per wheel level as a power of two (2..6; default 6,
                            4 under HTTPD_MINIMAL: 16 slots, a quarter of the memory; a
                            timer further out than the levels reach wakes the worker once
                            per turn of the top level, 65 s at 4)
         HTTPD_MINIMAL      HTTPD_NO_ WEBSOCKET, MULTIPART, SSE, STREAMING, TASKS, FILES
                            (so STATIC), MIDDLEWARE, SHED, GETADDRINFO, SIMD, LOG_MESSAGES; no
                            TLS, no start-up hints (somaxconn, ulimit), no malloc_trim,
                            assertions without message text, reason phrases for the
                            usual statuses only (others: none, which RFC 9112 allows),
                            per-request helpers not forced inline and a few smaller,
                            slower routines (size before speed): HTTP/1.1 with the strict
                            parser, router, timeouts and caps (PORTABILITY).
                            HTTPD_NO_THREADS is separate.
                            What a switch leaves out stays declared but is not defined;
                            tests/features.sh checks every combination.
         HTTPD_TLS_BEARSSL  HTTPS and WSS with BearSSL (>>tls_pem, >>tls_conf, >>tls; link
                            -lbearssl, Debian: libbearssl-dev). Without it nothing of TLS is
                            compiled and nothing refers to BearSSL; desc.tls then fails
                            httpd_start.
         HTTPD_BACKEND_EPOLL, HTTPD_BACKEND_KQUEUE, HTTPD_BACKEND_POLL  the event backend
                            (default: epoll on Linux, kqueue on macOS/BSD, else poll;
                            see PORTABILITY)
       Everything else is runtime configuration in httpd_desc, where zero means the default;
       httpd_query_desc() returns the values in use (0 for the settings of what a switch
       leaves out: WebSocket, PROXY, task pool, and blocked_warn_ms with neither threads
       nor metrics). See the struct below for every field.
       Include order: in the file with HTTPD_IMPLEMENTATION, httpd.h may come after system
       headers in the compilers' default (GNU) modes; under strict -std=c11 it must come
       first (else one clear #error says so). In C++14 and later the configuration structs
       default every member to zero, so { 0 } and designated initializers build clean.
       Errors and warnings go to stderr unless desc.logger says otherwise.

   ROUTES
       A zero-terminated array of httpd_route { method, pattern, handler, user_data, ... }.
       Patterns are literal segments, ":name" parameters (one segment) and a trailing "*"
       (the rest of the path, may be empty): "/users/:id", "/static/" "*". Routes are tried in
       order; the first match wins. HEAD is served by a GET route (body suppressed) unless
       a HEAD route exists. No path match -> 404; path matches with another method -> 405
       with Allow; OPTIONS with no OPTIONS route -> 200 with Allow; "OPTIONS *" -> 200.
       A method no route uses and HTTP does not define -> 501. desc.on_request (if set)
       serves requests no route matched, instead of the 404.

   REQUESTS
       The handler gets an httpd_request *. Every httpd_str in it points into the
       connection's buffers and stays valid until the response is complete. The path is
       percent-decoded (except %2F and %25, which stay encoded so that segments keep their
       meaning) and dot segments are removed; httpd_param() fully decodes a parameter.
       The body is read before the handler runs, up to the route's max_body_bytes
       (Content-Length over the cap -> 413 before any body byte is read; chunked -> 413 the
       moment it crosses). "Expect: 100-continue" is answered with 100 only when the body
       will be read.

   RESPONSES
       httpd_respond(req, status, content_type, body, len) copies the body, adds Date and
       Content-Length and queues the response. Add headers first with httpd_add_header()
       (CR, LF or NUL in a name or value -> HTTPD_ERR_INVAL: header injection is refused).
       A handler may return without responding and respond later from the same worker
       thread (a timer, a task completion). Responses go out strictly in request order;
       pipelined responses are coalesced into one write.

   STREAMING
       Responses: httpd_begin(req, status, type, length or -1), httpd_write() as often as
       needed, httpd_end(). -1 means chunked (HTTP/1.1) or until close (HTTP/1.0). When the
       connection's queued output passes 64 KiB httpd_write returns HTTPD_WRITE_FULL: stop
       and let httpd_on_writable() call back below 16 KiB, so a 10 GiB response keeps memory
       flat (demo: /bytes/:n). A chunked response can end with trailer fields:
       httpd_add_trailer() before httpd_end (declare them first: "Trailer" header).
       Request bodies: a route with .stream_body = 1 runs its handler as soon as the head is
       complete; httpd_body_read(req, fn, arg) then hands the body to fn piece by piece
       (Content-Length and chunked alike), then HTTPD_BODY_END, or an error status (cap
       crossed, too slow, malformed, client gone). A piece is at most read_buffer_bytes
       minus the head (17 KiB by default). httpd_body_pause/resume stop and restart reading
       the socket (TCP flow control holds the client); while the body is paused, and while
       a timer (httpd_after), task (httpd_defer) or writable wait (httpd_on_writable) of the
       request is pending (they pause it until their callback runs), the last piece stays
       valid: a task may consume it in place. Otherwise a piece is valid during the call
       only. Time paused by the application does not count against the client's minimum
       rate. A handler that answers without reading never triggers 100 Continue and
       the connection closes after its response (demo: /upload, /upload-paced). A body
       over the cap gets 413 and the connection closes (lingering, so the client reads the
       413); bytes after a refused body are never parsed as a request.

   FILES
       httpd_send_file(req, status, type, fd, offset, len) answers with a file: the kernel
       sends it from the page cache with sendfile(2) as the client reads (pread + write
       under -DHTTPD_NO_SENDFILE or where sendfile refuses the descriptor), so a slow client
       on a 10 GiB file costs no memory. The server owns fd from the call on and closes it.
       Pipelined requests wait until the file is out (examples/download.c).

   STATIC FILES
       A directory at a route prefix, in one route:
           static httpd_static www = { .root = "/srv/www", .cache_control = "no-cache" };
           httpd_static_open(&www);            // opens the root; 0 or an error
           routes: { HTTPD_STATIC_ROUTE("/static/", &www) }     // GET, HEAD; others 405
       Paths are resolved beneath the root's descriptor (openat2 RESOLVE_BENEATH, else a
       walk one name at a time with O_NOFOLLOW): "..", encoded '/', '\', NUL, control
       bytes, invalid or overlong UTF-8 and empty segments -> 400; hidden names (".x"),
       symbolic links (unless .follow_symlinks, and then only if they stay inside) and
       anything but regular files -> 404. A directory gets its index.html (no trailing
       slash: 301 to the slash form), a listing if .listings, else 404. Responses carry a
       strong ETag (inode, size, mtime in ns), Last-Modified, Accept-Ranges and the mount's
       Cache-Control; conditionals follow RFC 9110 §13.2.2 (If-Match, If-Unmodified-Since
       -> 412; If-None-Match, If-Modified-Since -> 304); one Range (or several that merge
       into one) -> 206, unsatisfiable -> 416, several disjoint -> the whole 200; If-Range
       with an ETag or a date. With .precompressed, name.br / name.gz (not older than name)
       are served when Accept-Encoding allows (q-values; no zlib in the server), with
       Content-Encoding, their own ETag and Vary. A file edited while it is being sent
       closes the connection instead of mixing versions. Opening a file is a short
       blocking call on the worker, as nginx does without aio: serve local storage.
       Packed assets: tools/httpd_pack DIR > assets.c turns a directory into an httpd_asset
       array (types, ETags, gzip/brotli variants made at pack time); a mount with .assets
       serves it the same way, from read-only memory, with no allocation
       (examples/firmware.c).

   FORMS
       application/x-www-form-urlencoded: httpd_form_param(req, name) on a buffered body.
       multipart/form-data is parsed as it streams, part by part: httpd_multipart_begin(req,
       limits, fn, arg) in a stream_body handler, httpd_multipart_feed() from the body
       callback, httpd_multipart_end() at HTTPD_BODY_END; fn gets each part's headers
       (name, filename, content type), its content in pieces, and its end. Caps: parts,
       header bytes per part, bytes per part (413); malformed -> HTTPD_ERR_INVAL (400). The
       parser does no I/O and can be used alone (httpd_multipart_init). A browser form
       uploading a firmware image to disk: examples/upload.c.

   WEBSOCKETS (RFC 6455; examples/chat.c, the demo's /ws and /ws-upload)
       A GET route's handler calls httpd_ws_upgrade(req, &desc, protocol, user): the
       handshake is checked (GET, HTTP/1.1, Upgrade: websocket, Connection: upgrade, a
       16-byte base64 Sec-WebSocket-Key, Sec-WebSocket-Version: 13, no body; another
       version -> 426 with Sec-WebSocket-Version: 13, else 400), the Origin too (desc's
       check_origin hook; by default an Origin, when sent, must name the Host: no
       cross-site hijacking; -> 403), then 101 goes out with any header the handler added
       (httpd_add_header) and the subprotocol the application picked (httpd_ws_offers
       tells what the client offered). Extensions (permessage-deflate) are declined by not
       answering them. The connection then belongs to the WebSocket, on the same worker;
       bytes the client sent right after its handshake are frames. desc (static storage)
       holds the callbacks, all on the worker: on_open, on_message(ws, type, data, len,
       fin), on_close(ws, code, reason) exactly once, on_writable. Messages arrive whole
       (up to desc.max_message_bytes, else the server's ws_max_message_bytes, 1 MiB), or,
       with desc.stream = 1, piece by piece as they arrive, with no cap unless one is set
       (a firmware image over a WebSocket costs one read buffer); httpd_ws_pause/resume
       stop and restart reading. Frames are checked strictly: masking, RSV bits, reserved
       opcodes, control frames (<= 125 bytes, not fragmented, allowed between fragments),
       continuation order, minimal lengths -> close 1002; text is checked as UTF-8 as it
       arrives, across fragments, failing at the first bad byte -> 1007; a frame or
       message over its cap -> 1009, decided from the frame head without reading the rest.
       Pings are answered with the same payload. A close is answered with a close (the
       code echoed), then the server closes TCP; invalid close codes -> 1002.
       Sending: httpd_ws_send(ws, type, data, len) copies into the connection's output
       and returns HTTPD_WRITE_FULL past 64 KiB queued (stop; on_writable fires below 16
       KiB) and HTTPD_ERR_TOOLARGE (not sent) if the producer goes on, so a slow reader
       never grows memory without bound; while the output is full the server does not
       read from that peer either. httpd_ws_close(ws, code, reason) starts the closing
       handshake (5 s for the peer's answer). Other threads: httpd_ws_send_to(srv, id,
       ...) through the owning worker's mailbox (the id, httpd_ws_id, is generation-
       checked: a closed one gets HTTPD_ERR_CLOSED in the optional done callback), and
       httpd_ws_broadcast(srv, &desc, ...) to every WebSocket of that desc (the route's
       group) on every worker, the frame built once. A broadcast (or send_to) finding a
       peer's output full applies desc.overflow: HTTPD_WS_DROP skips that message for it,
       HTTPD_WS_CLOSE closes it with 1008 (policy violation).
       Heartbeats (httpd_desc.ws_ping_interval_ms 15 s, ws_timeout_ms 45 s; per route in
       the httpd_ws_desc, per connection with httpd_ws_heartbeat; HTTPD_NO_TIMEOUT turns one off): a
       WebSocket quiet for the interval is pinged; one from which nothing (pong or any
       frame) was heard for the timeout gets close 1001 and is dropped at once (on_close:
       1001). They use the connection's timer on the worker's wheel: no thread, no timer
       descriptor. An idle WebSocket holds no buffer (144 bytes of state beyond the
       connection). A graceful stop sends close 1001 to every WebSocket and closes each
       when its peer answers (at most 5 s, and never past shutdown_timeout_ms).

   TLS (HTTPD_TLS_BEARSSL; examples/demo.c --tls-*, make run-tls)
       A TLS listener beside the plaintext one (or alone: .only = 1), same routes:
           static const httpd_tls_cert certs[] = {
               { .cert_file = "/etc/ssl/site.pem", .key_file = "/etc/ssl/site.key" } };
           static const httpd_tls_desc tls = { .port = 443, .certs = certs, .ncerts = 1 };
           d.tls = &tls;                       // httpd_tls_port(srv) tells the bound port
       Certificates: a PEM chain (leaf first) and its key, RSA or EC (PKCS#1, SEC1 or PKCS#8,
       not encrypted), from files or from memory (cert_pem/key_pem); checked at start (a key
       that is not the certificate's, a broken or encrypted PEM: httpd_start fails and logs
       why). Several certificates: SNI picks the first whose .names ("a.example
       *.b.example") match the name the client asked for, else certs[0]; or .sni, a
       callback, decides (-1 refuses the handshake). Two certificates with the same names,
       one ECDSA and one RSA: a client gets the ECDSA one when it can use it, else the RSA
       one (as nginx with two ssl_certificate lines).
       Protocol: TLS 1.2 (BearSSL's maximum) with ECDHE only (forward secrecy) and AEAD
       only: AES-128/256-GCM and ChaCha20-Poly1305, in the server's order: AES-GCM first
       when the CPU has AES instructions (BearSSL's AES-NI + PCLMUL code, chosen at run
       time), ChaCha20 first when not; x25519, P-256, P-384, P-521 for ECDHE. SSL 3.0, TLS
       1.0/1.1, CBC, RC4, static RSA are refused. ALPN: http/1.1. Renegotiation is refused
       (a no_renegotiation alert: a client-initiated one would cost the server a handshake
       per request). An HTTP/2-only client gets no ALPN.
       Resumption: a session cache (RFC 5246 session IDs; .session_cache sessions, 4096 by
       default, about 120 bytes each, .session_timeout_ms 5 minutes, oldest first out)
       shared by every worker, so a client resumes whichever worker accepts it; sharded by
       session ID with a lock each (one lock per handshake, held well under 1 us).
       Connections: the handshake runs on the worker like any I/O, non-blocking, and must
       end within .handshake_timeout_ms (10 s; then the header timeout starts); the caps and
       timeouts of plaintext apply unchanged after it. Every orderly close says close_notify
       (end of keep-alive, Connection: close, errors, graceful stop); aborts (a reset, an
       immediate stop) do not. Everything works over TLS: keep-alive, pipelining, streaming
       both ways with backpressure, 100-continue, file bodies (pread + encrypt: no sendfile
       through TLS), WebSockets (wss://), timeouts, graceful shutdown.
       httpd_tls_get_info(req, &info): version, cipher (OpenSSL's name), SNI name, ALPN,
       resumed, certificate index (1 for TLS, 0 for plaintext: redirects, HSTS, logs).
       Memory: about 4.2 KB of engine state per TLS connection; a busy one also holds one
       41 KB block (two 16 KB record buffers and two 4 KB staging areas) that goes back to
       the worker's pool while the connection is idle between records, so 10,000 idle
       keep-alive or WebSocket connections cost about 53 MB (5.3 KB each measured, all
       included), not 450 MB. For firmware: .half_duplex = 1 (one record buffer: 25 KB
       busy), and .max_record = 512..4096 (our records carry at most that; blocks of 1.9
       to 16.4 KB, half duplex or not), which only clients sending
       small records can use: those asking for a maximum fragment length (RFC 6066) below
       max_record get it granted; browsers send 16 KiB records and are refused.
       Cost (bench/TLS.md): a resumed handshake is a few tens of microseconds of server CPU,
       a full one a few hundred (BearSSL's portable, constant-time big-number code, no
       assembly); a keep-alive request adds one decryption and one encryption to the
       plaintext path, with one read and one write per request as in plaintext.

   ASYNC AND BLOCKING WORK
       Never block a worker: every connection it owns would wait. httpd_after(req, ms, fn,
       arg) calls fn on the worker after ms without blocking it. httpd_defer(req, work,
       done, arg) runs work(arg) on the blocking-task pool (desc.task_threads, bounded queue
       desc.task_queue) and then done(req, arg, status) back on the request's worker,
       exactly once: status 0, or HTTPD_ERR_CLOSED (client gone: the task saw
       httpd_task_cancelled()), or HTTPD_ERR_TIMEOUT (deadline passed, 504 sent). A full
       queue makes httpd_defer fail at once (answer 503). Per-route max_concurrent and
       desc.max_inflight shed load with 503 + Retry-After before the handler runs: a
       saturated server fails fast instead of queueing work it cannot finish in time. A
       worker that stays out of its event loop longer than desc.blocked_warn_ms (1 s) is
       named in a warning, once per stall (a watchdog thread), with the route of the
       callback that holds it. A request the application holds must be answered with
       httpd_respond exactly once; after a client left, a 504, or a body error, that call
       returns the reason and frees the request.
       A client that half-closes after its request (RFC 9112 §9.6) is still answered,
       pipelined requests included, then the connection closes: a FIN is not a cancel.
       A client that resets the connection is gone at once (tasks cancelled); one that
       closed completely is noticed when its answer is written.

   TIMEOUTS (all in httpd_desc, ms; HTTPD_NO_TIMEOUT disables one)
       header_timeout_ms 30 s from the head's first byte (trickling cannot extend it) -> 408;
       for a connection's first request from its arrival, so one that never sends a byte
       is closed (silently) within header_timeout_ms plus the kernel's deferred-accept hold
       (TCP_DEFER_ACCEPT 1 s: a few seconds of SYN-ACK retries at most);
       body_timeout_ms 30 s between body bytes, and body_min_rate 240 B/s per 5 s window
       -> 408 (or a close once the response began), on every body path;
       keepalive_timeout_ms 60 s idle -> silent close; write_timeout_ms 30 s without
       write progress -> drop; request_timeout_ms 60 s (per route: timeout_ms) for the
       application to answer -> 504. One timer per connection in a per-worker wheel, re-armed
       lazily, so a request costs no timer operation.

   SHUTDOWN
       httpd_stop(srv, 1) (or SIGINT/SIGTERM under httpd_serve/httpd_run): readiness
       (httpd_ready, httpd_stopping) fails at once; after desc.drain_delay_ms (on Linux at
       least 0.2 s, with deferred accepts off, so that no connection the kernel completed is
       reset) the listener stops, after accepting what the kernel queued; idle connections
       close, but one accepted whose first request has not arrived yet gets 1 s for it;
       in-flight requests finish with "Connection: close"; after shutdown_timeout_ms the
       rest are closed (tasks cancelled, timers fired with HTTPD_ERR_CLOSED). Streaming responses
       waiting in httpd_after() are woken at once (status 0) to see httpd_stopping() and end
       (SSE, long polls). WebSockets get close 1001 and end when their peer answers (see
       WEBSOCKETS). A second signal, or httpd_stop(srv, 0), stops at once.
       Lifetime: httpd_start -> httpd_stop (any thread) -> httpd_wait (releases connections,
       threads, sockets; httpd_serve and httpd_run do it) -> httpd_destroy (frees the handle;
       httpd_run does it). Between wait and destroy, calls from other threads (httpd_post,
       httpd_submit, httpd_stop, httpd_ws_send_to, httpd_ws_broadcast) are safe and fail
       with HTTPD_ERR_STATE.

   OPERATIONS (all off by default; with none configured each hook is one null check)
       The chain. Every request passes, in this order:
           access log and metrics (they observe the whole) -> request id -> CORS ->
           desc.middleware, then the route's .middleware (auth goes here) ->
           rate limit -> handler (or the router's 404/405/OPTIONS answer) ->
           error bodies (desc.on_error, for the server's own 4xx/5xx)
       An httpd_middleware has three optional hooks: request (before the handler; answer
       and return 1 to end the chain: the handler is skipped), response (before every head
       the request gets, to add fields) and complete (once, with an httpd_outcome: status,
       bytes in/out, duration, close reason). Every answer the server generates itself
       passes the response side too: 400 on a bad head (a request is made from what the
       head holds: its X-Request-Id and Origin count when readable), 404, 405, the OPTIONS
       answer, 408, 413, 414, 431, 429, 501, 503, 504; each is logged and counted once. A
       request whose client left before an answer is reported with status 499. Hooks run
       on the worker and are synchronous.
       Request ids (desc.request_id = 1): a client's X-Request-Id of 1-64 characters
       [A-Za-z0-9._:+/=@-] is kept, any other is replaced by a generated one (32 hex
       digits: a random prefix per start, the worker, a counter: unique across workers
       and restarts, no lock); req->request_id for handlers, httpd_task_request_id() for
       work on the pool; echoed in the response and the log line (and exposed to CORS
       scripts).
       CORS (desc.cors, or a route's .cors): origins exact, "https://" "*.example.com"
       (subdomains) or "*"; the answer carries Access-Control-Allow-Origin (and -Credentials,
       -Expose-Headers) when the Origin is allowed, and always Vary: Origin. A preflight
       (OPTIONS + Origin + Access-Control-Request-Method) is answered before any middleware
       (it carries no credentials, so auth must not see it), by the route of the method it
       asks for: 204 with the allowed methods and fields, or 403 without CORS fields.
       Rate limits (desc.rate_limit, or a route's .rate_limit): a token bucket (GCRA) per
       client address, per key (a callback: an API key, a user) and, with per_route, per
       route; over it: 429 + Retry-After. Each worker keeps its own bounded table (no lock:
       max_clients buckets, the fullest evicted first), so a client whose connections land
       on k workers may get up to k x rate (a keep-alive client stays on one); split = 1
       divides rate and burst by the workers instead: never above rate in all, but a client
       on one connection gets 1/workers of it.
       Access log (desc.access_log.path: a file or "-" for stderr; or .fn): one JSON line
       per request: time (RFC 3339, ms), id, client, method, path, route, status, in, out,
       us (duration), worker, close (why the server closed; null: kept open), generated
       (the server answered itself) and the fields named in .headers (.redact: logged as
       "[redacted]", Authorization, Proxy-Authorization and Cookie by default). Every
       string is escaped (control bytes, quotes, bytes over 0x7e as \u00XX): a line is one
       line of ASCII JSON, whatever the request held. Lines are formatted into per-worker
       buffers and written by a log thread (flush_ms after the first line, 1 s): a worker
       never waits for the disk; a line that finds every buffer waiting is dropped and
       counted. The file is reopened on SIGHUP (httpd_serve) or httpd_log_reopen()
       (logrotate: move the file, then signal). A route's .quiet = 1 keeps it out (probes).
       Metrics: a route with handler httpd_metrics serves them (Prometheus text 0.0.4):
       httpd_requests_total{route,method,status}, httpd_request_duration_seconds{route},
       httpd_requests_in_flight{worker}, httpd_connections_open{worker},
       httpd_received_bytes_total, httpd_sent_bytes_total, httpd_rejections_total{cause}
       (each status the server answers with itself, proxy_header, max_connections,
       emfile), httpd_tasks_queued, httpd_tasks_running, httpd_tasks_shed_total,
       httpd_worker_loop_lag_seconds{worker}, httpd_worker_blocked_total{worker},
       httpd_callback_duration_seconds{route}, httpd_slow_callbacks_total{route} (over
       blocked_warn_ms), httpd_blocked_callbacks_total{route} (the watchdog's stalls),
       httpd_access_log_dropped_total, and desc.metrics (the application's, with
       httpd_metric_add / httpd_metric_set from any thread, or a read callback). Each
       worker counts in its own block; a scrape sums them. The route label is the
       pattern ("unmatched" when none took the request). The watchdog's warning names
       the route of the callback that holds a stalled worker.
       Behind proxies: desc.trusted_proxies (CIDRs): X-Forwarded-For (else Forwarded) is
       read from the right while the hop is trusted, so the log, the rate limit and
       httpd_client_addr() see the client. desc.proxy_protocol = 1 adds a listener
       (proxy_addr:proxy_port, its own proxy_max_connections) where every connection
       starts with a PROXY v1 or v2 header (HAProxy send-proxy / send-proxy-v2), read
       within proxy_timeout_ms (5 s); a bad or late one closes the connection unanswered.
       v2 headers carry at most 1 KiB of addresses and TLVs; LOCAL, UNKNOWN and AF_UNIX
       keep the socket's address. desc.server_name adds a Server header (default none).
       Deploying: examples/deploy/ (Kubernetes, HAProxy, nginx), examples/notes_api.c (a
       database behind the task pool).

   THREADS
       Each worker thread owns an event loop, its timer wheel and its connections; a
       connection stays on one worker for life and its handlers, timers and `done`
       callbacks run there. From other threads only httpd_stop() (also async-signal-safe),
       httpd_post() (run a function on a connection's worker), httpd_submit(),
       httpd_stopping(), httpd_ws_send_to() and httpd_ws_broadcast() may be called (and
       httpd_metric_add/_set, httpd_log_reopen). Work crosses threads only through the task
       queue and each worker's mailbox (a mutex-protected list plus its wake-up
       descriptor: an eventfd on Linux, a pipe elsewhere); the TLS session cache is the one
       table workers share (sharded, a mutex each). Worker, pool, watchdog and access-log
       threads run with all signals blocked. The logger may be
       called by several threads at once.

   PORTABILITY
       The event backend is chosen at compile time: epoll on Linux (edge-triggered
       connections, EPOLLEXCLUSIVE listeners), kqueue on macOS, FreeBSD, OpenBSD, NetBSD
       and DragonFly (EVFILT_READ/EVFILT_WRITE with EV_CLEAR: the same edge semantics; all
       workers wake for a new connection and one gets it), poll() elsewhere (level-
       triggered: a connection asks for POLLIN only while it would read and POLLOUT only
       while a write is blocked, so paused connections cost no wake-ups; every wait is
       O(connections): meant for small servers and lwIP-style stacks). Define one of
       HTTPD_BACKEND_EPOLL/_KQUEUE/_POLL to force it (poll works on Linux too).
       Off Linux the library uses plain POSIX where Linux has a faster call: accept +
       fcntl for accept4, a pipe for eventfd, pread + write for sendfile (the BSD
       sendfile differs), readdir for getdents64, no TCP_DEFER_ACCEPT or MSG_MORE, SIGPIPE
       kept off by SO_NOSIGPIPE (and the workers' blocked signal mask), and httpd_serve
       checks for signals every 100 ms (sigpending + sigwait) instead of a signalfd.
       Tested (`make test BACKEND=poll`, `BACKEND=kqueue`): every suite passes with each
       backend; the kqueue backend runs on Linux over tests/kqueue_emu.h, an emulation of
       kqueue()/kevent() on epoll, together with the non-Linux code paths. `make
       test-portability`: gcc and clang -std=c11 -pedantic and C++11/17 with each backend,
       musl static, 32-bit x86, ARM (unit tests and the demo under qemu) and big-endian
       s390x (parser, WebSocket framing, PROXY protocol under qemu). No BSD or macOS
       machine runs in CI: the kqueue code is the part checked only through the emulation.
       FIRMWARE. Internal sizes follow the configuration: connection slots come in chunks
       of the next power of two >= max_connections (at most 1,024), buffers are
       read_buffer_bytes (raised to max_header_bytes + 1 KiB), taken only while a request
       is in flight; an idle connection holds its 216-byte slot and nothing else. Compile
       out what a device does not use (CONFIG: HTTPD_NO_* and HTTPD_MINIMAL) and, for one
       thread without pthreads, HTTPD_NO_THREADS: one worker whose loop runs in
       httpd_serve (or httpd_wait) on the caller's thread, blocking tasks run between loop
       turns (they hold the loop while they work), no watchdog, no access log, no
       pin_workers; SIGINT and SIGTERM stop it through signal handlers (the first
       gracefully; httpd_run installs them before the start and leaves the signal mask
       alone, so they must not be blocked; httpd_serve unblocks them). desc.preallocate = 1
       makes everything at httpd_start: per worker, its share of max_connections in slots,
       two blocks per slot plus one, one request per slot plus one. After that the server
       never allocates: a connection past the slots waits in the kernel's backlog (the
       listener is not watched meanwhile), a request with no free request or block gets
       503, a buffered body must fit in the input block after its head (else 413),
       pipelined parsing pauses while a quarter of the output block is queued (a response
       must fit in the rest; stream larger ones), the request arena has no overflow
       chunks. Also made at start: task objects (desc.task_queue of them; none free:
       httpd_defer fails as with a full queue; none at all under HTTPD_NO_TASKS with
       HTTPD_NO_WEBSOCKET, where nothing uses one), a WebSocket handle per slot (a fragmented
       message is assembled in a pool block, so one block caps it: longer closes 1009;
       no block free: 1013), rate-limit tables, the poll backend's arrays. Metrics, the
       access log and TLS allocate as they go and are refused (HTTPD_ERR_INVAL); messages
       sent to WebSockets from other threads (httpd_ws_send_to, broadcast) carry a copy
       that is allocated. Measured
       (`make size`, tools/size.sh; tests/test_firmware.py checks the no-allocation claim
       under load): heap at start of a 1-worker, 4-connection server with 2 KiB heads
       9.1 KB, 3.6 KB under HTTPD_MINIMAL (50.1 / 43.5 KB preallocated); hello.c .text at
       x86-64 -O1 102.2 KiB with every feature, 29.5 KiB HTTPD_MINIMAL, 28.6 KiB
       HTTPD_MINIMAL + HTTPD_NO_THREADS (25.9 KiB with HTTPD_STATIC); ARM Thumb-2 -Os
       --gc-sections size text 19.8 KiB for HTTPD_MINIMAL + HTTPD_NO_THREADS (19.6 KiB
       with HTTPD_STATIC), no libgcc division routine linked in. make size fails when
       the minimal one-thread build passes 32 KiB (x86-64), 20 KiB (ARM) or 16 KiB of heap.

   LIMITS (defaults)                           ERRORS (status, then the connection closes)
       request line        8 KiB  -> 414           malformed syntax, bad framing     -> 400
       whole head         16 KiB  -> 431           unknown method or transfer coding -> 501
       header fields        100   -> 431           HTTP/2+ or HTTP/0.9 version       -> 505
       body (per route)    1 MiB  -> 413           head not complete in time          -> 408
       connections        10000   (then the kernel backlog holds the rest)
       Errors the server generates carry "Connection: close"; the connection lingers
       briefly to let the client read them, and no byte after a bad request is ever parsed.

   REVISIONS
       0.1  first release: worker pool, strict parser, router, keep-alive, pipelining,
            timer wheel and timeouts, graceful shutdown with drain, blocking-task pool,
            streaming responses and request bodies, chunked trailers, sendfile file
            bodies, streamed multipart/form-data, blocked-worker warnings; one-pass SIMD head
            parsing, the header deadline from arrival, httpd_destroy (the handle outlives
            httpd_wait), bodies paused behind pending callbacks, half-close answered;
            static files and packed assets (safe paths, conditionals, ranges,
            precompressed variants);
            WebSockets (RFC 6455) with heartbeats, backpressure, broadcast and graceful close;
            operations: the middleware chain, request ids, CORS, rate limits, the JSON
            access log, Prometheus metrics, PROXY protocol and trusted forwarding,
            blocked callbacks named by route, the Server header;
            event backends: epoll, kqueue (macOS, BSD) and poll(), and the non-Linux
            code paths; HTTP dates right past 2038 with a 32-bit time_t.
            HTTPS and WSS with BearSSL (HTTPD_TLS_BEARSSL): SNI, session cache across
            workers, close_notify, handshake deadline, idle connections hold no buffer.
*/
#if defined(HTTPD_IMPLEMENTATION) && !defined(_GNU_SOURCE)
#  define _GNU_SOURCE 1        /* accept4, clock_gettime under -std=c11; must come first */
#endif
#ifndef HTTPD_H_INCLUDED
#define HTTPD_H_INCLUDED
#ifdef HTTPD_MINIMAL            /* the firmware build: see CONFIG and PORTABILITY */
#  ifndef HTTPD_NO_MULTIPART
#    define HTTPD_NO_MULTIPART 1
#  endif
#  ifndef HTTPD_NO_SSE
#    define HTTPD_NO_SSE 1
#  endif
#  ifndef HTTPD_NO_FILES
#    define HTTPD_NO_FILES 1
#  endif
#  ifndef HTTPD_NO_MIDDLEWARE
#    define HTTPD_NO_MIDDLEWARE 1
#  endif
#  ifndef HTTPD_NO_GETADDRINFO
#    define HTTPD_NO_GETADDRINFO 1
#  endif
#  ifndef HTTPD_NO_WEBSOCKET
#    define HTTPD_NO_WEBSOCKET 1
#  endif
#  ifndef HTTPD_NO_SIMD
#    define HTTPD_NO_SIMD 1     /* the plain loops are smaller */
#  endif
#  ifndef HTTPD_NO_STREAMING
#    define HTTPD_NO_STREAMING 1
#  endif
#  ifndef HTTPD_NO_TASKS
#    define HTTPD_NO_TASKS 1
#  endif
#  ifndef HTTPD_NO_LOG_MESSAGES
#    define HTTPD_NO_LOG_MESSAGES 1
#  endif
#  ifndef HTTPD_NO_SHED
#    define HTTPD_NO_SHED 1
#  endif
#  ifdef HTTPD_TLS_BEARSSL
#    error "httpd.h: HTTPD_MINIMAL has no TLS; leave HTTPD_TLS_BEARSSL out"
#  endif
#endif
#if defined(HTTPD_NO_STREAMING) && !defined(HTTPD_NO_SSE)
#  define HTTPD_NO_SSE 1        /* events are a streaming response */
#endif
#if defined(HTTPD_NO_FILES) && !defined(HTTPD_NO_STATIC)
#  define HTTPD_NO_STATIC 1     /* static files are sent as file bodies */
#endif
#include <stddef.h>
#include <stdint.h>

#ifndef HTTPD_API
#  ifdef HTTPD_STATIC
#    define HTTPD_API static
#  else
#    define HTTPD_API extern
#  endif
#endif

/* HTTPD__0: in C++14 and later every member of the configuration structs defaults to
   zero, so that a C++ user's { 0 }, { } or designated initializer compiles clean under
   -Wextra (missing-field-initializers), as it does in C. Same layout either way. */
#if defined(__cplusplus) && __cplusplus >= 201402L
#  define HTTPD__0 = {}
#else
#  define HTTPD__0
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Errors: 0 is success, every error is negative. httpd_strerror() names them. */
#define HTTPD_ERRORS(X) \
    X(HTTPD_OK,           0, "ok") \
    X(HTTPD_ERR_NOMEM,   -1, "out of memory") \
    X(HTTPD_ERR_INVAL,   -2, "invalid argument") \
    X(HTTPD_ERR_TOOLARGE,-3, "over limit") \
    X(HTTPD_ERR_CLOSED,  -4, "connection closed") \
    X(HTTPD_ERR_TIMEOUT, -5, "timed out") \
    X(HTTPD_ERR_SYS,     -6, "system call failed (see errno)") \
    X(HTTPD_ERR_ADDR,    -7, "cannot resolve or bind the address") \
    X(HTTPD_ERR_STATE,   -8, "not allowed in this state")
#define HTTPD__ERR_ENUM(name, value, text) name = value,
typedef enum httpd_err { HTTPD_ERRORS(HTTPD__ERR_ENUM) HTTPD_ERR_LAST_ = -9 } httpd_err;
#undef HTTPD__ERR_ENUM

#define HTTPD_UNLIMITED  UINT64_MAX    /* max_body_bytes: no cap                  */
#define HTTPD_NO_TIMEOUT UINT32_MAX    /* any *_timeout_ms: never time out        */

enum { HTTPD_LOG_ERROR = 0, HTTPD_LOG_WARN = 1, HTTPD_LOG_INFO = 2, HTTPD_LOG_DEBUG = 3 };

typedef struct httpd_server httpd_server;

/* A byte string that is not NUL-terminated. ptr is NULL when a value is absent. */
typedef struct httpd_str {
    const char *ptr;
    size_t      len;
} httpd_str;

typedef struct httpd_header {
    httpd_str name;                /* as sent (compare case-insensitively)          */
    httpd_str value;               /* surrounding whitespace removed                */
} httpd_header;

/* Identifies a connection across threads; a stale id (connection gone, slot reused)
   is detected through its generation part. */
typedef struct httpd_conn_id {
    uint64_t id;
} httpd_conn_id;

typedef struct httpd_request {
    httpd_str     method;          /* "GET", "POST", ... (a token)                  */
    httpd_str     target;          /* the request-target as sent                    */
    httpd_str     path;            /* decoded (see REQUESTS), always starts with '/'*/
    httpd_str     query;           /* after '?', raw; len 0 when there is none      */
    int           minor_version;   /* HTTP/1.0 -> 0, HTTP/1.1 -> 1                  */
    int64_t       content_length;  /* the body's declared length; -1: chunked or none */
    int           header_count;
    const httpd_header *headers;   /* in the order received                         */
    httpd_str     body;            /* the whole body (len 0 when none)              */
    void         *user_data;       /* the route's user_data, else desc.user_data    */
    httpd_server *server;
    httpd_conn_id conn;
    httpd_str     request_id;      /* desc.request_id: the client's valid X-Request-Id,
                                      else a generated one; ptr NULL when off       */
} httpd_request;

typedef void (*httpd_handler_fn)(httpd_request *req);
/* status: 0 when the time elapsed, HTTPD_ERR_CLOSED when the client left first,
   HTTPD_ERR_TIMEOUT when the request deadline passed first (the server sent 504). */
typedef void (*httpd_timer_fn)(httpd_request *req, void *arg, int status);

/* Blocking work (spawn_blocking): runs on the server's task pool, never on a worker. */
typedef struct httpd_task httpd_task;
typedef void (*httpd_work_fn)(void *arg, const httpd_task *task);
/* Back on the request's worker, exactly once: status 0 when the work ran, HTTPD_ERR_CLOSED
   when the client left, HTTPD_ERR_TIMEOUT when the request deadline passed (504 sent). */
typedef void (*httpd_done_fn)(httpd_request *req, void *arg, int status);
/* Runs on the connection's worker: status 0 if the connection is still there, else
   HTTPD_ERR_CLOSED (gone, or the server is stopping). */
typedef void (*httpd_post_fn)(httpd_server *s, httpd_conn_id conn, void *arg, int status);
/* Streamed request bodies: called with each piece as it arrives (status 0, len > 0), then
   once with HTTPD_BODY_END (len 0), or once with an error: HTTPD_ERR_TOOLARGE (over the
   cap: 413 sent), HTTPD_ERR_TIMEOUT (too slow: 408 sent), HTTPD_ERR_INVAL (malformed
   chunking: 400 sent), HTTPD_ERR_CLOSED (client gone). After an error, httpd_respond or
   httpd_end still has to be called once: it returns the error and frees the request.
   Exactly one callback hears an error: while an httpd_after timer or httpd_defer task is
   pending (the body paused behind it), that callback gets it instead of this one. */
#define HTTPD_BODY_END 1
typedef void (*httpd_body_fn)(httpd_request *req, void *arg, const void *data, size_t len,
                              int status);

typedef struct httpd_route {
    const char      *method HTTPD__0;       /* "GET", ...; NULL or "*" matches any method    */
    const char      *pattern HTTPD__0;      /* "/", "/users/:id", "/files/" "*"; NULL: end */
    httpd_handler_fn handler HTTPD__0;
    void            *user_data HTTPD__0;    /* -> req->user_data                             */
    uint64_t         max_body_bytes HTTPD__0; /* 0 -> desc.max_body_bytes; HTTPD_UNLIMITED   */
    uint32_t         timeout_ms HTTPD__0;   /* 0 -> desc.request_timeout_ms                  */
    int              stream_body HTTPD__0;  /* 1: the handler runs when the head is complete and
                                      reads the body with httpd_body_read (below)   */
    uint32_t         max_concurrent HTTPD__0; /* 0: no limit; requests of this route in their
                                        handler at once, over all workers; more -> 503
                                        with Retry-After at once (load shedding)        */
    const struct httpd_middleware *middleware HTTPD__0; /* zero-terminated; run after
                                        desc.middleware for this route (OPERATIONS)     */
    const struct httpd_cors *cors HTTPD__0;  /* instead of desc.cors; one without origins:
                                        no CORS on this route                           */
    const struct httpd_rate_limit *rate_limit HTTPD__0; /* instead of desc.rate_limit;
                                        rate 0: no limit on this route                  */
    int              quiet HTTPD__0;    /* 1: left out of the access log (probes, scrapes);
                                        still counted in the metrics                    */
} httpd_route;

typedef struct httpd_logger {
    /* level: HTTPD_LOG_*; code: an httpd_err or an HTTP status, 0 if none;
       file/line: where, under HTTPD_DEBUG, else NULL/0. Must be thread-safe. */
    void (*fn)(void *user_data, int level, int code, const char *msg,
               const char *file, int line) HTTPD__0;
    void *user_data HTTPD__0;
} httpd_logger;

/* The default logger: errors and warnings as one line each on stderr. */
HTTPD_API void httpd_log_stderr(void *user_data, int level, int code, const char *msg,
                                const char *file, int line);

/* ---- operations (see OPERATIONS in the manual): middleware, access log, request ids, CORS,
   rate limits, metrics, proxies ---- */
/* What became of a request, for middleware `complete` hooks (and the access log). */
typedef struct httpd_outcome {
    int         status;            /* the status sent; 499: the client left first      */
    int         generated;         /* 1: the server answered itself (an error, 404/405,
                                      the OPTIONS answer, a preflight, 429, 503)       */
    uint64_t    bytes_in;          /* head and body bytes read                         */
    uint64_t    bytes_out;         /* head and body bytes queued for the client        */
    uint64_t    duration_us;       /* from the head's arrival to the response's end     */
    const char *close;             /* NULL: the connection stays open; else why it
                                      closes: "error", "timeout", "unread_body",
                                      "client_close" (asked for), "client_gone",
                                      "stopping", "app" (a response cut short)        */
} httpd_outcome;
/* A middleware: any of the three hooks may be NULL. A list is zero-terminated (all NULL).
   request: before the handler, in order; return 0 to go on, or answer the request
     (httpd_respond & co.) and return 1: the rest of the chain and the handler are
     skipped. Synchronous: it must not defer, sleep or keep the request.
   response: before every response head the request gets, the server's own errors
     included; may add fields with httpd_add_header, must not answer.
   complete: once per request, when its response is done or it was abandoned. */
typedef struct httpd_middleware {
    int  (*request)(httpd_request *req, void *arg) HTTPD__0;
    void (*response)(httpd_request *req, int status, void *arg) HTTPD__0;
    void (*complete)(httpd_request *req, const httpd_outcome *o, void *arg) HTTPD__0;
    void *arg HTTPD__0;
} httpd_middleware;
/* Cross-origin resource sharing (WHATWG Fetch §3.2). A request whose Origin matches gets
   Access-Control-Allow-Origin (and -Credentials, -Expose-Headers) on every response, the
   server's errors included; every response says Vary: Origin. A preflight (OPTIONS with
   Origin and Access-Control-Request-Method) is answered 204 without reaching the
   handler, or 403 without CORS fields when the origin, method or a header is refused. */
typedef struct httpd_cors {
    const char *const *origins HTTPD__0; /* NULL-terminated: "https://app.example.com" exact,
                                     "https://" "*.example.com": any subdomain; "*"  */
    const char *methods HTTPD__0;   /* allowed in preflights: NULL -> "GET, HEAD, POST";
                                     "*": whatever is asked                           */
    const char *headers HTTPD__0;   /* request fields allowed ("Content-Type, X-Token");
                                     NULL: only the safelisted ones; "*": any asked     */
    const char *expose HTTPD__0;    /* Access-Control-Expose-Headers (X-Request-Id is
                                     added when request ids are on)                     */
    int         credentials HTTPD__0; /* 1: cookies and auth: Allow-Credentials: true     */
    uint32_t    max_age HTTPD__0;   /* preflight cache, seconds; 0 -> 600               */
} httpd_cors;
/* Token buckets (GCRA) per client address, or per key. Over the limit -> 429 with
   Retry-After. Each worker keeps its own bounded table (no lock); see OPERATIONS for a
   client whose connections land on several workers. */
typedef struct httpd_rate_limit {
    double      rate HTTPD__0;      /* requests per second, refilled continuously; 0: off  */
    uint32_t    burst HTTPD__0;     /* requests allowed at once; 0 -> rate (at least 1)   */
    int         per_route HTTPD__0; /* 1: buckets per client and route; 0: one per client
                                     for every route using this limit                   */
    int         split HTTPD__0;     /* 1: each worker allows rate/workers (never more than
                                     rate in all); 0: each allows rate                  */
    uint32_t    max_clients HTTPD__0; /* buckets per worker, 0 -> 4096; the fullest (least
                                     limited) bucket is evicted for a new client        */
    httpd_str (*key)(httpd_request *req, void *arg) HTTPD__0; /* NULL (or ptr NULL back):
                                     the client address; else e.g. an API key          */
    void       *key_arg HTTPD__0;
} httpd_rate_limit;
/* The access log: one JSON line per request, formatted on its worker into a per-worker
   buffer that a log thread writes (flushed when full or flush_ms after its first line):
   a worker never waits for the disk. Lines that find every buffer waiting are dropped
   and counted (httpd_access_log_dropped_total). */
typedef struct httpd_access_log {
    const char *path HTTPD__0;      /* appended to; reopened on SIGHUP (httpd_serve) or
                                     httpd_log_reopen (logrotate); "-": stderr          */
    void      (*fn)(void *user_data, const char *lines, size_t len) HTTPD__0; /* instead of
                                     a file: whole lines, in batches, on the log thread */
    void       *user_data HTTPD__0;
    const char *const *headers HTTPD__0; /* request fields to log, NULL-terminated      */
    const char *const *redact HTTPD__0;  /* fields logged as "[redacted]"; NULL ->
                                     Authorization, Proxy-Authorization, Cookie       */
    uint32_t    flush_ms HTTPD__0;  /* 0 -> 1000: longest a line waits in its buffer   */
    uint32_t    buffer_bytes HTTPD__0; /* 0 -> 64 KiB; up to 16 buffers per worker, made
                                     only while the disk lags                          */
} httpd_access_log;
/* An application metric in the Prometheus text format (httpd_metrics). */
enum { HTTPD_COUNTER = 1, HTTPD_GAUGE = 2 };
typedef struct httpd_metric {
    const char *name HTTPD__0;      /* [a-zA-Z_:][a-zA-Z0-9_:]*; counters end in _total;
                                     NULL ends the list                                */
    const char *help HTTPD__0;
    int         type HTTPD__0;      /* HTTPD_COUNTER or HTTPD_GAUGE                     */
    const char *labels HTTPD__0;    /* optional: 'pool="read"'; entries in a row may share
                                     a name with different labels                      */
    double    (*read)(void *arg) HTTPD__0; /* optional: the value, read at each scrape on
                                     the scraping worker (must be thread-safe)         */
    void       *arg HTTPD__0;
} httpd_metric;
/* desc.on_error: the server is about to answer `status` itself (4xx/5xx: errors, 404,
   405, 429, 503, 504). Write a body of at most cap bytes and set *content_type; return its
   length, or -1 for the default text. Fields may be added with httpd_add_header. */
typedef int (*httpd_error_fn)(httpd_request *req, int status, char *body, size_t cap,
                              const char **content_type);
/* HTTPS and WSS (see TLS above): a TLS listener beside the plaintext one, with BearSSL.
   Compile with -DHTTPD_TLS_BEARSSL and link -lbearssl; without that macro these types
   exist but a desc.tls makes httpd_start fail with HTTPD_ERR_INVAL. */
typedef struct httpd_tls_cert {    /* one certificate chain and its private key          */
    const char *cert_file HTTPD__0;     /* PEM file: the chain, leaf first               */
    const char *key_file HTTPD__0;      /* PEM file: the key (RSA or EC; PKCS#1, SEC1 or
                                           PKCS#8; not encrypted)                        */
    const char *cert_pem HTTPD__0;      /* or the PEM text itself (when cert_file is 0)  */
    size_t      cert_pem_len HTTPD__0;  /* 0: strlen(cert_pem)                           */
    const char *key_pem HTTPD__0;       /* or the key's PEM text (when key_file is 0)    */
    size_t      key_pem_len HTTPD__0;   /* 0: strlen(key_pem)                            */
    const char *names HTTPD__0;         /* SNI host names it serves, space-separated;
                                           "*.example.com" matches one label; 0: only as
                                           the default (certs[0])                        */
} httpd_tls_cert;
#define HTTPD_TLS_NO_CACHE UINT32_MAX   /* httpd_tls_desc.session_cache: no resumption   */
typedef struct httpd_tls_desc {
    uint16_t    port HTTPD__0;          /* HTTPS port; 0 -> ephemeral, see httpd_tls_port */
    const char *addr HTTPD__0;          /* 0 -> desc.addr                                */
    int         only HTTPD__0;          /* 1: no plaintext listener (desc.port unused)   */
    const httpd_tls_cert *certs HTTPD__0;   /* ncerts of them; certs[0] is the default   */
    int         ncerts HTTPD__0;
    /* SNI: which certificate serves server_name ("" when the client sent none): an index
       into certs, or -1 to refuse the handshake. Runs on a worker, during the handshake.
       0 -> the first cert whose names match, else certs[0]. */
    int (*sni)(void *user_data, const char *server_name) HTTPD__0;
    void       *sni_user_data HTTPD__0;
    uint32_t    handshake_timeout_ms HTTPD__0;  /* 0 -> 10000: handshake done by then from
                                           the accept, else closed                       */
    uint32_t    session_cache HTTPD__0; /* 0 -> 4096 sessions (about 120 bytes each),
                                           shared by all workers; HTTPD_TLS_NO_CACHE     */
    uint32_t    session_timeout_ms HTTPD__0;    /* 0 -> 300000: how long a session can be
                                           resumed                                       */
    int         half_duplex HTTPD__0;   /* 1: one 16.7 KB record buffer per busy connection
                                           instead of two (33 KB): a response waits while
                                           a request record is half received (firmware) */
    uint32_t    max_record HTTPD__0;    /* 0 -> 16384: plaintext bytes per record, and
                                           buffers sized to match: 512, 1024, 2048 or 4096
                                           save memory but only clients that ask for at
                                           most that (max_fragment_length, RFC 6066) can
                                           connect; our records honour what they ask     */
} httpd_tls_desc;
/* What a request's connection negotiated (httpd_tls_get_info). Strings are static or
   live as long as the connection. */
typedef struct httpd_tls_info {
    const char *version;           /* "TLSv1.2"                                          */
    const char *cipher;            /* OpenSSL's name, "ECDHE-ECDSA-AES128-GCM-SHA256"   */
    const char *server_name;       /* SNI, "" if none                                   */
    const char *alpn;              /* "http/1.1", or NULL when not negotiated           */
    int         resumed;           /* 1: an abbreviated handshake (session cache hit)   */
    int         cert;              /* index of the certificate served                  */
} httpd_tls_info;

typedef struct httpd_desc {
    const char  *addr HTTPD__0; /* 0 -> "127.0.0.1"; IPv4 or IPv6 literal or name  */
    uint16_t     port HTTPD__0; /* 0 -> ephemeral port, see httpd_port()           */
    int          workers HTTPD__0; /* 0 -> online CPUs                                */
    int          backlog HTTPD__0; /* 0 -> 4096 (warns when above net.core.somaxconn) */
    uint32_t     max_connections HTTPD__0;      /* 0 -> 10000, over all workers; past it the
                                          server stops accepting, the backlog holds more */
    uint32_t     max_request_line HTTPD__0; /* 0 -> 8 KiB; over -> 414                         */
    uint32_t     max_header_bytes HTTPD__0; /* 0 -> 16 KiB (request line included); -> 431     */
    uint32_t     max_headers HTTPD__0; /* 0 -> 100 fields; over -> 431                    */
    uint64_t     max_body_bytes HTTPD__0; /* 0 -> 1 MiB; per-route override; over -> 413     */
    uint32_t     read_buffer_bytes HTTPD__0;    /* 0 -> 16 KiB, raised to max_header_bytes + 1 KiB
                                          (17 KiB with the defaults); taken
                                          only while a request is being read              */
    uint32_t     keepalive_timeout_ms HTTPD__0; /* 0 -> 60000: idle between requests, then close */
    uint32_t     header_timeout_ms HTTPD__0;    /* 0 -> 30000: head complete after its first byte,
                                          else 408                                        */
    uint32_t     body_timeout_ms HTTPD__0; /* 0 -> 30000: longest pause between body bytes    */
    uint32_t     body_min_rate HTTPD__0;        /* 0 -> 240 bytes/s averaged over each 5 s window
                                          of a body upload, else 408 (slow drip) HTTPD__0;
                                          HTTPD_NO_TIMEOUT disables                       */
    uint32_t     write_timeout_ms HTTPD__0;     /* 0 -> 30000: longest stall of a client not
                                          reading its response, then drop                 */
    uint32_t     request_timeout_ms HTTPD__0;   /* 0 -> 60000: the handler has not answered by then
                                          (after the body is read) -> 504; per route too  */
    uint32_t     shutdown_timeout_ms HTTPD__0; /* 0 -> 10000: graceful stop, then force-close     */
    uint32_t     drain_delay_ms HTTPD__0;       /* 0: on a graceful stop /ready answers 503 at once
                                          but accepting goes on this long (preStop)       */
    int          pin_workers HTTPD__0; /* 1: worker i runs on CPU i mod online CPUs       */
    int          task_threads HTTPD__0; /* 0 -> 4: threads of the blocking-task pool       */
    uint32_t     task_queue HTTPD__0;           /* 0 -> 1024: tasks waiting; full -> httpd_defer
                                          fails (answer 503). preallocate: also the task
                                          objects made at start (0 -> max_connections + 2
                                          per worker: one per request it can hold)        */
    uint32_t     max_inflight HTTPD__0;         /* 0: no limit; requests in handlers at once over
                                          the server; more -> 503 + Retry-After at once  */
    uint32_t     blocked_warn_ms HTTPD__0;      /* 0 -> 1000: a worker away from its event loop
                                          this long (a handler blocks) is logged as a
                                          warning, once per stall; HTTPD_NO_TIMEOUT: off */
    uint64_t     ws_max_message_bytes HTTPD__0; /* 0 -> 1 MiB: WebSocket message cap (per
                                          route: httpd_ws_desc); over -> close 1009       */
    uint32_t     ws_ping_interval_ms HTTPD__0; /* 0 -> 15000: ping a quiet WebSocket this often */
    uint32_t     ws_timeout_ms HTTPD__0;        /* 0 -> 45000: nothing heard from the peer (pong
                                          or any frame) this long -> close 1001, drop     */
    httpd_route const *routes HTTPD__0; /* zero-terminated; may be NULL                    */
    httpd_handler_fn on_request HTTPD__0; /* requests no route matched (instead of 404)      */
    void        *user_data HTTPD__0; /* req->user_data when the route has none          */
    void        *alloc_ctx HTTPD__0; /* first argument of HTTPD_MALLOC and co.          */
    httpd_logger logger HTTPD__0;               /* 0 -> httpd_log_stderr: errors and warnings on
                                          stderr (to silence: a function that does nothing) */
    /* operations (OPERATIONS in the manual); all off by default */
    const httpd_middleware *middleware HTTPD__0; /* zero-terminated: every request, in the
                                          "auth" position of the chain                   */
    int          request_id HTTPD__0;  /* 1: X-Request-Id on every request and response    */
    const httpd_cors *cors HTTPD__0;   /* CORS for every route without its own            */
    const httpd_rate_limit *rate_limit HTTPD__0; /* for every route without its own        */
    httpd_access_log access_log HTTPD__0; /* .path or .fn turns it on                       */
    const httpd_metric *metrics HTTPD__0; /* application metrics, zero-terminated; metrics
                                          are kept when this is set or a route's handler
                                          is httpd_metrics                                */
    httpd_error_fn on_error HTTPD__0;  /* bodies for the server's own error answers       */
    const char *const *trusted_proxies HTTPD__0; /* NULL-terminated CIDRs ("10.0.0.0/8",
                                          "::1"): X-Forwarded-For / Forwarded are believed
                                          from these peers only                           */
    const char  *server_name HTTPD__0; /* Server header value; NULL: no Server header     */
    int          proxy_protocol HTTPD__0; /* 1: a second listener at proxy_addr:proxy_port on
                                          which every connection starts with a PROXY v1 or
                                          v2 header (HAProxy send-proxy[-v2])              */
    const char  *proxy_addr HTTPD__0;  /* 0 -> addr                                        */
    uint16_t     proxy_port HTTPD__0;  /* 0 -> ephemeral (httpd_proxy_port)               */
    uint32_t     proxy_timeout_ms HTTPD__0; /* 0 -> 5000: the PROXY header's deadline      */
    uint32_t     proxy_max_connections HTTPD__0; /* 0: only max_connections; else its own cap */
    const httpd_tls_desc *tls HTTPD__0; /* 0: no HTTPS; else the TLS listener (see TLS)  */
    int          preallocate HTTPD__0; /* 1: no allocation after httpd_start: connections,
                                          buffers and requests come from pools sized here
                                          from max_connections (see PORTABILITY)          */
} httpd_desc;

/* Binds, starts the workers and returns at once. On error nothing is left running and
   the error was logged (desc.logger, stderr by default). The server's lifetime:
   httpd_start -> (serving) -> httpd_stop -> httpd_wait -> httpd_destroy. */
HTTPD_API int  httpd_start(const httpd_desc *desc, httpd_server **out);
/* The bound port (useful with port 0). */
HTTPD_API int  httpd_port(const httpd_server *s);
/* The bound HTTPS port, or -1 when the server has no TLS listener. */
HTTPD_API int  httpd_tls_port(const httpd_server *s);
/* Worker thread, while the request is live: 1 and *info filled when req came over TLS,
   0 for plaintext (info zeroed). */
HTTPD_API int  httpd_tls_get_info(const httpd_request *req, httpd_tls_info *info);
/* Any thread, and async-signal-safe. graceful: stop accepting, close idle connections,
   finish in-flight requests (their responses say Connection: close), force-close what is
   left after shutdown_timeout_ms. Not graceful: close everything now. Does nothing once
   httpd_wait has returned. */
HTTPD_API void httpd_stop(httpd_server *s, int graceful);
/* Waits for the workers to end (after httpd_stop) and releases connections, buffers,
   threads and sockets. From then on httpd_post, httpd_submit and httpd_stop, from any
   thread, fail with HTTPD_ERR_STATE (or do nothing): s stays a valid handle until
   httpd_destroy. 0, or HTTPD_ERR_STATE if it was called already. */
HTTPD_API int  httpd_wait(httpd_server *s);
/* Frees the server object (stopping at once and waiting first if that was not done).
   Call it once no other thread will use s again. */
HTTPD_API void httpd_destroy(httpd_server *s);
/* Blocks the calling thread until the server stops, handling SIGINT/SIGTERM there on a
   signalfd (sigtimedwait if no descriptor is left; no signal handler, no global state):
   the first starts a graceful stop, a second stops at once. Then waits like httpd_wait
   (httpd_destroy is still the caller's). Worker threads always run with signals blocked;
   block SIGINT/SIGTERM before httpd_start if one may arrive between the two calls
   (httpd_run does). HTTPD_NO_THREADS: the loop runs here, and signal handlers (installed
   for the call, then restored) stop it; httpd_run installs them before its start. */
HTTPD_API int  httpd_serve(httpd_server *s);
/* httpd_start + httpd_serve + httpd_destroy: 0 after a clean stop, or the negative
   httpd_err that kept the server from starting (logged; HTTPD_ERR_ADDR: the address
   cannot be resolved or bound, e.g. the port is taken). For main(): return
   httpd_run(&d) < 0 ? 1 : 0;  */
HTTPD_API int  httpd_run(const httpd_desc *desc);
#if defined(__clang__) && defined(__cplusplus)    /* C++ defaults (HTTPD__0) make clang call */
#  pragma clang diagnostic push                  /* it a C++ type; it is copied as in C     */
#  pragma clang diagnostic ignored "-Wreturn-type-c-linkage"
#endif
/* The configuration in use, with every default filled in. */
HTTPD_API httpd_desc httpd_query_desc(const httpd_server *s);
#if defined(__clang__) && defined(__cplusplus)
#  pragma clang diagnostic pop
#endif
/* 1 once a stop was asked for (readiness should fail), else 0. Any thread. */
HTTPD_API int  httpd_stopping(const httpd_server *s);
/* A ready-made readiness handler: 200 "ready", or 503 "stopping" once a stop began. */
HTTPD_API void httpd_ready(httpd_request *req);
HTTPD_API const char *httpd_strerror(int err);

/* Request helpers (worker thread, while the request is live). Absent -> ptr NULL. */
HTTPD_API httpd_str httpd_get_header(const httpd_request *req, const char *name);
HTTPD_API httpd_str httpd_param(httpd_request *req, const char *name);       /* decoded */
HTTPD_API httpd_str httpd_query_param(httpd_request *req, const char *name); /* decoded */
/* A field of an application/x-www-form-urlencoded body (buffered routes; the route's
   max_body_bytes caps it), decoded like a query parameter. Absent, or another content
   type -> ptr NULL. */
HTTPD_API httpd_str httpd_form_param(httpd_request *req, const char *name);
HTTPD_API int       httpd_str_eq(httpd_str s, const char *cstr);

/* Responses (worker thread). 0 on success; HTTPD_ERR_INVAL for a bad header or a second
   response; HTTPD_ERR_CLOSED if the client left (the request is released all the same);
   HTTPD_ERR_NOMEM. After httpd_respond returns, req must not be used again. */
HTTPD_API int httpd_add_header(httpd_request *req, const char *name, const char *value);
HTTPD_API int httpd_respond(httpd_request *req, int status, const char *content_type,
                            const void *body, size_t len);
HTTPD_API const char *httpd_reason(int status);

/* Streaming responses (worker thread). httpd_begin sends the head: content_length >= 0
   fixes the length, -1 streams (chunked for HTTP/1.1, until close for HTTP/1.0). Then
   httpd_write any number of times and httpd_end once (which, like httpd_respond, ends the
   request: req must not be used after). httpd_write copies and returns 0, or
   HTTPD_WRITE_FULL when the connection's queued output passed its high-water mark: stop
   producing and ask httpd_on_writable(req, fn, arg) to call fn(req, arg, 0) once it drained
   below the low-water mark (fn gets HTTPD_ERR_CLOSED if the client left). Errors:
   HTTPD_ERR_CLOSED (client gone: call httpd_end to free), HTTPD_ERR_INVAL (more bytes than
   Content-Length; httpd_end with bytes missing also says so and closes the connection),
   HTTPD_ERR_STATE. A streaming response is never cut by the request deadline; the write
   timeout drops a client that stops reading. */
#define HTTPD_WRITE_FULL 1
HTTPD_API int httpd_begin(httpd_request *req, int status, const char *content_type,
                          int64_t content_length);
HTTPD_API int httpd_write(httpd_request *req, const void *data, size_t n);
HTTPD_API int httpd_on_writable(httpd_request *req, httpd_timer_fn fn, void *arg);
HTTPD_API int httpd_end(httpd_request *req);
/* Trailer fields for a chunked streaming response (RFC 9112 §7.1.2), sent by httpd_end
   after the last chunk; declare them before httpd_begin with httpd_add_header(req,
   "Trailer", "X-Checksum"). Fields that must not be trailers (framing, routing, controls,
   Content-*, authentication, cookies; RFC 9110 §6.5.1) -> HTTPD_ERR_INVAL. A response
   that is not chunked (fixed length, HTTP/1.0) cannot carry them -> HTTPD_ERR_STATE; for
   HEAD they are dropped like the body (0). */
HTTPD_API int httpd_add_trailer(httpd_request *req, const char *name, const char *value);
/* A file as the whole response: len bytes of fd from offset (HTTPD_FILE_REST: to the end
   of the file), with Content-Length, sent with sendfile(2) (pread + write where it cannot
   be used, or under -DHTTPD_NO_SENDFILE) a piece at a time as the client reads, so memory
   stays flat at any size. The server owns fd from this call on, whatever it returns: it is
   closed once the body is sent, the client left, or at once on error. HEAD, 204 and 304
   send the head only. For a 206, add Content-Range and pass the range. A file that shrinks
   during the transfer closes the connection (the length can no longer hold). Returns
   like httpd_respond; HTTPD_ERR_SYS if fstat fails for HTTPD_FILE_REST. */
#define HTTPD_FILE_REST UINT64_MAX
HTTPD_API int httpd_send_file(httpd_request *req, int status, const char *content_type,
                              int fd, uint64_t offset, uint64_t len);

/* For routes with stream_body: start receiving the body; fn gets it piece by piece (see
   httpd_body_fn). "100 Continue" is sent now if the client asked for it, so a handler
   that refuses (responds without calling this) never makes the client send the body.
   pause/resume stop and restart reading the socket: TCP flow control holds the client
   back and memory stays bounded by the read buffer. 0, HTTPD_ERR_STATE, HTTPD_ERR_CLOSED. */
HTTPD_API int  httpd_body_read(httpd_request *req, httpd_body_fn fn, void *arg);
/* Server-Sent Events on top of a streaming response. httpd_sse_begin sends 200
   text/event-stream (no caching, no proxy buffering). httpd_sse_send writes one event:
   event and id (optional, NULL) must not contain CR or LF; data may span lines (each goes
   out as its own "data:" line). httpd_sse_comment writes ": text", the usual keep-alive
   for proxies. They return like httpd_write; end with httpd_end. A long stream should
   end itself when httpd_stopping() says so (graceful shutdown). */
HTTPD_API int  httpd_sse_begin(httpd_request *req);
HTTPD_API int  httpd_sse_send(httpd_request *req, const char *event, const char *id,
                              const char *data);
HTTPD_API int  httpd_sse_comment(httpd_request *req, const char *text);
HTTPD_API void httpd_body_pause(httpd_request *req);
HTTPD_API void httpd_body_resume(httpd_request *req);
/* multipart/form-data (RFC 7578 on RFC 2046 §5.1), parsed as it streams: a browser
   uploading a firmware image is handed over part by part, never buffered whole. The
   parser is incremental and does no I/O (feed it any split of the body); it calls
   fn(arg, event, part, data, len) with HTTPD_PART_BEGIN (the part's headers are parsed),
   HTTPD_PART_DATA (a piece of its content, valid during the call) and HTTPD_PART_END.
   The part's strings stay valid until its END. fn returns 0 to go on, or a negative value
   that stops the parse and comes back from httpd_multipart_feed. */
typedef struct httpd_part {
    httpd_str  name;               /* Content-Disposition name; ptr NULL when absent    */
    httpd_str  filename;           /* as sent (never trust it as a path); NULL if none  */
    httpd_str  content_type;       /* ptr NULL when absent (then text/plain)            */
    int        header_count;
    const httpd_header *headers;
    uint32_t   index;              /* 0 for the first part                              */
    uint64_t   size;               /* content bytes so far (at END: the total)          */
} httpd_part;
enum { HTTPD_PART_BEGIN = 1, HTTPD_PART_DATA = 2, HTTPD_PART_END = 3 };
#define HTTPD_MULTIPART_DONE 1
#define HTTPD_MULTIPART_MAX_HEADERS 16    /* header fields per part; more -> TOOLARGE */
typedef int (*httpd_part_fn)(void *arg, int event, const httpd_part *part,
                             const void *data, size_t len);
typedef struct httpd_multipart_limits {
    uint32_t max_parts HTTPD__0;            /* 0 -> 128; more -> HTTPD_ERR_TOOLARGE              */
    uint32_t max_header_bytes HTTPD__0;     /* 0 -> 4 KiB: one part's header block (begin only)  */
    uint64_t max_part_bytes HTTPD__0;       /* 0 -> no cap but the body's; more -> TOOLARGE      */
} httpd_multipart_limits;
typedef struct httpd_multipart {   /* the parser's state: treat every field as private */
    char         delim[76];        /* CRLF "--" boundary                                */
    uint8_t      dlen, k, state;   /* k: delimiter bytes matched so far                 */
    int          rc;               /* sticky: HTTPD_MULTIPART_DONE or an error          */
    char        *hbuf;             /* the current part's header block                   */
    uint32_t     hlen, hcap, nparts;
    httpd_multipart_limits lim;
    httpd_part_fn fn;
    void        *arg;
    httpd_part   part;
    httpd_header hdrs[HTTPD_MULTIPART_MAX_HEADERS];
} httpd_multipart;
/* Sets up m for a body whose Content-Type is content_type ("multipart/...; boundary=..."),
   with header_buf[header_cap] as the room for a part's header block (the header size cap).
   No allocation. 0, or HTTPD_ERR_INVAL when there is no valid boundary (answer 400/415). */
HTTPD_API int httpd_multipart_init(httpd_multipart *m, httpd_str content_type,
                                   const httpd_multipart_limits *lim, char *header_buf,
                                   size_t header_cap, httpd_part_fn fn, void *arg);
/* For a request: init from its Content-Type, memory from the request (freed with it).
   NULL: not multipart/form-data with a valid boundary, or no memory. Feed it from the
   body callback of a stream_body route, or once with req->body for a buffered one. */
HTTPD_API httpd_multipart *httpd_multipart_begin(httpd_request *req,
                                                 const httpd_multipart_limits *lim,
                                                 httpd_part_fn fn, void *arg);
/* The next bytes of the body. 0: more expected; HTTPD_MULTIPART_DONE: the closing boundary
   was seen (the epilogue after it is ignored); < 0, and the same from then on:
   HTTPD_ERR_INVAL (malformed: answer 400), HTTPD_ERR_TOOLARGE (a limit: 413), or what fn
   returned. */
HTTPD_API int httpd_multipart_feed(httpd_multipart *m, const void *data, size_t len);
/* At the end of the body: 0 if the closing boundary was seen, else the error, or
   HTTPD_ERR_INVAL for a body cut short (no closing boundary; the open part got no END). */
HTTPD_API int httpd_multipart_end(const httpd_multipart *m);
/* Runs fn(req, arg, status) once on the request's worker after ms milliseconds, without
   blocking it, or earlier with an error status (see httpd_timer_fn). One timer per request;
   do not respond while it is pending (httpd_respond says HTTPD_ERR_STATE). After an error
   status, still call httpd_respond: it frees the request. 0 or HTTPD_ERR_STATE. */
HTTPD_API int httpd_after(httpd_request *req, uint32_t ms, httpd_timer_fn fn, void *arg);
/* Runs work(arg, task) on the task pool, then done(req, arg, status) on the request's
   worker, exactly once. work must not touch req; arg belongs to the caller throughout.
   When the client leaves or the deadline passes, the task is marked cancelled (a task not
   started yet is skipped) and done still runs. Do not respond while it is pending. A
   streamed request body is paused until done has run, and the last piece handed to the
   body callback stays valid until then, so work may consume it in place.
   Returns 0 (done will run), HTTPD_ERR_TOOLARGE (queue full: answer 503 yourself),
   HTTPD_ERR_STATE (answered already, or a timer or task is pending). */
HTTPD_API int httpd_defer(httpd_request *req, httpd_work_fn work, httpd_done_fn done, void *arg);
/* For work functions: 1 once the request's client left, its deadline passed, or the
   server is stopping. Any thread. */
HTTPD_API int httpd_task_cancelled(const httpd_task *task);
/* Background work from any thread, not tied to a request: work(arg, task) runs on the pool
   (with task cancelled when the server stops). 0, HTTPD_ERR_TOOLARGE, HTTPD_ERR_STATE. */
HTTPD_API int httpd_submit(httpd_server *s, httpd_work_fn work, void *arg);
/* Any thread: runs fn on the worker that owns conn, exactly once if 0 is returned
   (HTTPD_ERR_NOMEM, HTTPD_ERR_INVAL, HTTPD_ERR_STATE once the workers ended; never after
   httpd_wait began). */
HTTPD_API int httpd_post(httpd_server *s, httpd_conn_id conn, httpd_post_fn fn, void *arg);

/* Static files and packed assets (see STATIC FILES above). A file packed into the program
   by tools/httpd_pack: every field is computed at pack time. */
typedef struct httpd_asset {
    const char *path HTTPD__0;     /* relative, "css/site.css"; the array is sorted by
                                      strcmp of path                                     */
    const char *type HTTPD__0;     /* Content-Type                                       */
    const char *etag HTTPD__0;     /* strong ETag, quotes included                       */
    int64_t     mtime HTTPD__0;    /* Last-Modified, Unix seconds; 0: none               */
    const unsigned char *data HTTPD__0;     /* the bytes, len of them                    */
    uint64_t    len HTTPD__0;
    const unsigned char *gz HTTPD__0, *br HTTPD__0;  /* precompressed variants; NULL: none */
    uint64_t    gz_len HTTPD__0, br_len HTTPD__0;
    const char *gz_etag HTTPD__0, *br_etag HTTPD__0;
} httpd_asset;
typedef struct httpd_mime {        /* { ".ext", "type" }; a zero entry ends the list     */
    const char *ext HTTPD__0, *type HTTPD__0;
} httpd_mime;
typedef struct httpd_static {      /* one mount: zero means the default for every field  */
    const char *root HTTPD__0;     /* the directory served (or: assets below)            */
    const httpd_asset *assets HTTPD__0;     /* packed assets instead of a directory      */
    size_t      nassets HTTPD__0;
    const char *index HTTPD__0;    /* 0 -> "index.html"; "" -> none                      */
    const char *cache_control HTTPD__0;     /* Cache-Control of every file response;
                                               0 -> none                                 */
    const httpd_mime *mime HTTPD__0;        /* extensions looked up before the built-in
                                               table                                     */
    int         listings HTTPD__0; /* 1: a directory without an index is listed (HTML)   */
    int         hidden HTTPD__0;   /* 1: names starting with '.' are served              */
    int         follow_symlinks HTTPD__0;   /* 1: follow links whose target stays beneath
                                               root                                      */
    int         precompressed HTTPD__0;     /* 1: serve name.br / name.gz when accepted  */
    int         root_fd HTTPD__0;  /* set by httpd_static_open                           */
    int         is_open HTTPD__0;
} httpd_static;
/* Checks the mount and opens its root directory (kept open until httpd_static_close).
   Call before httpd_start; the mount must outlive the server and is read-only after.
   0; HTTPD_ERR_SYS (errno says why the root cannot be opened); HTTPD_ERR_INVAL (no root
   and no assets, CR/LF in cache_control or a MIME type, assets not sorted). */
HTTPD_API int  httpd_static_open(httpd_static *m);
HTTPD_API void httpd_static_close(httpd_static *m);
/* A route handler: req->user_data is the httpd_static, the route's "*" is the path. */
HTTPD_API void httpd_static_handler(httpd_request *req);
/* The same from a handler of yours (add headers first): answers req from mount m with the
   route's "*" parameter (the whole path if the route has none). Returns like
   httpd_respond. */
HTTPD_API int  httpd_static_serve(httpd_request *req, const httpd_static *m);
/* A route entry: { HTTPD_STATIC_ROUTE("/static/", &mount) } */
#define HTTPD_STATIC_ROUTE(prefix, mount) \
    { "GET", prefix "*", httpd_static_handler, (void *)(mount), 0, 0, 0, 0, 0, 0, 0, 0 }

/* WebSockets (RFC 6455), see WEBSOCKETS above. An httpd_ws * belongs to its connection's
   worker: use it there (callbacks, timers, posts), until on_close returns. Other threads
   use the connection id (httpd_ws_id) with httpd_ws_send_to and httpd_ws_broadcast. */
typedef struct httpd_ws httpd_ws;
enum { HTTPD_WS_TEXT = 1, HTTPD_WS_BINARY = 2 };          /* message types (opcodes)     */
enum { HTTPD_WS_DROP = 0, HTTPD_WS_CLOSE = 1 };           /* httpd_ws_desc.overflow      */
typedef struct httpd_ws_desc {
    /* all callbacks run on the connection's worker; only on_message is required */
    void (*on_open)(httpd_ws *ws) HTTPD__0;
    /* A message: whole (fin 1) by default; with .stream, its pieces as they arrive (fin 1
       on the last, which may be empty). data is valid during the call only. Text is
       valid UTF-8 (a piece may end inside a character). */
    void (*on_message)(httpd_ws *ws, int type, const void *data, size_t len, int fin) HTTPD__0;
    /* Exactly once, when the WebSocket ends: the peer's close code (1005: it gave none),
       the code the server closed with (1002, 1007, 1008, 1009, 1001 heartbeat timeout or
       stop), or 1006 (the connection dropped without a close). reason: the peer's, or
       empty. The handle is invalid after it returns. */
    void (*on_close)(httpd_ws *ws, int code, const char *reason, size_t reason_len) HTTPD__0;
    /* After httpd_ws_send said HTTPD_WRITE_FULL (or refused), once the queued output
       drained below the low-water mark: produce again. */
    void (*on_writable)(httpd_ws *ws) HTTPD__0;
    /* Browser clients: 1 accepts the Origin, 0 answers 403. NULL: an Origin header, if
       any, must name the Host the request was sent to (cross-site hijacking). */
    int (*check_origin)(httpd_request *req, httpd_str origin) HTTPD__0;
    uint64_t max_message_bytes HTTPD__0; /* 0 -> desc.ws_max_message_bytes; over -> close
                                       1009; HTTPD_UNLIMITED (sensible with .stream)   */
    uint64_t max_frame_bytes HTTPD__0;   /* 0 -> no cap but the message's; over -> 1009   */
    uint32_t ping_interval_ms HTTPD__0;  /* 0 -> desc.ws_ping_interval_ms; HTTPD_NO_TIMEOUT
                                       turns it off                                     */
    uint32_t timeout_ms HTTPD__0;        /* 0 -> desc.ws_timeout_ms; HTTPD_NO_TIMEOUT off  */
    int      stream HTTPD__0;            /* 1: on_message gets pieces as they arrive       */
    int      overflow HTTPD__0;          /* a broadcast finding the peer's queue over the
                                       high-water mark: HTTPD_WS_DROP the message for
                                       it, or HTTPD_WS_CLOSE the slow peer with 1008   */
} httpd_ws_desc;
/* In a GET handler (or later, on the worker, while the request is held): validates the
   handshake (RFC 6455 §4.2.1) and answers 101; from then on the connection speaks
   WebSocket and req must not be used again. desc must outlive the WebSockets made with it
   (static storage); it is also their broadcast group. protocol: NULL, or the subprotocol
   the application picked among those the client offered (httpd_ws_offers). user: the
   connection's pointer (httpd_ws_user). Returns 0; HTTPD_ERR_INVAL: not a valid handshake,
   answered 400 (426 + Sec-WebSocket-Version: 13 for another version, 403 for a refused
   Origin, 400 for a protocol the client did not offer); HTTPD_ERR_CLOSED: the server is
   stopping (503 sent) or the client left; HTTPD_ERR_NOMEM (503 sent); in all these req is
   finished. HTTPD_ERR_STATE: wrong use (answered already, a timer or task pending), and
   nothing was done. Extensions offered (permessage-deflate) are declined by silence. */
HTTPD_API int  httpd_ws_upgrade(httpd_request *req, const httpd_ws_desc *desc,
                                const char *protocol, void *user);
/* 1 if the client offered subprotocol name in Sec-WebSocket-Protocol. */
HTTPD_API int  httpd_ws_offers(const httpd_request *req, const char *name);
/* Sends one whole message (copied; server frames are not masked). 0: queued;
   HTTPD_WRITE_FULL: queued, and the output is over its high-water mark (64 KiB): stop and
   wait for on_writable; HTTPD_ERR_TOOLARGE: refused, the output was over the mark already
   (a producer that ignored HTTPD_WRITE_FULL: memory stays bounded); HTTPD_ERR_CLOSED: the
   WebSocket is closing; HTTPD_ERR_INVAL (bad type, text not UTF-8), HTTPD_ERR_NOMEM. */
HTTPD_API int  httpd_ws_send(httpd_ws *ws, int type, const void *data, size_t len);
/* Starts the closing handshake: sends close with code (1000-4999, not 1004-1006, 1015)
   and reason (up to 123 bytes), ignores further messages, closes the connection once the
   peer answers (or after 5 s). 0, HTTPD_ERR_INVAL, HTTPD_ERR_CLOSED (closing already). */
HTTPD_API int  httpd_ws_close(httpd_ws *ws, int code, const char *reason);
/* Stop and restart reading (TCP flow control holds the peer back; heartbeats pause). */
HTTPD_API void httpd_ws_pause(httpd_ws *ws);
HTTPD_API void httpd_ws_resume(httpd_ws *ws);
HTTPD_API void *httpd_ws_user(const httpd_ws *ws);
HTTPD_API void httpd_ws_set_user(httpd_ws *ws, void *user);
HTTPD_API httpd_conn_id httpd_ws_id(const httpd_ws *ws);
HTTPD_API httpd_server *httpd_ws_server(const httpd_ws *ws);
/* Per connection heartbeat (0: the route's or server's, HTTPD_NO_TIMEOUT: off). */
HTTPD_API void httpd_ws_heartbeat(httpd_ws *ws, uint32_t ping_interval_ms, uint32_t timeout_ms);
/* On a worker: the open WebSocket with this id if this worker owns it, else NULL (gone,
   closing, another worker's). With httpd_post, a reliable way to reach one by id. */
HTTPD_API httpd_ws *httpd_ws_from_id(httpd_server *s, httpd_conn_id id);
/* Any thread: sends a message to the WebSocket id through its worker's mailbox (the data
   is copied now). 0, HTTPD_ERR_INVAL (bad id or type), HTTPD_ERR_STATE (workers ended),
   HTTPD_ERR_NOMEM. done (may be NULL) then runs on that worker with what httpd_ws_send
   returned there, or HTTPD_ERR_CLOSED when the id is stale (closed, slot reused). A full
   output applies the desc's overflow policy. */
HTTPD_API int  httpd_ws_send_to(httpd_server *s, httpd_conn_id id, int type, const void *data,
                                size_t len, httpd_post_fn done, void *arg);
/* Any thread: one message to every open WebSocket of group (the desc given to
   httpd_ws_upgrade; NULL: every WebSocket), on every worker. The frame is built once and
   shared. A peer whose output is over the high-water mark gets its desc's overflow
   policy (drop the message, or close 1008). 0, HTTPD_ERR_INVAL, HTTPD_ERR_STATE,
   HTTPD_ERR_NOMEM. */
HTTPD_API int  httpd_ws_broadcast(httpd_server *s, const httpd_ws_desc *group, int type,
                                  const void *data, size_t len);
/* ---- operations ---- */
/* A ready-made handler: the metrics in the Prometheus text format (version 0.0.4); put it
   on the route of your choice ({ "GET", "/metrics", httpd_metrics }). */
HTTPD_API void httpd_metrics(httpd_request *req);
/* Application metrics (desc.metrics[index]), any thread, no lock on a worker: add to a
   counter (or a gauge), or set a gauge. HTTPD_ERR_INVAL for a bad index or type. */
HTTPD_API int  httpd_metric_add(httpd_server *s, int index, double v);
HTTPD_API int  httpd_metric_set(httpd_server *s, int index, double v);
/* The access log file is opened again (after logrotate moved it). Any thread, and
   async-signal-safe; the log thread does it within a second. */
HTTPD_API void httpd_log_reopen(httpd_server *s);
/* The client's address as text ("192.0.2.1", "2001:db8::1") into buf: the PROXY header's
   or the trusted X-Forwarded-For's when configured, else the peer's. Its length, or
   HTTPD_ERR_TOOLARGE (cap < 46 is enough to fail), HTTPD_ERR_CLOSED. Worker thread. */
HTTPD_API int  httpd_client_addr(const httpd_request *req, char *buf, size_t cap);
/* The request id of a task's request (httpd_defer), for logs written by work on the pool:
   valid while work runs. ptr NULL when request ids are off or for httpd_submit work. */
HTTPD_API httpd_str httpd_task_request_id(const httpd_task *task);
/* The PROXY protocol listener's port (desc.proxy_protocol), else -1. */
HTTPD_API int  httpd_proxy_port(const httpd_server *s);

#ifdef __cplusplus
}
#endif
#endif /* HTTPD_H_INCLUDED */

#if defined(HTTPD_IMPLEMENTATION) && !defined(HTTPD__IMPLEMENTED)
#define HTTPD__IMPLEMENTED
/* ==================================================================== >>config
   Includes, allocator hooks, private macros. Nothing here has state. */
#include <errno.h>
#include <limits.h>
#ifndef HTTPD_NO_THREADS
#  include <pthread.h>
#endif
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#ifndef HTTPD_NO_GETADDRINFO
#  include <netdb.h>
#endif
#include <sched.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <ctype.h>
/* Linux-only calls (eventfd, signalfd, accept4, sendfile, TCP_DEFER_ACCEPT, MSG_MORE, raw
   system calls) are used on Linux only; elsewhere portable POSIX does the same work.
   HTTPD_TEST_NOT_LINUX makes a Linux build take the other paths, so that tests run them. */
#if defined(__linux__) && !defined(HTTPD_TEST_NOT_LINUX)
#  define HTTPD__LINUX 1
#  include <sys/eventfd.h>
#  include <sys/signalfd.h>
#else
#  define HTTPD__LINUX 0
#  ifndef HTTPD_NO_SENDFILE
#    define HTTPD_NO_SENDFILE 1            /* the BSDs' sendfile has another signature */
#  endif
#  include <dirent.h>
#endif
#ifndef HTTPD_NO_SENDFILE
#  include <sys/sendfile.h>
#endif
/* The event backend: epoll on Linux, kqueue on the BSDs and macOS, poll() elsewhere; one
   HTTPD_BACKEND_EPOLL / _KQUEUE / _POLL forces it. */
#if defined(HTTPD_BACKEND_EPOLL) + defined(HTTPD_BACKEND_KQUEUE) + defined(HTTPD_BACKEND_POLL) > 1
#  error "httpd.h: define at most one of HTTPD_BACKEND_EPOLL, _KQUEUE, _POLL"
#endif
#if !defined(HTTPD_BACKEND_EPOLL) && !defined(HTTPD_BACKEND_KQUEUE) && !defined(HTTPD_BACKEND_POLL)
#  if defined(__linux__)
#    define HTTPD_BACKEND_EPOLL 1
#  elif defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) \
        || defined(__NetBSD__) || defined(__DragonFly__)
#    define HTTPD_BACKEND_KQUEUE 1
#  else
#    define HTTPD_BACKEND_POLL 1
#  endif
#endif
#if defined(HTTPD_BACKEND_EPOLL)
#  include <sys/epoll.h>
#elif defined(HTTPD_BACKEND_KQUEUE) && defined(HTTPD_TEST_KQUEUE_EMU)
#  include "tests/kqueue_emu.h"     /* tests: kqueue()/kevent() emulated on top of epoll */
#elif defined(HTTPD_BACKEND_KQUEUE)
#  include <sys/types.h>
#  include <sys/event.h>
#endif
#if defined(__GLIBC__) && !defined(__USE_MISC)
/* strict -std=c11 hides POSIX from every header once one is included without it */
#  error "httpd.h: the implementation needs POSIX: include httpd.h before any system header in the file that defines HTTPD_IMPLEMENTATION, or compile with -std=gnu11 (or -D_DEFAULT_SOURCE)"
#else                                 /* (the rest of the implementation: one error only) */
#if HTTPD__LINUX && defined(__GLIBC__) && !defined(__USE_GNU)
/* a system header came first (default, not GNU, mode): the one GNU call we make */
extern int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
#endif
#if HTTPD__LINUX && !defined(TCP_DEFER_ACCEPT)
#  define TCP_DEFER_ACCEPT 9
#endif
#if !HTTPD__LINUX || !defined(MSG_MORE)
#  define HTTPD__MSG_MORE 0
#else
#  define HTTPD__MSG_MORE MSG_MORE
#endif
#if !HTTPD__LINUX || !defined(MSG_NOSIGNAL)
#  define HTTPD__MSG_NOSIGNAL 0     /* SO_NOSIGPIPE per socket where it exists; the workers
                                       block every signal, so a SIGPIPE stays pending */
#else
#  define HTTPD__MSG_NOSIGNAL MSG_NOSIGNAL
#endif
#if !HTTPD__LINUX || !defined(CLOCK_REALTIME_COARSE)
#  define HTTPD__CLOCK_COARSE CLOCK_REALTIME
#else
#  define HTTPD__CLOCK_COARSE CLOCK_REALTIME_COARSE
#endif
#ifdef __APPLE__                    /* file times: st_mtimespec on macOS, st_mtim elsewhere */
#  define HTTPD__MTIM(st) ((st).st_mtimespec)
#else
#  define HTTPD__MTIM(st) ((st).st_mtim)
#endif
#ifdef HTTPD_NO_THREADS    /* one thread and its signal handlers: volatile accesses are
                              enough, without barriers or exclusive-access loops */
#  define HTTPD__ATOMIC(T) volatile T
#  define HTTPD__LOAD(p) (*(p))
#  define HTTPD__STORE(p, v) ((void)(*(p) = (v)))
#  define HTTPD__ADD(p, v) ((*(p) += (v)) - (v))           /* the value before, as fetch_add */
#  define HTTPD__LOAD_SC(p) (*(p))
#  define HTTPD__STORE_SC(p, v) ((void)(*(p) = (v)))
#  define HTTPD__ADD_SC(p, v) ((*(p) += (v)) - (v))
#  define HTTPD__LOAD_RLX(p) (*(p))
#  define HTTPD__STORE_RLX(p, v) ((void)(*(p) = (v)))
#  define HTTPD__CAS(p, e, d) (*(p) == *(e) ? (*(p) = (d), 1) : (*(e) = *(p), 0))
#  define HTTPD__ADJ(p, v) ((void)(*(p) += (v)))
#  define HTTPD__ADJ_SC(p, v) ((void)(*(p) += (v)))
#elif defined(__cplusplus)  /* C++ has no _Atomic: the gcc/clang builtins instead */
#  define HTTPD__ATOMIC(T) T
#  define HTTPD__LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#  define HTTPD__STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#  define HTTPD__ADD(p, v) __atomic_fetch_add((p), (v), __ATOMIC_ACQ_REL)
#  define HTTPD__LOAD_SC(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#  define HTTPD__STORE_SC(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#  define HTTPD__ADD_SC(p, v) __atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST)
#  define HTTPD__LOAD_RLX(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#  define HTTPD__STORE_RLX(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#  define HTTPD__CAS(p, e, d) __atomic_compare_exchange_n((p), (e), (d), 1, __ATOMIC_ACQ_REL, \
                                                           __ATOMIC_ACQUIRE)
#else
#  include <stdatomic.h>
#  define HTTPD__ATOMIC(T) _Atomic(T)
#  define HTTPD__LOAD(p) atomic_load_explicit((p), memory_order_acquire)
#  define HTTPD__STORE(p, v) atomic_store_explicit((p), (v), memory_order_release)
#  define HTTPD__ADD(p, v) atomic_fetch_add_explicit((p), (v), memory_order_acq_rel)
#  define HTTPD__LOAD_SC(p) atomic_load(p)
#  define HTTPD__STORE_SC(p, v) atomic_store((p), (v))
#  define HTTPD__ADD_SC(p, v) atomic_fetch_add((p), (v))
#  define HTTPD__LOAD_RLX(p) atomic_load_explicit((p), memory_order_relaxed)
#  define HTTPD__STORE_RLX(p, v) atomic_store_explicit((p), (v), memory_order_relaxed)
#  define HTTPD__CAS(p, e, d) atomic_compare_exchange_weak((p), (e), (d))
#endif
#ifndef HTTPD__ADJ                 /* an add whose result is not used */
#  define HTTPD__ADJ(p, v) ((void)HTTPD__ADD((p), (v)))
#  define HTTPD__ADJ_SC(p, v) ((void)HTTPD__ADD_SC((p), (v)))
#endif
/* A counter with one writer (its worker) read by others (a scrape): a plain load, add and
   store, no locked instruction, yet no data race for the reader. */
#define HTTPD__BUMP(p, v) HTTPD__STORE_RLX((p), HTTPD__LOAD_RLX(p) + (v))

/* The thread layer: pthreads, or (HTTPD_NO_THREADS) nothing at all: one thread runs
   everything, locks are no-ops and a thread never starts (httpd__thread_start fails). */
#ifndef HTTPD_NO_THREADS
typedef pthread_mutex_t httpd__mutex;
typedef pthread_cond_t httpd__cond;
typedef pthread_t httpd__thread;
#  define httpd__mutex_init(m) pthread_mutex_init((m), NULL)
#  define httpd__mutex_destroy(m) pthread_mutex_destroy(m)
#  define httpd__lock(m) pthread_mutex_lock(m)
#  define httpd__unlock(m) pthread_mutex_unlock(m)
#  define httpd__cond_init(c) pthread_cond_init((c), NULL)
#  define httpd__cond_destroy(c) pthread_cond_destroy(c)
#  define httpd__cond_signal(c) pthread_cond_signal(c)
#  define httpd__cond_broadcast(c) pthread_cond_broadcast(c)
#  define httpd__cond_wait(c, m) pthread_cond_wait((c), (m))
#  define httpd__cond_timedwait(c, m, ts) pthread_cond_timedwait((c), (m), (ts))
#  define httpd__thread_start(t, fn, arg) pthread_create((t), NULL, (fn), (arg))
#  define httpd__thread_join(t) pthread_join((t), NULL)
#  define httpd__sigmask(how, set, old) pthread_sigmask((how), (set), (old))
#  define httpd__sigfill(set) sigfillset(set)
#else
typedef int httpd__mutex;
typedef int httpd__cond;
typedef int httpd__thread;
#  define httpd__mutex_init(m) ((void)(m))
#  define httpd__mutex_destroy(m) ((void)(m))
#  define httpd__lock(m) ((void)(m))
#  define httpd__unlock(m) ((void)(m))
#  define httpd__cond_init(c) ((void)(c))
#  define httpd__cond_destroy(c) ((void)(c))
#  define httpd__cond_signal(c) ((void)(c))
#  define httpd__cond_broadcast(c) ((void)(c))
#  define httpd__cond_wait(c, m) ((void)(c), (void)(m))
#  define httpd__cond_timedwait(c, m, ts) ((void)(c), (void)(m), (void)(ts))
#  define httpd__thread_start(t, fn, arg) ((void)(t), (void)(fn), (void)(arg), -1)
#  define httpd__thread_join(t) ((void)(t))
/* no thread of ours is ever started, so there is no signal mask to set up for one */
#  define httpd__sigmask(how, set, old) ((void)(how), (void)(set), (void)(old))
#  define httpd__sigfill(set) ((void)(set))
#endif

#if (defined(HTTPD_MALLOC) + defined(HTTPD_REALLOC) + defined(HTTPD_FREE)) % 3 != 0
#  error "define all of HTTPD_MALLOC, HTTPD_REALLOC, HTTPD_FREE, or none"
#endif
#ifndef HTTPD_MALLOC
#  define HTTPD_MALLOC(ctx, n)      ((void)(ctx), malloc(n))
#  define HTTPD_REALLOC(ctx, p, n)  ((void)(ctx), realloc((p), (n)))
#  define HTTPD_FREE(ctx, p)        ((void)(ctx), free(p))
#  if defined(__GLIBC__) && !defined(HTTPD_NO_HEAP_TRIM) && !defined(HTTPD_MINIMAL)
#    include <malloc.h>
#    define HTTPD__HEAP_TRIM() malloc_trim(0)    /* give freed memory back to the OS */
#  endif
#endif
#ifndef HTTPD__HEAP_TRIM
#  define HTTPD__HEAP_TRIM() ((void)0)
#endif
#if !defined(HTTPD_ASSERT) && defined(HTTPD_MINIMAL) && !defined(NDEBUG)
#  if defined(__GNUC__) || defined(__clang__)    /* no message text: size first */
#    define HTTPD_ASSERT(c) ((c) ? (void)0 : __builtin_trap())
#  else
#    define HTTPD_ASSERT(c) ((c) ? (void)0 : abort())
#  endif
#endif
#ifndef HTTPD_ASSERT
#  include <assert.h>
#  define HTTPD_ASSERT(c) assert(c)
#endif
#if !defined(HTTPD_DEBUG) && !defined(NDEBUG) && !defined(HTTPD_MINIMAL)
#  define HTTPD_DEBUG 1            /* log records name the file and line */
#endif
#if defined(__GNUC__) || defined(__clang__)
#  define HTTPD__PRIVATE static __attribute__((unused))
#  ifdef HTTPD_MINIMAL         /* size first: the compiler decides, no copy per caller */
#    define HTTPD__HOT static __attribute__((unused))
#  else
#    define HTTPD__HOT static inline __attribute__((always_inline, unused))  /* per request */
#  endif
#  define HTTPD__COLD static __attribute__((noinline, cold, unused))   /* off the fast path */
#  define HTTPD__OUTLINE static __attribute__((noinline, unused)) /* out of line, not cold */
#  define HTTPD__LIKELY(c)   __builtin_expect(!!(c), 1)
#  define HTTPD__UNLIKELY(c) __builtin_expect(!!(c), 0)
#else
#  define HTTPD__PRIVATE static
#  define HTTPD__HOT static inline
#  define HTTPD__COLD static
#  define HTTPD__OUTLINE static
#  define HTTPD__LIKELY(c)   (c)
#  define HTTPD__UNLIKELY(c) (c)
#endif
/* Vector scans of request heads: SSE2 on x86-64 and NEON on 64-bit ARM are part of the
   base instruction set, so no run-time detection is needed; elsewhere (or under
   HTTPD_NO_SIMD) plain loops do the same work. */
#if !defined(HTTPD_NO_SIMD) && (defined(__SSE2__) || defined(_M_X64))
#  include <emmintrin.h>
#  define HTTPD__SSE2 1
#elif !defined(HTTPD_NO_SIMD) && defined(__aarch64__) && defined(__ARM_NEON)
#  include <arm_neon.h>
#  define HTTPD__NEON 1
#endif
#ifdef HTTPD_TEST_HOOKS                    /* tests compare the vector and scalar paths */
static int httpd__test_scalar;
#  define HTTPD__VECTOR (!httpd__test_scalar)
#else
#  define HTTPD__VECTOR 1
#endif
#define HTTPD__MIN(a, b) ((a) < (b) ? (a) : (b))
#define HTTPD__MAX(a, b) ((a) > (b) ? (a) : (b))
#define HTTPD__DEF(v, d) ((v) ? (v) : (d))
#define HTTPD__COUNTOF(a) (sizeof(a) / sizeof((a)[0]))
#define HTTPD__LIT(s) s, (sizeof(s) - 1)            /* "literal" -> pointer, length */
#define HTTPD__CONTAINER(p, T, m) ((T *)(void *)((char *)(p) - offsetof(T, m)))

/* ====================================================================== >>util
   Character classes (RFC 9110 §5.6.2 tchar, §5.5 field-vchar), case-insensitive
   compare, decimal/hex helpers, clocks. Pure functions, any thread. */
enum { HTTPD__C_TCHAR = 1, HTTPD__C_VCHAR = 2, HTTPD__C_TARGET = 4, HTTPD__C_HEX = 8,
       HTTPD__C_HOST = 16 };
static const unsigned char httpd__ctype[256] = {
    /* bit 1 tchar (RFC 9110 §5.6.2), 2 field-vchar/SP/HTAB/obs-text (§5.5), 4 request-target
       byte (visible ASCII but '#'), 8 hex digit, 16 host byte (RFC 3986 reg-name, IP-literal,
       port). Generated once by a script, checked by tests/test_parser.c. */
     0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0,  /* 0x00 */
     0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0x10 */
     2,23, 6, 3,23,23,23,23,22,22,23,23,22,23,23, 6,  /* 0x20 */
    31,31,31,31,31,31,31,31,31,31,22,22, 6,22, 6, 6,  /* 0x30 */
     6,31,31,31,31,31,31,23,23,23,23,23,23,23,23,23,  /* 0x40 */
    23,23,23,23,23,23,23,23,23,23,23,22, 6,22, 7,23,  /* 0x50 */
     7,31,31,31,31,31,31,23,23,23,23,23,23,23,23,23,  /* 0x60 */
    23,23,23,23,23,23,23,23,23,23,23, 6, 7, 6,23, 0,  /* 0x70 */
     2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,  /* 0x80 */
     2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,  /* 0x90 */
     2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,  /* 0xa0 */
     2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,  /* 0xb0 */
     2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,  /* 0xc0 */
     2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,  /* 0xd0 */
     2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,  /* 0xe0 */
     2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,  /* 0xf0 */
};
#define HTTPD__IS(c, cls) (httpd__ctype[(unsigned char)(c)] & (cls))

HTTPD__PRIVATE int httpd__lower(int c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

/* Index of the lowest / highest set bit of a non-zero word; the compiler builtins where
   they exist, a portable loop elsewhere. */
HTTPD__PRIVATE int httpd__ctz64(uint64_t x) {
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_ctzll(x);
#else
    int n = 0;
    while (!(x & 1)) { x >>= 1; n++; }
    return n;
#endif
}
HTTPD__PRIVATE int httpd__log2_64(uint64_t x) {
#if defined(__GNUC__) || defined(__clang__)
    return 63 - __builtin_clzll(x);
#else
    int n = 0;
    while (x >>= 1) n++;
    return n;
#endif
}
/* The first byte of [p, end) that cannot be in a field value (RFC 9110 §5.5: a control
   other than HTAB, or DEL), or end. 16 bytes a step: values are most of a head. */
HTTPD__HOT const char *httpd__skip_vchar(const char *p, const char *end) {
#if HTTPD__SSE2
    const __m128i flip = _mm_set1_epi8((char)0x80), lim = _mm_set1_epi8((char)(0x20 ^ 0x80));
    const __m128i tab = _mm_set1_epi8(9), del = _mm_set1_epi8(0x7f);
    for (; HTTPD__VECTOR && end - p >= 16; p += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i ctl = _mm_cmplt_epi8(_mm_xor_si128(v, flip), lim);      /* unsigned < 0x20 */
        __m128i bad = _mm_or_si128(_mm_andnot_si128(_mm_cmpeq_epi8(v, tab), ctl),
                                   _mm_cmpeq_epi8(v, del));
        int m = _mm_movemask_epi8(bad);
        if (m) return p + httpd__ctz64((uint64_t)(unsigned)m);
    }
#elif HTTPD__NEON
    for (; HTTPD__VECTOR && end - p >= 16; p += 16) {
        uint8x16_t v = vld1q_u8((const uint8_t *)p);
        uint8x16_t bad = vorrq_u8(vbicq_u8(vcltq_u8(v, vdupq_n_u8(0x20)), vceqq_u8(v, vdupq_n_u8(9))),
                                  vceqq_u8(v, vdupq_n_u8(0x7f)));
        uint64_t m = vget_lane_u64(vreinterpret_u64_u8(vshrn_n_u16(vreinterpretq_u16_u8(bad), 4)), 0);
        if (m) return p + (httpd__ctz64(m) >> 2);
    }
#endif
    while (p < end && HTTPD__IS(*p, HTTPD__C_VCHAR)) p++;
    return p;
}
/* The first byte of [p, end) that is not a letter, a digit or one of the two extra bytes
   a and b, or end. A fast first pass over field names (a = b = '-') and Host values
   (a = '.', b = ':'); the exact class check continues from where it stops. */
HTTPD__HOT const char *httpd__skip_alnum(const char *p, const char *end, char a, char b) {
#if HTTPD__SSE2
    const __m128i c20 = _mm_set1_epi8(0x20), ca = _mm_set1_epi8(a), cb = _mm_set1_epi8(b);
    const __m128i a1 = _mm_set1_epi8('a' - 1), z1 = _mm_set1_epi8('z' + 1);
    const __m128i d1 = _mm_set1_epi8('0' - 1), d2 = _mm_set1_epi8('9' + 1);
    for (; HTTPD__VECTOR && end - p >= 16; p += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i lo = _mm_or_si128(v, c20);                 /* 8-bit bytes stay negative */
        __m128i ok = _mm_and_si128(_mm_cmpgt_epi8(lo, a1), _mm_cmplt_epi8(lo, z1));
        ok = _mm_or_si128(ok, _mm_and_si128(_mm_cmpgt_epi8(v, d1), _mm_cmplt_epi8(v, d2)));
        ok = _mm_or_si128(ok, _mm_or_si128(_mm_cmpeq_epi8(v, ca), _mm_cmpeq_epi8(v, cb)));
        int m = ~_mm_movemask_epi8(ok) & 0xffff;
        if (m) return p + httpd__ctz64((uint64_t)(unsigned)m);
    }
#elif HTTPD__NEON
    for (; HTTPD__VECTOR && end - p >= 16; p += 16) {
        uint8x16_t v = vld1q_u8((const uint8_t *)p), lo = vorrq_u8(v, vdupq_n_u8(0x20));
        uint8x16_t ok = vcleq_u8(vsubq_u8(lo, vdupq_n_u8('a')), vdupq_n_u8('z' - 'a'));
        ok = vorrq_u8(ok, vcleq_u8(vsubq_u8(v, vdupq_n_u8('0')), vdupq_n_u8(9)));
        ok = vorrq_u8(ok, vorrq_u8(vceqq_u8(v, vdupq_n_u8((uint8_t)a)),
                                   vceqq_u8(v, vdupq_n_u8((uint8_t)b))));
        uint64_t m = ~vget_lane_u64(vreinterpret_u64_u8(vshrn_n_u16(vreinterpretq_u16_u8(ok), 4)), 0);
        if (m) return p + (httpd__ctz64(m) >> 2);
    }
#else
    (void)end; (void)a; (void)b;
#endif
    return p;
}
/* a[0..n) equals the lower-case b[0..n) (letters, digits and '-' only), for a that holds
   token bytes only: there, OR 0x20 lower-cases letters and changes nothing that could
   then match b. Eight bytes a step; a byte a step, out of line, under HTTPD_MINIMAL. */
#ifdef HTTPD_MINIMAL
HTTPD__OUTLINE int httpd__token_eq(const char *a, const char *b, size_t n) {
    for (; n; a++, b++, n--)
        if ((*a | 0x20) != *b) return 0;
    return 1;
}
#else
HTTPD__HOT int httpd__token_eq(const char *a, const char *b, size_t n) {
    uint64_t x, y;
    uint32_t u, v;
    if (n >= 8) {                        /* whole words, the last one overlapping */
        for (size_t i = 0;; i += 8) {
            if (i + 8 > n) i = n - 8;
            memcpy(&x, a + i, 8); memcpy(&y, b + i, 8);
            if ((x | 0x2020202020202020ull) != y) return 0;
            if (i + 8 == n) return 1;
        }
    }
    if (n >= 4) {
        memcpy(&u, a, 4); memcpy(&v, b, 4);
        if ((u | 0x20202020u) != v) return 0;
        memcpy(&u, a + n - 4, 4); memcpy(&v, b + n - 4, 4);
        return (u | 0x20202020u) == v;
    }
    for (; n; a++, b++, n--)
        if ((*a | 0x20) != *b) return 0;
    return 1;
}
#endif

/* a[0..n) equals the lower-case literal b[0..n), ignoring ASCII case */
HTTPD__PRIVATE int httpd__ieq(const char *a, const char *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (httpd__lower((unsigned char)a[i]) != (unsigned char)b[i]) return 0;
    return 1;
}
HTTPD__PRIVATE int httpd__ieq2(const char *a, size_t an, const char *b, size_t bn) {
    if (an != bn) return 0;
    for (size_t i = 0; i < an; i++)
        if (httpd__lower((unsigned char)a[i]) != httpd__lower((unsigned char)b[i])) return 0;
    return 1;
}
HTTPD__PRIVATE int httpd__hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = httpd__lower(c);
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}
/* "00" to "99": two decimal digits per table entry */
static const char httpd__pairs[] = "00010203040506070809101112131415161718192021222324"
    "25262728293031323334353637383940414243444546474849505152535455565758596061626364"
    "656667686970717273747576777879808182838485868788899091929394959697989900";
#ifdef HTTPD_MINIMAL
/* Writes v in decimal at p, returns the length (at most 20). Smaller than the one below:
   a digit a step, dividing by ten with shifts and adds (no 64-bit division, which 32-bit
   targets do in a library routine). */
HTTPD__PRIVATE size_t httpd__utoa(char *p, uint64_t v) {
    char tmp[20];
    size_t n = sizeof tmp;
    do {
        uint64_t q = (v >> 1) + (v >> 2);               /* ~ v * 0.8, then / 8 */
        q += q >> 4; q += q >> 8; q += q >> 16; q += q >> 32;
        q >>= 3;
        unsigned r = (unsigned)(v - q * 10);            /* q is v / 10 or one less */
        if (r > 9) { q++; r -= 10; }
        tmp[--n] = (char)('0' + r);
        v = q;
    } while (v);
    memcpy(p, tmp + n, sizeof tmp - n);
    return sizeof tmp - n;
}
#else
HTTPD__COLD size_t httpd__utoa_big(char *p, uint64_t v);
/* Writes v in decimal at p, returns the length (at most 20). Two digits a step, in 32
   bits: a Content-Length is written for nearly every response. 4 GiB and more: see
   httpd__utoa_big. */
HTTPD__PRIVATE size_t httpd__utoa(char *p, uint64_t v) {
    if (HTTPD__UNLIKELY(v > UINT32_MAX)) return httpd__utoa_big(p, v);
    uint32_t u = (uint32_t)v;
    char tmp[10];
    size_t n = sizeof tmp;
    while (u >= 100) {
        /* u / 100 for every 32-bit u, as a compiler does it; spelt out so that -Os on a
           target without a divide instruction does not call a library routine */
        uint32_t q = (uint32_t)((uint64_t)u * 0x51EB851Fu >> 37);
        unsigned d = (u - q * 100) * 2;
        u = q;
        tmp[--n] = httpd__pairs[d + 1]; tmp[--n] = httpd__pairs[d];
    }
    if (u >= 10) { unsigned d = u * 2; tmp[--n] = httpd__pairs[d + 1]; tmp[--n] = httpd__pairs[d]; }
    else tmp[--n] = (char)('0' + u);
    for (size_t i = n; i < sizeof tmp; i++) *p++ = tmp[i];   /* a few bytes: no memcpy call */
    return sizeof tmp - n;
}
/* v > UINT32_MAX: the digits above 10^9 by subtracting powers of ten, then the last nine.
   No 64-bit division, which 32-bit targets do in a library call (libgcc's __udivmoddi4
   and its glue, about 0.4 KB on ARM). */
HTTPD__COLD size_t httpd__utoa_big(char *p, uint64_t v) {
    static const uint64_t tens[11] = { 10000000000000000000u, 1000000000000000000u,
        100000000000000000u, 10000000000000000u, 1000000000000000u, 100000000000000u,
        10000000000000u, 1000000000000u, 100000000000u, 10000000000u, 1000000000u };
    size_t n = 0;
    for (int i = 0; i < 11; i++) {
        char d = '0';
        while (v >= tens[i]) { v -= tens[i]; d++; }
        if (d != '0' || n) p[n++] = d;
    }
    char low[10];                                          /* v < 10^9 now */
    size_t k = httpd__utoa(low, v);
    memset(p + n, '0', 9 - k);
    memcpy(p + n + 9 - k, low, k);
    return n + 9;
}
#endif
/* v < 1000 in decimal at p (a status, an octet, a worker): its length. */
HTTPD__HOT size_t httpd__utoa3(char *p, unsigned v) {
    if (v >= 100) { p[0] = (char)('0' + v / 100); p[1] = (char)('0' + v / 10 % 10);
                    p[2] = (char)('0' + v % 10); return 3; }
    if (v >= 10) { p[0] = (char)('0' + v / 10); p[1] = (char)('0' + v % 10); return 2; }
    p[0] = (char)('0' + v);
    return 1;
}
HTTPD__PRIVATE uint64_t httpd__now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (unsigned long)ts.tv_nsec / 1000000u;  /* word math */
}
/* IMF-fixdate (RFC 9110 §5.6.7) for a Unix time, 29 bytes, into out[29]. Calendar
   arithmetic (days to civil date, as H. Hinnant's algorithm), not gmtime_r: dates past
   2038 come out right where time_t has 32 bits (i386, 32-bit ARM). Times are counted
   from 0000-03-01 so that every quantity is unsigned and, but for one shift, 32 bits:
   32-bit targets then need no signed or 64-bit division helper. Years 0 to 9999 (the
   four digits of the format); a time outside them is clamped. */
/* HTTPD__UDIV(a, b): a / b in unsigned 32 bits, b > 0, for what is not per request (the
   date, start-up). 64-bit targets divide with an instruction, or a multiply by a
   constant. 32-bit ones may have no divide instruction (ARMv7-A): gcc -Os then calls
   libgcc's __udivsi3 or __divsi3 (0.6 KB each; it picks the signed one for operands it
   can tell are small), so the few divisions off the fast path are done here instead,
   a bit at a time, and the per-request ones by multiplying (httpd__utoa). */
#if UINTPTR_MAX > 0xffffffffu
#  define HTTPD__UDIV(a, b) ((uint32_t)(a) / (uint32_t)(b))
#else
#  define HTTPD__UDIV(a, b) httpd__udiv((a), (b))
HTTPD__OUTLINE uint32_t httpd__udiv(uint32_t a, uint32_t b) {
    uint32_t q = 0, r = 0;
    for (int i = 31; i >= 0; i--) {                    /* long division, base 2 */
        uint32_t top = r >> 31;
        r = r << 1 | (a >> i & 1u);
        if (top || r >= b) { r -= b; q |= 1u << i; }
    }
    return q;
}
#endif
HTTPD__COLD void httpd__http_date(char out[29], int64_t t) {
    static const char days[] = "SunMonTueWedThuFriSat";
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    const int64_t epoch = 719468 * (int64_t)86400;     /* 1970-01-01 - 0000-03-01, in s */
    const int64_t last = 3652365 * (int64_t)86400 - 1;  /* 9999-12-31 23:59:59 from there */
    t = t < -epoch ? 0 : t > last - epoch ? last : t + epoch;
#define HTTPD__D HTTPD__UDIV
    uint32_t z = HTTPD__D((uint32_t)((uint64_t)t >> 7), 675);   /* days: 86400 = 2^7 * 675 */
    uint32_t sec = (uint32_t)((uint64_t)t - (uint64_t)z * 86400u);    /* within the day */
    uint32_t era = HTTPD__D(z, 146097), doe = z - era * 146097;          /* [0, 146096] */
    uint32_t yoe = HTTPD__D(doe - HTTPD__D(doe, 1460) + HTTPD__D(doe, 36524)
                            - HTTPD__D(doe, 146096), 365);
    uint32_t doy = doe - (365 * yoe + yoe / 4 - HTTPD__D(yoe, 100));
    uint32_t mp = HTTPD__D(5 * doy + 2, 153), mon = mp < 10 ? mp + 2 : mp - 10;  /* 0: Jan */
    uint32_t y = yoe + era * 400 + (mon <= 1), cent = HTTPD__D(y, 100);
    uint32_t hour = HTTPD__D(sec, 3600), min = HTTPD__D(sec - hour * 3600, 60);
    uint32_t wday = z + 3 - HTTPD__D(z + 3, 7) * 7;            /* 0000-03-01: a Wednesday */
    /* "Sun, 06 Nov 1994 08:49:37 GMT": two digits and a separator at a time (small code:
       this runs once a second) */
    uint32_t two[6] = { doy - HTTPD__D(153 * mp + 2, 5) + 1, cent, y - cent * 100,
                        hour, min, sec - hour * 3600 - min * 60 };
#undef HTTPD__D
    static const unsigned char at[6] = { 5, 12, 14, 17, 20, 23 };
    static const char sep[6] = { ' ', 0, ' ', ':', ':', ' ' };
    memcpy(out, days + 3 * wday, 3);
    memcpy(out + 3, ", ", 2);
    memcpy(out + 8, months + 3 * mon, 3);
    out[11] = ' ';
    for (int i = 0; i < 6; i++) {
        char *p = out + at[i];
        memcpy(p, httpd__pairs + 2 * two[i], 2);
        if (sep[i]) p[2] = sep[i];
    }
    memcpy(out + 26, "GMT", 3);
}

/* ======================================================================= >>log
   Logging goes through desc.logger; silent when unset. Messages are formatted on the
   caller's stack. Not on any hot path. */
#ifdef HTTPD_NO_LOG_MESSAGES        /* the code stands for the message (see CONFIG) */
#  define HTTPD__LOG(s, lvl, code, ...) httpd__log_code((s), (lvl), (code))
static void httpd__log_code(const httpd_server *s, int lvl, int code);
#else
#  if HTTPD_DEBUG
#    define HTTPD__LOG(s, lvl, code, ...) \
         httpd__log((s), (lvl), (code), __FILE__, __LINE__, __VA_ARGS__)
#    define HTTPD__LOG_WHERE const char *file, int line,
#    define HTTPD__LOG_FMT 6
#  else         /* no file and line: two arguments fewer at every call */
#    define HTTPD__LOG(s, lvl, code, ...) httpd__log((s), (lvl), (code), __VA_ARGS__)
#    define HTTPD__LOG_WHERE
#    define HTTPD__LOG_FMT 4
#  endif
#  if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, HTTPD__LOG_FMT, HTTPD__LOG_FMT + 1)))
#  endif
static void httpd__log(const httpd_server *s, int lvl, int code, HTTPD__LOG_WHERE
                       const char *fmt, ...);
#endif

/* ======================================================================= >>buf
   Per-worker pool of fixed-size blocks (the read buffer size) used for connection input
   and output. A connection takes blocks only while a request is in flight and gives them
   back when it goes idle, so an idle connection holds no buffer and memory follows the load. The pool
   keeps at most `keep` free blocks and frees the rest. Bigger output (a large response)
   grows a block with realloc; such a buffer is freed, not pooled, when released.
   Owner: one worker thread; no locks. Cost: O(1) get/put. */
typedef struct httpd__pool {
    void    *free_list;        /* singly linked through the first word of each block */
    uint32_t nfree, keep;
    uint32_t wipe;             /* 1: zero a block before it goes back to the C library
                                  (blocks that held keys: TLS engines)              */
    uint32_t low;              /* fewest free blocks since the last trim: never needed */
    uint32_t block;            /* block size in bytes                               */
    uint32_t fixed;            /* 1: the blocks were all made at start (preallocate):
                                  never allocate, grow or free one until the end      */
    void    *alloc_ctx;
} httpd__pool;

typedef struct httpd__buf {    /* bytes [pos, len) are live; cap 0 <=> data NULL    */
    char    *data;
    uint32_t pos, len, cap;
} httpd__buf;

HTTPD__PRIVATE void httpd__pool_init(httpd__pool *p, uint32_t block, uint32_t keep, void *ctx) {
    p->free_list = NULL; p->nfree = p->low = 0; p->keep = keep; p->block = block;
    p->alloc_ctx = ctx;
    p->wipe = p->fixed = 0;
}
HTTPD__PRIVATE char *httpd__pool_get(httpd__pool *p) {
    if (p->free_list) {
        char *b = (char *)p->free_list;
        memcpy(&p->free_list, b, sizeof(void *));
        if (--p->nfree < p->low) p->low = p->nfree;
        return b;
    }
    return p->fixed ? NULL : (char *)HTTPD_MALLOC(p->alloc_ctx, p->block);
}
HTTPD__PRIVATE void httpd__pool_put(httpd__pool *p, char *b, uint32_t cap) {
    if (!b) return;
    if (cap != p->block || (p->nfree >= p->keep && !p->fixed)) {
        if (p->wipe) memset(b, 0, cap);
        HTTPD_FREE(p->alloc_ctx, b);
        return;
    }
    memcpy(b, &p->free_list, sizeof(void *));
    p->free_list = b;
    p->nfree++;
}
/* Frees the blocks no one needed since the last trim (after a burst, memory goes back). */
HTTPD__PRIVATE uint32_t httpd__pool_trim(httpd__pool *p) {
    uint32_t n = p->fixed ? 0 : p->low;
    for (uint32_t i = 0; i < n; i++) {
        char *b = (char *)p->free_list;
        memcpy(&p->free_list, b, sizeof(void *));
        if (p->wipe) memset(b, 0, p->block);
        HTTPD_FREE(p->alloc_ctx, b);
    }
    p->nfree -= n;
    p->low = p->nfree;
    return n;
}
HTTPD__PRIVATE void httpd__pool_free(httpd__pool *p) {
    while (p->free_list) {
        char *b = (char *)p->free_list;
        memcpy(&p->free_list, b, sizeof(void *));
        if (p->wipe) memset(b, 0, p->block);
        HTTPD_FREE(p->alloc_ctx, b);
    }
    p->nfree = 0;
}
HTTPD__PRIVATE void httpd__buf_release(httpd__pool *p, httpd__buf *b) {
    httpd__pool_put(p, b->data, b->cap);
    b->data = NULL; b->pos = b->len = b->cap = 0;
}
/* Makes room for n more bytes after len (moving live bytes to the front first).
   Returns 0 or HTTPD_ERR_NOMEM / HTTPD_ERR_TOOLARGE (over 2 GiB); NOMEM too when a fixed
   pool's block is full. */
HTTPD__PRIVATE int httpd__buf_reserve(httpd__pool *p, httpd__buf *b, size_t n) {
    if (!b->data) {
        size_t cap = n <= p->block ? p->block : n;
        if (p->fixed && cap != p->block) return HTTPD_ERR_NOMEM;
        if (cap > 0x7fffffffu) return HTTPD_ERR_TOOLARGE;
        b->data = cap == p->block ? httpd__pool_get(p) : (char *)HTTPD_MALLOC(p->alloc_ctx, cap);
        if (!b->data) return HTTPD_ERR_NOMEM;
        b->cap = (uint32_t)cap; b->pos = b->len = 0;
        return 0;
    }
    if (b->cap - b->len >= n) return 0;
    if (b->pos) {                      /* compact: sent/consumed bytes are dead */
        memmove(b->data, b->data + b->pos, b->len - b->pos);
        b->len -= b->pos; b->pos = 0;
        if (b->cap - b->len >= n) return 0;
    }
    if (n > 0x7fffffffu - b->len) return HTTPD_ERR_TOOLARGE;
    if (p->fixed) return HTTPD_ERR_NOMEM;               /* a block never grows */
    size_t want = (size_t)b->len + n, cap = (size_t)b->cap * 2;
    if (cap < want) cap = want;
    if (cap > 0x7fffffffu) cap = 0x7fffffffu;
    char *d = (char *)HTTPD_REALLOC(p->alloc_ctx, b->data, cap);
    if (!d) return HTTPD_ERR_NOMEM;
    b->data = d; b->cap = (uint32_t)cap;
    return 0;
}
HTTPD__PRIVATE int httpd__buf_append(httpd__pool *p, httpd__buf *b, const void *src, size_t n) {
    int rc = httpd__buf_reserve(p, b, n);
    if (rc < 0) return rc;
    memcpy(b->data + b->len, src, n);
    b->len += (uint32_t)n;
    return 0;
}

/* ==================================================================== >>parser
   Request head parser, strict RFC 9112, no I/O, in two steps:
   1. httpd__scan_head(): incremental. Fed the growing buffer, it resumes where it stopped
      (O(n) in total, never rescans), finds the CRLF CRLF that ends the head, rejects a bare
      LF, and enforces the request-line (414), head-size and field-count (431) limits before
      the head is complete. State is offsets only (the buffer may move between calls).
   2. httpd__parse_head(): once, on the complete head, which then stays put in the buffer
      until the response is done, so it records pointers (zero-copy). It validates the
      request line, every field line, and the framing: Host, Content-Length,
      Transfer-Encoding, Connection, Expect. Every ambiguity that could desynchronise us from
      a proxy in front (request smuggling) is rejected, never guessed.
   Errors are HTTP status codes: 400 syntax/framing, 414, 431, 417, 501, 505. */
typedef struct httpd__limits {
    uint32_t max_request_line, max_header_bytes, max_headers;
} httpd__limits;

typedef struct httpd__scan {   /* offsets from the first byte of the head */
    uint32_t pos;              /* bytes examined so far                     */
    uint32_t line_start;       /* start of the current line                 */
    uint32_t lines;            /* complete lines so far (request line too)  */
} httpd__scan;

/* Returns the head length (>0, up to and including the final CRLF), 0 to wait for more
   bytes, or -status. b[0..n) starts at the request line (leading CRLFs already skipped). */
HTTPD__PRIVATE int httpd__scan_head(httpd__scan *s, const char *b, size_t n,
                                    const httpd__limits *lim) {
    while (s->pos < n) {
        const char *lf = (const char *)memchr(b + s->pos, '\n', n - s->pos);
        if (!lf) { s->pos = (uint32_t)n; break; }
        uint32_t at = (uint32_t)(lf - b);
        /* limits first, so that the verdict is the same however the bytes were split:
           a prefix without this LF would already have failed them */
        if (s->lines == 0 && at > lim->max_request_line + 1) return -414;
        if (at >= lim->max_header_bytes) return s->lines ? -431 : -414;
        if (at == 0 || b[at - 1] != '\r') return -400;      /* bare LF (RFC 9112 §2.2) */
        if (at - 1 == s->line_start && s->lines > 0) return (int)(at + 1);  /* empty line */
        if (b[s->line_start] == '\r') return -400;                   /* "\r\r\n": bare CR */
        s->lines++;
        if (s->lines > lim->max_headers + 1) return -431;
        s->line_start = at + 1;
        s->pos = at + 1;
    }
    if (s->lines == 0 && n > (size_t)lim->max_request_line + 1) return -414;
    if (n >= lim->max_header_bytes) return s->lines ? -431 : -414;
    return 0;
}

enum {                          /* methods the router knows by number */
    HTTPD__M_OTHER, HTTPD__M_GET, HTTPD__M_HEAD, HTTPD__M_POST, HTTPD__M_PUT, HTTPD__M_DELETE,
    HTTPD__M_OPTIONS, HTTPD__M_PATCH, HTTPD__M_TRACE, HTTPD__M_CONNECT, HTTPD__M_COUNT
};
static const char *const httpd__method_names[HTTPD__M_COUNT] = {
    "", "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT"
};
HTTPD__PRIVATE int httpd__method_id(const char *m, size_t n) {
#ifdef HTTPD_MINIMAL                      /* smaller: a search of the names */
    for (int i = 1; i < HTTPD__M_COUNT; i++)
        if (strlen(httpd__method_names[i]) == n && !memcmp(m, httpd__method_names[i], n))
            return i;
    return HTTPD__M_OTHER;
#else                                     /* faster: by length, then constant compares */
    switch (n) {
    case 3:
        if (!memcmp(m, "GET", 3)) return HTTPD__M_GET;
        if (!memcmp(m, "PUT", 3)) return HTTPD__M_PUT;
        break;
    case 4:
        if (!memcmp(m, "POST", 4)) return HTTPD__M_POST;
        if (!memcmp(m, "HEAD", 4)) return HTTPD__M_HEAD;
        break;
    case 5:
        if (!memcmp(m, "PATCH", 5)) return HTTPD__M_PATCH;
        if (!memcmp(m, "TRACE", 5)) return HTTPD__M_TRACE;
        break;
    case 6:
        if (!memcmp(m, "DELETE", 6)) return HTTPD__M_DELETE;
        break;
    case 7:
        if (!memcmp(m, "OPTIONS", 7)) return HTTPD__M_OPTIONS;
        if (!memcmp(m, "CONNECT", 7)) return HTTPD__M_CONNECT;
        break;
    default:
        break;
    }
    return HTTPD__M_OTHER;
#endif
}

enum {                          /* httpd__head.flags */
    HTTPD__H_CL = 1, HTTPD__H_CHUNKED = 2, HTTPD__H_CLOSE = 4, HTTPD__H_KEEPALIVE = 8,
    HTTPD__H_EXPECT = 16, HTTPD__H_UPGRADE = 32, HTTPD__H_TE = 64, HTTPD__H_ASTERISK = 128,
    HTTPD__H_TE_UNKNOWN = 256
};
typedef struct httpd__head {
    httpd_str     method, target, path, query, host;
    int           minor_version, method_id;
    unsigned      flags;
    uint32_t      nheaders, host_count;
    uint64_t      content_length;
    httpd_header *headers;     /* room for limits->max_headers */
} httpd__head;

/* field-line = field-name ":" OWS field-value OWS CRLF (RFC 9112 §5), at *pp, into f,
   reading nothing at or past end. 0 and *pp past the line; 1: the bytes end before the
   line does; -1: malformed (obs-fold, SP before ':', bare CR or LF, NUL, CTL). Request
   heads and multipart part heads share it. */
HTTPD__HOT int httpd__field_line(const char **pp, const char *end, httpd_header *f) {
    const char *p = *pp, *nm = p;
    p = httpd__skip_alnum(p, end, '-', '-');         /* most names: letters, digits, '-' */
    if (p < end && *p != ':')
        while (p < end && HTTPD__IS(*p, HTTPD__C_TCHAR)) p++;
    if (p == end) return 1;
    if (p == nm || *p != ':') return -1;
    f->name.ptr = nm; f->name.len = (size_t)(p - nm);
    p++;
    if (p < end && *p == ' ') p++;                   /* the usual single space */
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    const char *v = p;
    p = httpd__skip_vchar(p, end);
    if (end - p < 2) return 1;
    if (p[0] != '\r' || p[1] != '\n') return -1;
    const char *ve = p;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
    f->value.ptr = v; f->value.len = (size_t)(ve - v);
    *pp = p + 2;
    return 0;
}
/* Content-Length value, possibly a list of identical values (RFC 9110 §8.6). */
HTTPD__PRIVATE int httpd__parse_cl(httpd__head *h, const char *v, size_t n) {
    size_t i = 0;
    if (n == 0) return 400;
    for (;;) {
        uint64_t x = 0;
        size_t start = i;
        while (i < n && v[i] >= '0' && v[i] <= '9') {
            unsigned d = (unsigned)(v[i] - '0');
            if (x >= UINT64_MAX / 10 && (x > UINT64_MAX / 10 || d > UINT64_MAX % 10))
                return 400;                                       /* overflow */
            x = x * 10 + d; i++;
        }
        if (i == start) return 400;
        if ((h->flags & HTTPD__H_CL) && h->content_length != x) return 400;  /* differ */
        h->flags |= HTTPD__H_CL; h->content_length = x;
        while (i < n && (v[i] == ' ' || v[i] == '\t')) i++;
        if (i == n) return 0;
        if (v[i] != ',') return 400;
        i++;
        while (i < n && (v[i] == ' ' || v[i] == '\t')) i++;
    }
}
/* Transfer-Encoding list: chunked must come last and once (RFC 9112 §6.1, §6.3). */
HTTPD__PRIVATE int httpd__parse_te(httpd__head *h, const char *v, size_t n) {
    size_t i = 0;
    int any = 0;
    h->flags |= HTTPD__H_TE;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
        size_t s = i;
        while (i < n && v[i] != ',') i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t')) e--;
        if (e == s) continue;
        any = 1;
        if (h->flags & HTTPD__H_CHUNKED) return 400;       /* something after chunked */
        if (e - s == 7 && httpd__ieq(v + s, "chunked", 7)) h->flags |= HTTPD__H_CHUNKED;
        else h->flags |= HTTPD__H_TE_UNKNOWN;
    }
    return any ? 0 : 400;
}
/* Connection options (RFC 9110 §7.6.1); values hold no control bytes, so the token
   compare is exact. */
HTTPD__PRIVATE void httpd__parse_connection(httpd__head *h, const char *v, size_t n) {
#ifndef HTTPD_MINIMAL                     /* the usual single option at once */
    if (n == 10 && httpd__token_eq(v, "keep-alive", 10)) { h->flags |= HTTPD__H_KEEPALIVE; return; }
    if (n == 5 && httpd__token_eq(v, "close", 5)) { h->flags |= HTTPD__H_CLOSE; return; }
#endif
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
        size_t s = i;
        while (i < n && v[i] != ',' && v[i] != ' ' && v[i] != '\t') i++;
        size_t len = i - s;
        if (len == 5 && httpd__token_eq(v + s, "close", 5)) h->flags |= HTTPD__H_CLOSE;
        else if (len == 10 && httpd__token_eq(v + s, "keep-alive", 10)) h->flags |= HTTPD__H_KEEPALIVE;
#ifndef HTTPD_NO_WEBSOCKET
        else if (len == 7 && httpd__token_eq(v + s, "upgrade", 7)) h->flags |= HTTPD__H_UPGRADE;
#endif
    }
}

/* Parses the head at b, reading nothing at or past b[n]. Returns the head's length (up to
   and including the empty line's CRLF), -status, or 0 when the bytes end first.
   It is one pass over the head and also enforces httpd__scan_head's limits and line
   rules, so a head it accepts is a head the scanner accepts, with the same length: the
   connection tries it first on whatever the first read brought (nearly always the whole
   head) and falls back to scan-then-parse only when it does not say yes, so that the
   verdict on a bad or split head is always the scanner's, whatever the split.
   h->headers must have room for lim->max_headers fields. */
HTTPD__PRIVATE int httpd__parse_head(httpd__head *h, const char *b, size_t n,
                                     const httpd__limits *lim) {
    const char *p = b, *end = b + HTTPD__MIN(n, (size_t)lim->max_header_bytes);
    h->flags = 0; h->nheaders = 0; h->host_count = 0; h->content_length = 0;
    h->host.ptr = NULL; h->host.len = 0;

    /* request-line = method SP request-target SP HTTP-version CRLF (RFC 9112 §3) */
    const char *m = p;
    while (p < end && HTTPD__IS(*p, HTTPD__C_TCHAR)) p++;
    if (p == end) return 0;
    if (p == m || *p != ' ') return -400;
    h->method.ptr = m; h->method.len = (size_t)(p - m);
    h->method_id = httpd__method_id(m, h->method.len);
    const char *t = ++p;
    while (p < end && HTTPD__IS(*p, HTTPD__C_TARGET)) p++;  /* stops at SP, CR, '#', CTL, 8-bit */
    if (p == end) return 0;
    if (p == t || *p != ' ') return -400;
    h->target.ptr = t; h->target.len = (size_t)(p - t);
    p++;
    if (end - p < 10) return 0;
    if (memcmp(p, "HTTP/", 5) != 0 || p[5] < '0' || p[5] > '9' || p[6] != '.'
        || p[7] < '0' || p[7] > '9' || p[8] != '\r' || p[9] != '\n')
        return -400;
    if (p[5] != '1') return -505;                       /* HTTP/0.9, HTTP/2.0, ... */
    h->minor_version = p[7] == '0' ? 0 : 1;             /* 1.2+ is served as 1.1 (§2.5) */
    p += 10;
    if ((size_t)(p - b) > (size_t)lim->max_request_line + 2) return 0;   /* the scanner's 414 */

    /* request-target forms (RFC 9112 §3.2) */
    const char *tp = t, *te = t + h->target.len;
    if (*tp == '/') {
        /* origin-form */
    } else if (h->target.len == 1 && *tp == '*') {
        if (h->method_id != HTTPD__M_OPTIONS) return -400;
        h->flags |= HTTPD__H_ASTERISK;
    } else if (h->method_id == HTTPD__M_CONNECT) {
        return -501;                                     /* authority-form: no tunnels */
    } else {
        /* absolute-form: scheme "://" authority path-abempty [ "?" query ] */
        size_t sl = (size_t)(te - tp) > 7 && httpd__ieq(tp, "http://", 7) ? 7
                  : (size_t)(te - tp) > 8 && httpd__ieq(tp, "https://", 8) ? 8 : 0;
        if (!sl) return -400;
        tp += sl;
        const char *a = tp;
        while (tp < te && *tp != '/' && *tp != '?') {
            if (!HTTPD__IS(*tp, HTTPD__C_HOST)) return -400;    /* userinfo '@' too (§4.2.4) */
            tp++;
        }
        if (tp == a) return -400;
    }
    if (h->flags & HTTPD__H_ASTERISK) {
        h->path.ptr = tp; h->path.len = 1; h->query.ptr = te; h->query.len = 0;
    } else {
        const char *q = tp;                             /* targets are short: no memchr */
        while (q < te && *q != '?') q++;
        if (q == te) q = NULL;
        const char *pe = q ? q : te;
        if (tp == pe) { h->path.ptr = "/"; h->path.len = 1; }      /* "http://h?x" */
        else { h->path.ptr = tp; h->path.len = (size_t)(pe - tp); }
        if (h->path.ptr[0] != '/') return -400;
        h->query.ptr = q ? q + 1 : te;
        h->query.len = q ? (size_t)(te - q - 1) : 0;
    }

    for (;;) {                                          /* the field lines */
        if (end - p < 2) return 0;
        if (p[0] == '\r') {                             /* the empty line ends the head */
            if (p[1] != '\n') return -400;               /* "\r\r\n": a bare CR */
            p += 2;
            break;
        }
        if (h->nheaders >= lim->max_headers) return -431;
        httpd_header *f = &h->headers[h->nheaders];
        int fl = httpd__field_line(&p, end, f);
        if (fl) return fl > 0 ? 0 : -400;
        h->nheaders++;
        const char *nm = f->name.ptr, *v = f->value.ptr;
        size_t nl = f->name.len, vl = f->value.len;
        int rc = 0;
        switch (nl) {                   /* names are tokens: httpd__token_eq is exact */
        case 4:
            if (httpd__token_eq(nm, "host", 4)) {
                h->host_count++;
                h->host = f->value;
                /* the value is followed by OWS or CR, which stop the fast pass */
                const char *q = httpd__skip_alnum(v, end, '.', ':');
                for (; q < v + vl; q++)
                    if (!HTTPD__IS(*q, HTTPD__C_HOST)) return -400;
            }
            break;
        case 6:
            if (httpd__token_eq(nm, "expect", 6)) {
                if (vl == 12 && httpd__token_eq(v, "100-continue", 12)) h->flags |= HTTPD__H_EXPECT;
                else return -417;
            }
            break;
        case 10:
            if (httpd__token_eq(nm, "connection", 10)) httpd__parse_connection(h, v, vl);
            break;
        case 14:
            if (httpd__token_eq(nm, "content-length", 14)) rc = httpd__parse_cl(h, v, vl);
            break;
        case 17:
            if (httpd__token_eq(nm, "transfer-encoding", 17)) rc = httpd__parse_te(h, v, vl);
            break;
        default:
            break;
        }
        if (rc) return -rc;
    }

    /* framing and Host (RFC 9112 §3.2, §6.1, §6.3) */
    if (h->minor_version == 1 && h->host_count != 1) return -400;
    if (h->host_count > 1) return -400;
    if (h->flags & HTTPD__H_TE) {
        if (h->flags & HTTPD__H_CL) return -400;        /* TE + CL: smuggling vector */
        if (h->minor_version == 0) return -400;         /* TE in HTTP/1.0: faulty framing */
        if (h->flags & HTTPD__H_TE_UNKNOWN) return -501;
        if (!(h->flags & HTTPD__H_CHUNKED)) return -400;
    }
    if (h->minor_version == 0) h->flags &= ~(unsigned)HTTPD__H_EXPECT;  /* RFC 9110 §10.1.1 */
    return (int)(p - b);
}

/* The head the scanner found (b[0..n), complete): 0, or the status to answer. Running out
   of bytes inside a complete head means it is malformed. */
HTTPD__PRIVATE int httpd__parse_exact(httpd__head *h, const char *b, size_t n,
                                      const httpd__limits *lim) {
    int st = httpd__parse_head(h, b, n, lim);
    HTTPD_ASSERT(st <= 0 || (size_t)st == n);          /* the scanner found this head */
    return st > 0 ? 0 : st == 0 ? 400 : -st;
}

/* Decodes a path (percent-decoding except %2F and %25, then dot-segment removal, RFC 3986
   §5.2.4) into out (room for n bytes). Returns the decoded length, or -400 for a bad
   escape, %00, or a ".." above the root. */
HTTPD__PRIVATE long httpd__path_decode(const char *in, size_t n, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == '%') {
            if (n - i < 3) return -400;
            int hi = httpd__hexval((unsigned char)in[i + 1]);
            int lo = hi < 0 ? -1 : httpd__hexval((unsigned char)in[i + 2]);
            if (lo < 0) return -400;
            int v = hi * 16 + lo;
            if (v == 0) return -400;
            if (v == '/' || v == '%') {                /* keep: they carry structure */
                out[o++] = '%'; out[o++] = '2';             /* as %2F and %25 */
                out[o++] = v == '/' ? 'F' : '5';
            } else {
                out[o++] = (char)v;
            }
            i += 2;
        } else {
            out[o++] = c;
        }
    }
    /* remove dot segments in place; out[0] == '/' */
    size_t r = 1, w = 0;
    for (;;) {
        size_t s = r;
        while (r < o && out[r] != '/') r++;
        size_t len = r - s;
        int last = r >= o;
        if (len == 1 && out[s] == '.') {
            if (last) out[w++] = '/';
        } else if (len == 2 && out[s] == '.' && out[s + 1] == '.') {
            if (w == 0) return -400;
            while (w > 0 && out[w - 1] != '/') w--;    /* w now just past the '/' ...  */
            w--;                                      /* ... drop it and the segment   */
            if (last) out[w++] = '/';
        } else {
            out[w++] = '/';
            memmove(out + w, out + s, len);
            w += len;
        }
        if (last) break;
        r++;
    }
    if (w == 0) out[w++] = '/';
    return (long)w;
}

/* =================================================================== >>chunked
   Resumable decoder for the chunked transfer coding (RFC 9112 §7.1), in place: chunk data
   is moved to the front of the buffer it is given, framing bytes are dropped. Sizes are
   overflow-checked (at most 2^60-1 per chunk), extensions and trailers are checked for
   syntax and together capped (max_meta bytes per message), trailer fields are discarded.
   No I/O; state survives between calls at any byte boundary. */
enum {
    HTTPD__CH_SIZE0, HTTPD__CH_SIZE, HTTPD__CH_SIZE_WS, HTTPD__CH_SIZE_LF,
    /* chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ) */
    HTTPD__CH_EXT_NAME0, HTTPD__CH_EXT_NAME, HTTPD__CH_EXT_NAME_WS, HTTPD__CH_EXT_VAL0,
    HTTPD__CH_EXT_VAL, HTTPD__CH_EXT_VAL_WS, HTTPD__CH_EXT_QUOTED, HTTPD__CH_EXT_QESC,
    HTTPD__CH_DATA, HTTPD__CH_DATA_CR, HTTPD__CH_DATA_LF,
    HTTPD__CH_TRAILER, HTTPD__CH_TRAILER_NAME, HTTPD__CH_TRAILER_LINE, HTTPD__CH_TRAILER_LF,
    HTTPD__CH_FINAL_LF, HTTPD__CH_DONE
};
typedef struct httpd__chunked {
    uint64_t remaining;        /* data bytes left in this chunk (or size being read) */
    uint32_t meta;             /* extension + trailer bytes so far                   */
    uint8_t  state;
    uint8_t  digits;           /* of the chunk size being read, leading zeros too    */
} httpd__chunked;
#define HTTPD__CHUNK_DIGITS 16     /* a longer chunk-size line (zeros) is refused     */

/* Decodes b[0..n). Returns the bytes consumed (stops right after the end of the body, so
   the rest is the next request) and sets *out to the data bytes now at b[0..*out);
   or -400 on malformed framing. d->state == HTTPD__CH_DONE once the body is complete. */
HTTPD__PRIVATE long httpd__chunked_decode(httpd__chunked *d, char *b, size_t n, size_t *out,
                                          uint32_t max_meta) {
    size_t i = 0, o = 0;
    while (i < n && d->state != HTTPD__CH_DONE) {
        unsigned char c = (unsigned char)b[i];
        int hex;
        switch (d->state) {
        case HTTPD__CH_DATA: {
            size_t k = (size_t)HTTPD__MIN((uint64_t)(n - i), d->remaining);
            if (o != i) memmove(b + o, b + i, k);
            o += k; i += k; d->remaining -= k;
            if (!d->remaining) d->state = HTTPD__CH_DATA_CR;
            continue;
        }
        case HTTPD__CH_SIZE0:
            if ((hex = httpd__hexval(c)) < 0) return -400;
            d->remaining = (uint64_t)hex; d->state = HTTPD__CH_SIZE;
            d->digits = 1;
            break;
        case HTTPD__CH_SIZE:
            if ((hex = httpd__hexval(c)) >= 0) {
                if (d->remaining >> 56) return -400;          /* would pass 2^60 */
                if (++d->digits > HTTPD__CHUNK_DIGITS) return -400;  /* endless zeros */
                d->remaining = d->remaining * 16 + (uint64_t)hex;
            } else if (c == ';') d->state = HTTPD__CH_EXT_NAME0;
            else if (c == ' ' || c == '\t') d->state = HTTPD__CH_SIZE_WS;
            else if (c == '\r') d->state = HTTPD__CH_SIZE_LF;
            else return -400;
            break;
        case HTTPD__CH_SIZE_WS:                                /* BWS before ';' only */
            if (c == ';') d->state = HTTPD__CH_EXT_NAME0;
            else if (c != ' ' && c != '\t') return -400;
            break;
        case HTTPD__CH_EXT_NAME0:
            if (HTTPD__IS(c, HTTPD__C_TCHAR)) d->state = HTTPD__CH_EXT_NAME;
            else if (c != ' ' && c != '\t') return -400;    /* empty name */
            break;
        case HTTPD__CH_EXT_NAME: case HTTPD__CH_EXT_NAME_WS:
        case HTTPD__CH_EXT_VAL: case HTTPD__CH_EXT_VAL_WS:
            if (HTTPD__IS(c, HTTPD__C_TCHAR) && (d->state == HTTPD__CH_EXT_NAME
                                                 || d->state == HTTPD__CH_EXT_VAL)) break;
            if (c == ' ' || c == '\t')
                d->state = d->state <= HTTPD__CH_EXT_NAME_WS ? HTTPD__CH_EXT_NAME_WS
                                                              : HTTPD__CH_EXT_VAL_WS;
            else if (c == '=' && d->state <= HTTPD__CH_EXT_NAME_WS) d->state = HTTPD__CH_EXT_VAL0;
            else if (c == ';') d->state = HTTPD__CH_EXT_NAME0;
            else if (c == '\r') d->state = HTTPD__CH_SIZE_LF;
            else return -400;
            break;
        case HTTPD__CH_EXT_VAL0:
            if (HTTPD__IS(c, HTTPD__C_TCHAR)) d->state = HTTPD__CH_EXT_VAL;
            else if (c == '"') d->state = HTTPD__CH_EXT_QUOTED;
            else if (c != ' ' && c != '\t') return -400;
            break;
        case HTTPD__CH_EXT_QUOTED:                             /* RFC 9110 §5.6.4 */
            if (c == '"') d->state = HTTPD__CH_EXT_VAL_WS;
            else if (c == '\\') d->state = HTTPD__CH_EXT_QESC;
            else if (!HTTPD__IS(c, HTTPD__C_VCHAR)) return -400;
            break;
        case HTTPD__CH_EXT_QESC:
            if (!HTTPD__IS(c, HTTPD__C_VCHAR)) return -400;
            d->state = HTTPD__CH_EXT_QUOTED;
            break;
        case HTTPD__CH_SIZE_LF:
            if (c != '\n') return -400;
            d->state = d->remaining ? HTTPD__CH_DATA : HTTPD__CH_TRAILER;
            break;
        case HTTPD__CH_DATA_CR:
            if (c != '\r') return -400;
            d->state = HTTPD__CH_DATA_LF;
            break;
        case HTTPD__CH_DATA_LF:
            if (c != '\n') return -400;
            d->state = HTTPD__CH_SIZE0;
            break;
        case HTTPD__CH_TRAILER:                                /* a field line or CRLF */
            if (c == '\r') { d->state = HTTPD__CH_FINAL_LF; break; }
            if (!HTTPD__IS(c, HTTPD__C_TCHAR)) return -400;    /* no obs-fold, no junk */
            d->state = HTTPD__CH_TRAILER_NAME;
            break;
        case HTTPD__CH_TRAILER_NAME:                           /* name ":" at once */
            if (c == ':') d->state = HTTPD__CH_TRAILER_LINE;
            else if (!HTTPD__IS(c, HTTPD__C_TCHAR)) return -400;
            break;
        case HTTPD__CH_TRAILER_LINE:
            if (c == '\r') d->state = HTTPD__CH_TRAILER_LF;
            else if (!HTTPD__IS(c, HTTPD__C_VCHAR)) return -400;
            break;
        case HTTPD__CH_TRAILER_LF:
            if (c != '\n') return -400;
            d->state = HTTPD__CH_TRAILER;
            break;
        case HTTPD__CH_FINAL_LF:
            if (c != '\n') return -400;
            d->state = HTTPD__CH_DONE;
            break;
        default:
            return -400;
        }
        if (d->state >= HTTPD__CH_EXT_NAME0 && d->state != HTTPD__CH_SIZE_LF
            && d->state != HTTPD__CH_DATA && d->state != HTTPD__CH_DATA_CR
            && d->state != HTTPD__CH_DATA_LF && ++d->meta > max_meta)
            return -400;                        /* extensions + trailers over the cap */
        i++;
    }
    *out = o;
    return (long)i;
}

/* ===================================================================== >>wheel
   Hierarchical timer wheel, one per worker, never shared: 4 levels of 64 slots, level L
   slot width 64^L ms (levels cover 1 ms .. ~4.6 h; later timers wait in the top level and
   are re-filed as it turns). HTTPD_WHEEL_BITS sets the slots per level (2^bits; 4 under
   HTTPD_MINIMAL: 16 slots, levels up to ~65 s, a quarter of the memory). Timers are embedded in their owners (no allocation); times
   are monotonic ms. add/del O(1); advancing costs O(timers that move) per slot passed.
   A timer sits in the slot of the highest 6-bit digit where its due time differs from
   the wheel's now, and moves down a level each time that digit comes round.
   Invariant: t->pprev != NULL  <=>  t is on exactly one list (a slot or `expired`). */
#ifndef HTTPD_WHEEL_BITS
#  ifdef HTTPD_MINIMAL
#    define HTTPD_WHEEL_BITS 4
#  else
#    define HTTPD_WHEEL_BITS 6
#  endif
#endif
#if HTTPD_WHEEL_BITS < 2 || HTTPD_WHEEL_BITS > 6
#  error "httpd.h: HTTPD_WHEEL_BITS is 2 to 6 (slots per level: a 64-bit mask)"
#endif
#define HTTPD__WHEEL_LEVELS 4
#define HTTPD__WHEEL_BITS HTTPD_WHEEL_BITS
#define HTTPD__WHEEL_SLOTS (1 << HTTPD_WHEEL_BITS)
#if HTTPD_WHEEL_BITS <= 5
typedef uint32_t httpd__wmask;                  /* one bit a slot: a word when it fits */
HTTPD__PRIVATE int httpd__wmask_ctz(uint32_t x) {
#  if defined(__GNUC__) || defined(__clang__)
    return __builtin_ctz(x);
#  else
    return httpd__ctz64(x);
#  endif
}
#else
typedef uint64_t httpd__wmask;
#  define httpd__wmask_ctz httpd__ctz64
#endif
typedef struct httpd__timer {
    struct httpd__timer *next, **pprev;
    uint64_t due;
    void (*fire)(struct httpd__timer *t, void *ctx);   /* called by the wheel's owner */
} httpd__timer;
typedef struct httpd__wheel {
    uint64_t      now;
    httpd__wmask  pending[HTTPD__WHEEL_LEVELS];  /* bit s set <=> slot s non-empty */
    httpd__timer *slot[HTTPD__WHEEL_LEVELS][HTTPD__WHEEL_SLOTS];
    httpd__timer *expired;                       /* due <= now, not yet popped     */
} httpd__wheel;

HTTPD__PRIVATE void httpd__wheel_init(httpd__wheel *w, uint64_t now_ms) {
    memset(w, 0, sizeof *w);
    w->now = now_ms;
}
HTTPD__PRIVATE void httpd__timer_link(httpd__timer **head, httpd__timer *t) {
    t->next = *head;
    if (t->next) t->next->pprev = &t->next;
    t->pprev = head;
    *head = t;
}
HTTPD__PRIVATE void httpd__wheel_file(httpd__wheel *w, httpd__timer *t) {
    if (t->due <= w->now) { httpd__timer_link(&w->expired, t); return; }
    uint64_t diff = t->due ^ w->now;
    int level = httpd__log2_64(diff) / HTTPD__WHEEL_BITS;
    if (level >= HTTPD__WHEEL_LEVELS) level = HTTPD__WHEEL_LEVELS - 1;
    unsigned s = (unsigned)(t->due >> (level * HTTPD__WHEEL_BITS)) & (HTTPD__WHEEL_SLOTS - 1);
    httpd__timer_link(&w->slot[level][s], t);
    w->pending[level] |= (httpd__wmask)1 << s;
}
HTTPD__PRIVATE void httpd__wheel_del(httpd__wheel *w, httpd__timer *t) {     /* ok if idle */
    if (!t->pprev) return;
    *t->pprev = t->next;
    if (t->next) t->next->pprev = t->pprev;
    /* a slot that became empty keeps its pending bit until the wheel passes it */
    t->next = NULL; t->pprev = NULL;
    (void)w;
}
HTTPD__PRIVATE void httpd__wheel_add(httpd__wheel *w, httpd__timer *t, uint64_t due_ms) {
    httpd__wheel_del(w, t);
    t->due = due_ms;
    httpd__wheel_file(w, t);
}
/* Moves the wheel to now: every slot passed is emptied and its timers re-filed (they go
   to `expired` or to a lower level). */
HTTPD__PRIVATE void httpd__wheel_advance(httpd__wheel *w, uint64_t now) {
    if (now <= w->now) return;
    uint64_t old = w->now;
    w->now = now;
    for (int l = 0; l < HTTPD__WHEEL_LEVELS; l++) {
        int sh = l * HTTPD__WHEEL_BITS;
        uint64_t from = old >> sh, to = now >> sh;
        if (from == to) break;                  /* higher digits did not change either */
        httpd__wmask mask;
        if (to - from >= HTTPD__WHEEL_SLOTS) mask = (httpd__wmask)~(httpd__wmask)0;
        else {                                  /* slots from+1 .. to, wrapping */
            unsigned a = (unsigned)(from + 1) & (HTTPD__WHEEL_SLOTS - 1);
            httpd__wmask run = ((httpd__wmask)1 << (unsigned)(to - from)) - 1;  /* < SLOTS bits */
            mask = (run << a) | (a ? run >> (HTTPD__WHEEL_SLOTS - a) : 0);
        }
        mask &= w->pending[l];                  /* (and so within the slots' bits) */
        while (mask) {
            unsigned s = (unsigned)httpd__wmask_ctz(mask);
            mask &= mask - 1;
            w->pending[l] &= (httpd__wmask)~((httpd__wmask)1 << s);
            httpd__timer *t = w->slot[l][s];
            w->slot[l][s] = NULL;
            while (t) {
                httpd__timer *next = t->next;
                t->next = NULL; t->pprev = NULL;
                httpd__wheel_file(w, t);
                t = next;
            }
        }
    }
}
/* Advances to now and returns one due timer (unlinked), or NULL when none is due. */
HTTPD__PRIVATE httpd__timer *httpd__wheel_pop(httpd__wheel *w, uint64_t now) {
    httpd__wheel_advance(w, now);
    httpd__timer *t = w->expired;
    if (!t) return NULL;
    httpd__wheel_del(w, t);
    return t;
}
/* Milliseconds until the next slot with timers comes due (a lower bound: on wake the
   wheel re-files and asks again); 0 if one is due now, -1 if none is armed. */
HTTPD__PRIVATE int httpd__wheel_sleep_ms(const httpd__wheel *w) {
    if (w->expired) return 0;
    uint64_t best = UINT64_MAX;
    for (int l = 0; l < HTTPD__WHEEL_LEVELS; l++) {
        if (!w->pending[l]) continue;
        int sh = l * HTTPD__WHEEL_BITS;
        uint64_t cur = w->now >> sh;
        unsigned c = (unsigned)cur & (HTTPD__WHEEL_SLOTS - 1);
        httpd__wmask rot = (httpd__wmask)((w->pending[l] >> c)
                                          | (c ? w->pending[l] << (HTTPD__WHEEL_SLOTS - c) : 0));
        rot &= (httpd__wmask)~(httpd__wmask)1;  /* slot c itself comes round in SLOTS ticks */
        uint64_t ticks = rot ? (uint64_t)httpd__wmask_ctz(rot) : HTTPD__WHEEL_SLOTS;
        uint64_t at = (cur + ticks) << sh;
        if (at - w->now < best) best = at - w->now;
    }
    if (best == UINT64_MAX) return -1;
    return best > INT_MAX ? INT_MAX : (int)best;
}
/* Debug check (tests): every linked timer sits in the slot its due time maps to, or in
   `expired` with due <= now. Returns 1 when consistent. Slow. */
HTTPD__PRIVATE int httpd__wheel_check(const httpd__wheel *w) {
    for (const httpd__timer *t = w->expired; t; t = t->next)
        if (t->due > w->now || *t->pprev != t) return 0;
    for (int l = 0; l < HTTPD__WHEEL_LEVELS; l++)
        for (unsigned s = 0; s < HTTPD__WHEEL_SLOTS; s++)
            for (const httpd__timer *t = w->slot[l][s]; t; t = t->next) {
                if (*t->pprev != t || !(w->pending[l] >> s & 1)) return 0;
                if (t->due <= w->now) return 0;
                uint64_t diff = t->due ^ w->now;
                int lv = httpd__log2_64(diff) / HTTPD__WHEEL_BITS;
                if (lv >= HTTPD__WHEEL_LEVELS) lv = HTTPD__WHEEL_LEVELS - 1;
                if (lv != l) return 0;
            }
    return 1;
}

/* ==================================================================== >>router
   Routes are compiled once at start into segment lists; the table is then read-only and
   shared by all workers without locks. Matching walks the routes in order (first match
   wins), comparing the decoded path segment by segment: literal, ":param" (one non-empty
   segment) or a trailing "*" (the rest, maybe empty). Cost: O(routes x segments) with
   early exits; no allocation. */
#define HTTPD__MAX_PARAMS 16
enum { HTTPD__SEG_LIT, HTTPD__SEG_PARAM, HTTPD__SEG_WILD };
typedef struct httpd__seg {
    const char *s;             /* literal text, or the parameter name ("*" for WILD) */
    uint32_t    len;
    uint32_t    kind;
} httpd__seg;
typedef struct httpd__route {
    const httpd_route *pub;
#ifndef HTTPD_NO_MIDDLEWARE
    size_t      plen;          /* strlen(pub->pattern), for the access log */
#endif
    const char *method;        /* NULL: any method */
    size_t      method_len;
    int         method_id;
    uint32_t    first_seg, nsegs;
    uint64_t    max_body;
} httpd__route;
typedef struct httpd__router {
    httpd__route *routes;
    httpd__seg   *segs;
    uint32_t      nroutes;
} httpd__router;
typedef struct httpd__param {
    const char *name;
    uint32_t    name_len;
    httpd_str   value;         /* raw segment(s) from the decoded path */
} httpd__param;

HTTPD__PRIVATE void httpd__router_free(httpd__router *r, void *ctx) {
    HTTPD_FREE(ctx, r->routes);                  /* the segments are in the same block */
    memset(r, 0, sizeof *r);
}
/* Compiles a zero-terminated route array. Returns 0, HTTPD_ERR_INVAL (bad pattern: must
   start with '/', "*" only last, empty or duplicate parameter names, more than
   HTTPD__MAX_PARAMS) or HTTPD_ERR_NOMEM. */
HTTPD__PRIVATE int httpd__router_init(httpd__router *r, const httpd_route *routes,
                                      uint64_t default_max_body, void *ctx) {
    uint32_t nr = 0, ns = 0;
    memset(r, 0, sizeof *r);
    for (const httpd_route *p = routes; p && p->pattern; p++) {
        if (p->pattern[0] != '/' || !p->handler) return HTTPD_ERR_INVAL;
        nr++;
        for (const char *c = p->pattern; *c; c++) ns += *c == '/';
    }
    if (!nr) return 0;
    /* one block: the routes, then the segments (aligned: a route's size is a multiple of
       its 8-byte alignment) */
    r->routes = (httpd__route *)HTTPD_MALLOC(ctx, nr * sizeof *r->routes + ns * sizeof *r->segs);
    if (!r->routes) return HTTPD_ERR_NOMEM;
    r->segs = (httpd__seg *)(void *)(r->routes + nr);
    uint32_t si = 0;
    for (uint32_t i = 0; i < nr; i++) {
        const httpd_route *p = &routes[i];
        httpd__route *rt = &r->routes[i];
        rt->pub = p;
#ifndef HTTPD_NO_MIDDLEWARE
        rt->plen = strlen(p->pattern);
#endif
        rt->method = p->method && !(p->method[0] == '*' && !p->method[1]) ? p->method : NULL;
        rt->method_len = rt->method ? strlen(rt->method) : 0;
        rt->method_id = rt->method ? httpd__method_id(rt->method, rt->method_len) : -1;
        rt->max_body = HTTPD__DEF(p->max_body_bytes, default_max_body);
        rt->first_seg = si;
        for (size_t k = 0; k < rt->method_len; k++)
            if (!HTTPD__IS(rt->method[k], HTTPD__C_TCHAR)) goto bad;
        const char *c = p->pattern + 1;
        uint32_t nparams = 0;
        for (;;) {
            size_t len = strlen(c);                  /* memchr: strchr is one import more */
            const char *e = (const char *)memchr(c, '/', len);
            if (e) len = (size_t)(e - c);
            httpd__seg *sg = &r->segs[si++];
            if (len == 1 && c[0] == '*') {
                if (e) goto bad;                               /* '*' must be last */
                sg->kind = HTTPD__SEG_WILD; sg->s = c; sg->len = 1; nparams++;
            } else if (len > 0 && c[0] == ':') {
                if (len == 1) goto bad;
                sg->kind = HTTPD__SEG_PARAM; sg->s = c + 1; sg->len = (uint32_t)len - 1;
                for (uint32_t k = rt->first_seg; k + 1 < si; k++)
                    if (r->segs[k].kind == HTTPD__SEG_PARAM && r->segs[k].len == sg->len
                        && !memcmp(r->segs[k].s, sg->s, sg->len)) goto bad;
                nparams++;
            } else {
                sg->kind = HTTPD__SEG_LIT; sg->s = c; sg->len = (uint32_t)len;
            }
            if (!e) break;
            c = e + 1;
        }
        if (nparams > HTTPD__MAX_PARAMS) goto bad;
        rt->nsegs = si - rt->first_seg;
    }
    r->nroutes = nr;
    return 0;
bad:
    httpd__router_free(r, ctx);
    return HTTPD_ERR_INVAL;
}
/* Does route rt match path? Fills params (room for HTTPD__MAX_PARAMS); returns the count
   or -1 when the path does not match. */
HTTPD__PRIVATE int httpd__route_match(const httpd__router *r, const httpd__route *rt,
                                      const char *path, size_t n, httpd__param *params) {
    const char *p = path + 1, *end = path + n;
    int np = 0, done = 0;
    for (uint32_t i = 0; i < rt->nsegs; i++) {
        const httpd__seg *sg = &r->segs[rt->first_seg + i];
        if (sg->kind == HTTPD__SEG_WILD) {
            if (done) return -1;
            params[np].name = "*"; params[np].name_len = 1;
            params[np].value.ptr = p; params[np].value.len = (size_t)(end - p);
            return np + 1;
        }
        if (done) return -1;
        const char *q = p;                           /* segments are short: no memchr */
        while (q < end && *q != '/') q++;
        if (q == end) done = 1;
        size_t len = (size_t)(q - p);
        if (sg->kind == HTTPD__SEG_LIT) {
            if (len != sg->len || (len && memcmp(p, sg->s, len) != 0)) return -1;
        } else {
            if (len == 0) return -1;
            params[np].name = sg->s; params[np].name_len = sg->len;
            params[np].value.ptr = p; params[np].value.len = len;
            np++;
        }
        p = q + 1;
    }
    return done ? np : -1;
}
HTTPD__PRIVATE int httpd__route_method_ok(const httpd__route *rt, int mid, const char *m,
                                          size_t mlen) {
    if (!rt->method) return 1;
    if (rt->method_id != HTTPD__M_OTHER) return rt->method_id == mid;
    return rt->method_len == mlen && !memcmp(rt->method, m, mlen);
}
/* Finds the route for (method, path). Returns its index, or -1 with *allow set to a
   bitmask (1 << HTTPD__M_*) of the methods some route accepts for this path (0: no path
   matched; bit 0 stands for routes with a non-standard method). HEAD falls back to a GET
   route (RFC 9110 §9.3.2). The common case, a match, takes one pass. */
HTTPD__HOT int httpd__router_find(const httpd__router *r, int mid, const char *m,
                                  size_t mlen, const char *path, size_t n,
                                  httpd__param *params, int *nparams, unsigned *allow) {
    *allow = 0;
    for (uint32_t i = 0; i < r->nroutes; i++) {
        const httpd__route *rt = &r->routes[i];
        if (!httpd__route_method_ok(rt, mid, m, mlen)) continue;
        int np = httpd__route_match(r, rt, path, n, params);
        if (np >= 0) { *nparams = np; return (int)i; }
    }
    int get = -1;
    for (uint32_t i = 0; i < r->nroutes; i++) {
        const httpd__route *rt = &r->routes[i];
        if (httpd__route_match(r, rt, path, n, params) < 0) continue;
        if (mid == HTTPD__M_HEAD && rt->method_id == HTTPD__M_GET && get < 0) get = (int)i;
        *allow |= 1u << (rt->method_id > 0 ? rt->method_id : 0);
    }
    if (get >= 0) {
        *nparams = httpd__route_match(r, &r->routes[get], path, n, params);
        return get;
    }
    return -1;
}

#ifndef HTTPD_NO_MIDDLEWARE      /* >>proxyproto and >>ratelimit: operations only */
/* ================================================================ >>proxyproto
   Who the client is, behind proxies. An address is 16 bytes, IPv4 as ::ffff:a.b.c.d (RFC
   4291 §2.5.5.2), so one compare serves both families; all zero means unknown. Strict
   text parsers (not inet_pton: bounded by an end pointer, no octal or short forms), CIDR
   lists, the PROXY protocol header (HAProxy's proxy-protocol.txt: v1 text, v2 binary) and
   the X-Forwarded-For / Forwarded (RFC 7239) lists, read from the right and believed only
   while the hop that wrote them is a trusted proxy: a client can put anything at the left
   of the list, never at the right. Pure functions over bytes, any thread; fuzzed by
   fuzz/fuzz_proxy.c. Cost: nothing unless PROXY or trusted proxies are configured. */
typedef struct httpd__cidr { uint8_t a[16]; uint8_t bits; } httpd__cidr;
static const uint8_t httpd__v4map[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
#define HTTPD__PROXY_V1_MAX 107      /* the longest v1 line, CRLF included (spec 2.1)  */
#define HTTPD__PROXY_V2_MAX 1024     /* our cap on a v2 header's addresses and TLVs     */
#define HTTPD__FWD_MAX 32            /* forwarding hops looked at, from the right        */

HTTPD__PRIVATE int httpd__addr_known(const uint8_t a[16]) {
    for (int i = 0; i < 16; i++) if (a[i]) return 1;
    return 0;
}
HTTPD__PRIVATE void httpd__addr_from(uint8_t a[16], const struct sockaddr *sa) {
    memset(a, 0, 16);
    if (sa->sa_family == AF_INET) {
        memcpy(a, httpd__v4map, 12);
        memcpy(a + 12, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        memcpy(a, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
    }
}
/* Dotted IPv4 at p (RFC 3986 dec-octet: 1-3 digits, no leading zero, <= 255). Returns
   the bytes taken, or 0. */
HTTPD__PRIVATE size_t httpd__ip4_parse(const char *p, const char *end, uint8_t out[4]) {
    const char *s = p;
    for (int i = 0; i < 4; i++) {
        if (i) {
            if (p == end || *p != '.') return 0;
            p++;
        }
        const char *d = p;
        unsigned v = 0;
        while (p < end && *p >= '0' && *p <= '9' && p - d < 3) v = v * 10 + (unsigned)(*p++ - '0');
        if (p == d || v > 255 || (p - d > 1 && *d == '0')) return 0;
        if (p < end && *p >= '0' && *p <= '9') return 0;          /* a fourth digit */
        out[i] = (uint8_t)v;
    }
    return (size_t)(p - s);
}
/* IPv6 text at p (RFC 4291 §2.2: 1-4 hex digits a group, one "::", an IPv4 tail). No zone
   ids. Returns the bytes taken, or 0. */
HTTPD__PRIVATE size_t httpd__ip6_parse(const char *p, const char *end, uint8_t out[16]) {
    const char *s = p;
    unsigned g[8];
    int n = 0, gap = -1;
    if (end - p >= 2 && p[0] == ':' && p[1] == ':') {
        gap = 0;
        p += 2;
        if (p == end || httpd__hexval((unsigned char)*p) < 0) goto done;
    }
    for (;;) {
        const char *q = p;
        unsigned v = 0;
        int k = 0, h;
        while (q < end && k < 4 && (h = httpd__hexval((unsigned char)*q)) >= 0) {
            v = v * 16 + (unsigned)h; q++; k++;
        }
        if (k == 0) return 0;
        if (q < end && *q == '.') {                       /* the last 32 bits as IPv4 */
            uint8_t b[4];
            size_t m = n <= 6 ? httpd__ip4_parse(p, end, b) : 0;
            if (!m) return 0;
            g[n++] = (unsigned)b[0] << 8 | b[1];
            g[n++] = (unsigned)b[2] << 8 | b[3];
            p += m;
            break;
        }
        if ((q < end && httpd__hexval((unsigned char)*q) >= 0) || n == 8) return 0;
        g[n++] = v;
        p = q;
        if (p == end || *p != ':') break;
        if (end - p >= 2 && p[1] == ':') {
            if (gap >= 0) return 0;
            gap = n;
            p += 2;
            if (p == end || httpd__hexval((unsigned char)*p) < 0) break;
        } else {
            p++;
            if (p == end || httpd__hexval((unsigned char)*p) < 0) return 0;
        }
    }
done:
    if (gap < 0 ? n != 8 : n > 7) return 0;
    memset(out, 0, 16);
    int tail = gap < 0 ? 0 : n - gap;
    for (int i = 0; i < n; i++) {
        int at = gap < 0 || i < gap ? i : 8 - tail + (i - gap);
        out[2 * at] = (uint8_t)(g[i] >> 8);
        out[2 * at + 1] = (uint8_t)g[i];
    }
    return (size_t)(p - s);
}
/* Text form into out (46 bytes with the NUL): dotted IPv4; IPv6 as RFC 5952 §4 says
   (lower case, no leading zeros, the longest run of two or more zero groups as "::"). */
HTTPD__PRIVATE size_t httpd__addr_format(const uint8_t a[16], char *out) {
    char *p = out;
    if (!memcmp(a, httpd__v4map, 12)) {
        for (int i = 12; i < 16; i++) {
            if (i > 12) *p++ = '.';
            p += httpd__utoa3(p, a[i]);
        }
        *p = 0;
        return (size_t)(p - out);
    }
    unsigned g[8];
    int best = -1, blen = 1;
    for (int i = 0; i < 8; i++) g[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
    for (int i = 0; i < 8;) {
        int j = i;
        while (j < 8 && g[j] == 0) j++;
        if (j - i > blen) { best = i; blen = j - i; }
        i = j > i ? j : i + 1;
    }
    for (int i = 0; i < 8; i++) {
        if (i == best) {
            *p++ = ':';
            if (i == 0) *p++ = ':';
            i += blen - 1;
            continue;
        }
        static const char hex[] = "0123456789abcdef";
        int started = 0;
        for (int sh = 12; sh >= 0; sh -= 4) {
            unsigned d = g[i] >> sh & 15;
            if (d || started || sh == 0) { *p++ = hex[d]; started = 1; }
        }
        if (i < 7) *p++ = ':';
    }
    *p = 0;
    return (size_t)(p - out);
}
/* "10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "::1". 0, or -1 when malformed. Host bits
   are cleared. */
HTTPD__PRIVATE int httpd__cidr_parse(const char *s, httpd__cidr *c) {
    size_t n = strlen(s);
    const char *end = s + n, *slash = (const char *)memchr(s, '/', n);
    const char *ae = slash ? slash : end;
    uint8_t b[4];
    unsigned max = 128, bits;
    if (ae > s && httpd__ip4_parse(s, ae, b) == (size_t)(ae - s)) {
        memcpy(c->a, httpd__v4map, 12);
        memcpy(c->a + 12, b, 4);
        max = 32;
    } else if (ae == s || httpd__ip6_parse(s, ae, c->a) != (size_t)(ae - s)) {
        return -1;
    }
    bits = max;
    if (slash) {
        const char *d = slash + 1;
        if (d == end || end - d > 3 || (end - d > 1 && *d == '0')) return -1;
        for (bits = 0; d < end; d++) {
            if (*d < '0' || *d > '9') return -1;
            bits = bits * 10 + (unsigned)(*d - '0');
        }
        if (bits > max) return -1;
    }
    c->bits = (uint8_t)(bits + 128 - max);
    for (unsigned i = c->bits; i < 128; i++) c->a[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
    return 0;
}
HTTPD__PRIVATE int httpd__cidr_match(const httpd__cidr *c, size_t n, const uint8_t a[16]) {
    for (size_t i = 0; i < n; i++) {
        unsigned full = c[i].bits / 8u, rem = c[i].bits % 8u;
        if (memcmp(a, c[i].a, full)) continue;
        if (rem && ((a[full] ^ c[i].a[full]) & (0xff00u >> rem) & 0xffu)) continue;
        return 1;
    }
    return 0;
}
/* Decimal port, 0..65535, no leading zero. 1 if p..end is exactly that. */
HTTPD__PRIVATE int httpd__port_ok(const char *p, const char *end) {
    unsigned v = 0;
    if (p == end || end - p > 5 || (end - p > 1 && *p == '0')) return 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9') return 0;
        v = v * 10 + (unsigned)(*p - '0');
    }
    return v <= 65535;
}

/* The PROXY protocol header at b[0..n). >0: its length, with *got = 1 and addr set to the
   source when it names a TCP client over IPv4/IPv6, *got = 0 when the connection's own
   address stands (v1 UNKNOWN, v2 LOCAL, AF_UNIX, UNSPEC); 0: incomplete; -1: not a valid
   header (the connection is closed). A prefix that cannot begin a header fails at once. */
HTTPD__PRIVATE int httpd__proxy_parse(const char *b, size_t n, uint8_t addr[16], int *got) {
    static const char sig[12] = { '\r', '\n', '\r', '\n', 0, '\r', '\n', 'Q', 'U', 'I', 'T', '\n' };
    *got = 0;
    if (n == 0) return 0;
    if (b[0] == 'P') {                                  /* v1: one text line */
        if (memcmp(b, "PROXY ", HTTPD__MIN(n, (size_t)6))) return -1;
        const char *lf = (const char *)memchr(b, '\n', HTTPD__MIN(n, (size_t)HTTPD__PROXY_V1_MAX));
        if (!lf) return n >= HTTPD__PROXY_V1_MAX ? -1 : 0;
        const char *p = b + 6, *end = lf - 1;
        if (lf - b < 7 || *end != '\r') return -1;
        int len = (int)(lf - b + 1);
        for (const char *q = p; q < end; q++)            /* printable US-ASCII only */
            if (*q < 0x20 || *q > 0x7e) return -1;
        if (end - p >= 7 && !memcmp(p, "UNKNOWN", 7) && (end - p == 7 || p[7] == ' '))
            return len;                                 /* the rest is to be ignored */
        if (end - p < 5 || (memcmp(p, "TCP4 ", 5) && memcmp(p, "TCP6 ", 5))) return -1;
        int v4 = p[3] == '4';
        p += 5;
        uint8_t src[16], dst[16], b4[4];
        for (int i = 0; i < 2; i++) {
            uint8_t *a = i ? dst : src;
            const char *sp = (const char *)memchr(p, ' ', (size_t)(end - p));
            if (!sp || sp == p) return -1;                 /* an empty field is no address */
            if (v4) {
                if (httpd__ip4_parse(p, sp, b4) != (size_t)(sp - p)) return -1;
                memcpy(a, httpd__v4map, 12);
                memcpy(a + 12, b4, 4);
            } else if (httpd__ip6_parse(p, sp, a) != (size_t)(sp - p)) {
                return -1;
            }
            p = sp + 1;
        }
        const char *sp = (const char *)memchr(p, ' ', (size_t)(end - p));
        if (!sp || !httpd__port_ok(p, sp) || !httpd__port_ok(sp + 1, end)) return -1;
        memcpy(addr, src, 16);
        *got = 1;
        return len;
    }
    /* v2: 12-byte signature, version/command, family/protocol, length, then addresses */
    if (memcmp(b, sig, HTTPD__MIN(n, sizeof sig))) return -1;
    if (n < 16) return 0;
    const uint8_t *u = (const uint8_t *)b;
    unsigned vc = u[12], fam = u[13], len = (unsigned)u[14] << 8 | u[15], alen;
    if ((vc >> 4) != 2 || (vc & 15) > 1 || len > HTTPD__PROXY_V2_MAX) return -1;
    switch (fam) {
    case 0x00: alen = 0; break;                        /* UNSPEC                  */
    case 0x11: alen = 12; break;                       /* TCP over IPv4           */
    case 0x21: alen = 36; break;                       /* TCP over IPv6           */
    case 0x31: alen = 216; break;                      /* stream over AF_UNIX     */
    default: return -1;                                /* datagrams, unknown      */
    }
    if (len < alen) return -1;
    if (n < 16 + (size_t)len) return 0;
    const uint8_t *q = u + 16;
    for (unsigned i = alen; i < len;) {                /* TLVs must tile the rest */
        if (len - i < 3) return -1;
        unsigned tl = (unsigned)q[i + 1] << 8 | q[i + 2];
        if (len - i - 3 < tl) return -1;
        i += 3 + tl;
    }
    if ((vc & 15) == 1 && fam == 0x11) {
        memcpy(addr, httpd__v4map, 12);
        memcpy(addr + 12, q, 4);
        *got = 1;
    } else if ((vc & 15) == 1 && fam == 0x21) {
        memcpy(addr, q, 16);
        *got = 1;
    }
    return (int)(16 + len);
}

/* One element of a forwarding list: "192.0.2.1", "2001:db8::1", "[2001:db8::1]", with an
   optional ":port" after IPv4 or the brackets (some proxies add it). 1 and a, else 0. */
HTTPD__PRIVATE int httpd__fwd_addr(const char *p, const char *end, uint8_t a[16]) {
    uint8_t b[4];
    size_t m;
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t')) end--;
    if (p == end) return 0;
    if (*p == '[') {
        const char *rb = (const char *)memchr(p, ']', (size_t)(end - p));
        if (!rb || rb == p + 1 || httpd__ip6_parse(p + 1, rb, a) != (size_t)(rb - p - 1)) return 0;
        p = rb + 1;
    } else if ((m = httpd__ip4_parse(p, end, b)) != 0) {
        memcpy(a, httpd__v4map, 12);
        memcpy(a + 12, b, 4);
        p += m;
    } else {
        return httpd__ip6_parse(p, end, a) == (size_t)(end - p);
    }
    return p == end || (*p == ':' && httpd__port_ok(p + 1, end));
}
/* The `for` parameter of one Forwarded element (RFC 7239 §4: pairs separated by ';',
   values tokens or quoted strings), as an address. 1 and a, else 0 ("unknown",
   obfuscated names, no `for`, bad syntax). */
HTTPD__PRIVATE int httpd__fwd_for(const char *p, const char *end, uint8_t a[16]) {
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ';')) p++;
        const char *k = p;
        while (p < end && HTTPD__IS(*p, HTTPD__C_TCHAR)) p++;
        size_t kl = (size_t)(p - k);
        if (!kl || p == end || *p != '=') return 0;
        p++;
        char v[64];
        size_t vl = 0;
        if (p < end && *p == '"') {                        /* quoted-string */
            for (p++;; p++) {
                if (p == end) return 0;
                if (*p == '"') { p++; break; }
                if (*p == '\\' && ++p == end) return 0;
                if (vl == sizeof v) return 0;
                v[vl++] = *p;
            }
        } else {
            while (p < end && HTTPD__IS(*p, HTTPD__C_TCHAR) && vl < sizeof v) v[vl++] = *p++;
        }
        while (p < end && (*p == ' ' || *p == '\t')) p++;
        if (p < end && *p != ';') return 0;
        if (kl == 3 && httpd__ieq(k, "for", 3)) return httpd__fwd_addr(v, v + vl, a);
    }
    return 0;
}
/* The client's address behind trusted proxies: from the peer's address leftwards, while
   the current hop is trusted, the element left of it in X-Forwarded-For (or Forwarded
   when there is no X-Forwarded-For) is the next hop; an element that is not an address
   ends the walk there. All lines of the field form one list, in order. */
HTTPD__PRIVATE void httpd__realip(const httpd__cidr *t, size_t nt, const httpd_header *hs,
                                  int nh, uint8_t addr[16]) {
    struct { const char *p, *e; } el[HTTPD__FWD_MAX];
    size_t total = 0;
    int xff = 0;
    if (!nt || !httpd__cidr_match(t, nt, addr)) return;
    for (int i = 0; i < nh && !xff; i++)
        xff = httpd__ieq2(hs[i].name.ptr, hs[i].name.len, "x-forwarded-for", 15);
    for (int i = 0; i < nh; i++) {
        if (!httpd__ieq2(hs[i].name.ptr, hs[i].name.len, xff ? "x-forwarded-for" : "forwarded",
                         xff ? 15 : 9))
            continue;
        const char *p = hs[i].value.ptr, *end = p + hs[i].value.len, *s = p;
        int quoted = 0;
        for (;; p++) {                       /* split at commas outside quoted strings */
            if (p < end && *p == '"' && !xff) quoted = !quoted;
            else if (p < end && *p == '\\' && quoted && p + 1 < end) p++;
            else if (p == end || (*p == ',' && !quoted)) {
                el[total % HTTPD__FWD_MAX].p = s;     /* an unclosed quote: one element */
                el[total % HTTPD__FWD_MAX].e = p;     /* to the end, which fails below  */
                total++;
                if (p == end) break;
                s = p + 1;
            }
        }
    }
    for (size_t k = 0; k < total && k < HTTPD__FWD_MAX; k++) {
        size_t i = (total - 1 - k) % HTTPD__FWD_MAX;
        uint8_t a[16];
        if (!(xff ? httpd__fwd_addr(el[i].p, el[i].e, a) : httpd__fwd_for(el[i].p, el[i].e, a)))
            return;
        memcpy(addr, a, 16);
        if (!httpd__cidr_match(t, nt, addr)) return;
    }
}

/* ================================================================= >>ratelimit
   Token buckets kept as GCRA (the generic cell rate algorithm, ITU-T I.371): one number
   per client, its theoretical arrival time `tat`. A request at `now` passes when
   max(tat, now) - now <= tau, tau = (burst - 1) x T and T = 1 / rate, and then moves tat
   to max(tat, now) + T: a bucket of `burst` tokens refilled at `rate`, without a refill
   loop. A bucket with tat <= now is full, which is the same as no bucket at all, so the
   table may forget it. The table is per worker and set associative: a key hashes to a
   set of 8 slots; a new key takes the slot with the smallest tat (an empty or full
   bucket first, else the fullest), so memory is bounded and every step O(1), with no lock
   (one owner). A flood of new keys through one set can forgive a limited client: size
   max_clients for the clients active within a refill period. Times in microseconds. */
#define HTTPD__RL_WAYS 8
typedef struct httpd__rl_slot {
    uint64_t k0, k1, tat;          /* tat 0: empty                                      */
    uint32_t k2, pad;              /* the route (per-route limits), key kind            */
} httpd__rl_slot;
typedef struct httpd__rl_table {
    httpd__rl_slot *slot;          /* sets x HTTPD__RL_WAYS                             */
    uint32_t        sets;          /* a power of two                                    */
} httpd__rl_table;

HTTPD__PRIVATE uint64_t httpd__mix64(uint64_t x) {  /* splitmix64's finalizer */
    x ^= x >> 30; x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27; x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}
/* One request for key (k0, k1, k2) at now. 1: allowed; 0: over the limit, and *retry is
   the time until a request would pass. */
HTTPD__PRIVATE int httpd__rl_take(httpd__rl_table *t, uint64_t k0, uint64_t k1, uint32_t k2,
                                  uint64_t now, uint64_t T, uint64_t tau, uint64_t *retry) {
    uint64_t h = httpd__mix64(k0 ^ httpd__mix64(k1 ^ ((uint64_t)k2 << 32)));
    httpd__rl_slot *set = t->slot + (size_t)(h & (t->sets - 1)) * HTTPD__RL_WAYS, *e = NULL;
    httpd__rl_slot *victim = set;
    for (int i = 0; i < HTTPD__RL_WAYS; i++) {
        httpd__rl_slot *s = &set[i];
        if (s->tat && s->k0 == k0 && s->k1 == k1 && s->k2 == k2) { e = s; break; }
        if (s->tat < victim->tat) victim = s;
    }
    if (!e) {
        e = victim;
        e->k0 = k0; e->k1 = k1; e->k2 = k2; e->tat = 0;
    }
    uint64_t at = e->tat > now ? e->tat : now;
    if (at - now > tau) {                           /* (a new key never gets here) */
        *retry = at - now - tau;
        return 0;
    }
    e->tat = at + T;
    return 1;
}

#else  /* HTTPD_NO_MIDDLEWARE: no PROXY listener, no peer address is kept */
HTTPD__PRIVATE int httpd__proxy_parse(const char *b, size_t n, uint8_t addr[16], int *got) {
    (void)b; (void)n; (void)addr; (void)got;
    return -1;
}
HTTPD__PRIVATE void httpd__addr_from(uint8_t a[16], const struct sockaddr *sa) {
    (void)sa;
    memset(a, 0, 16);
}
#endif /* HTTPD_NO_MIDDLEWARE */

#ifndef HTTPD_NO_MULTIPART
/* ================================================================= >>multipart
   multipart/form-data, streamed (RFC 7578; syntax of RFC 2046 §5.1.1). The body is
     preamble "--" B pad CRLF part *( CRLF "--" B pad CRLF part ) CRLF "--" B "--" epilogue
   where part = header fields, CRLF, content. Content is scanned for the delimiter
   CRLF "--" B with memchr on CR; a delimiter cut by the end of a piece is remembered only
   as the count k of its bytes matched (they are the delimiter's own bytes, so nothing is
   copied, and on a mismatch they are handed out as content from delim itself; no CR
   occurs in delim after its first byte, so no match can start inside them). The preamble
   is scanned the same way as if a CRLF came before the body. A part's header block is
   copied into hbuf (its size is the cap), then parsed like request fields (token names,
   no obs-fold, CRLF only). Content-Disposition parameters are tokens or quoted strings;
   a quoted string ends at the next quote, with no backslash escapes: browsers (WHATWG
   HTML, multipart/form-data encoding) and curl percent-encode '"' as %22 and send '\'
   as is ("C:\dir\a.txt", a name ending in '\'), which RFC quoted-pairs would mangle or
   refuse. Content starts after the blank line that ends a header block, so an empty part
   is "headers CRLF CRLF" then the delimiter (what browsers, curl and Go send); a part
   cut straight after its header block is not one. Content over max_part_bytes is handed
   out up to the cap, then HTTPD_ERR_TOOLARGE, whatever the split. The parser keeps no
   pointer into the caller's data between calls. */
enum { HTTPD__MP_PREAMBLE, HTTPD__MP_AFTER, HTTPD__MP_DASH, HTTPD__MP_PAD, HTTPD__MP_LF,
       HTTPD__MP_HEADERS, HTTPD__MP_DATA, HTTPD__MP_EPILOGUE };

/* The next parameter of a header value at *pp (Content-Type, Content-Disposition):
   OWS ";" OWS token BWS "=" BWS ( token / quoted-string ) OWS. A quoted string ends at
   the next quote (backslashes are literal: see above). 1: *name and *val set, *pp after
   it; 0: the end (a trailing ';' is fine); -1: malformed. */
HTTPD__PRIVATE int httpd__param_next(const char **pp, const char *e, httpd_str *name,
                                     httpd_str *val) {
    const char *p = *pp;
    while (p < e && (*p == ' ' || *p == '\t')) p++;
    if (p == e) return 0;
    if (*p++ != ';') return -1;
    while (p < e && (*p == ' ' || *p == '\t')) p++;
    if (p == e) return 0;
    name->ptr = p;
    while (p < e && HTTPD__IS(*p, HTTPD__C_TCHAR)) p++;
    name->len = (size_t)(p - name->ptr);
    while (p < e && (*p == ' ' || *p == '\t')) p++;
    if (!name->len || p == e || *p++ != '=') return -1;
    while (p < e && (*p == ' ' || *p == '\t')) p++;
    if (p < e && *p == '"') {
        val->ptr = ++p;
        while (p < e && *p != '"') p++;
        if (p == e) return -1;                        /* unterminated */
        val->len = (size_t)(p++ - val->ptr);
    } else {
        val->ptr = p;
        while (p < e && HTTPD__IS(*p, HTTPD__C_TCHAR)) p++;
        val->len = (size_t)(p - val->ptr);
    }
    *pp = p;
    return 1;
}
/* The boundary parameter of a multipart Content-Type, or ptr NULL. Every parameter is
   checked, not only up to the boundary; two boundaries are ambiguous. */
HTTPD__PRIVATE httpd_str httpd__mp_boundary(httpd_str ct) {
    httpd_str none = { NULL, 0 }, found = { NULL, 0 }, n, v;
    const char *p = ct.ptr, *e = ct.ptr + ct.len;
    if (!p || ct.len < 10 || !httpd__ieq(p, "multipart/", 10)) return none;
    p += 10;
    while (p < e && HTTPD__IS(*p, HTTPD__C_TCHAR)) p++;          /* subtype */
    int rc;
    while ((rc = httpd__param_next(&p, e, &n, &v)) > 0) {
        if (!httpd__ieq2(n.ptr, n.len, "boundary", 8)) continue;
        /* 1 to 70 bchars (RFC 2046 §5.1.1), not ending in a space */
        if (found.ptr || !v.len || v.len > 70 || v.ptr[v.len - 1] == ' ') return none;
        for (size_t i = 0; i < v.len; i++) {
            char ch = v.ptr[i];
            if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z')
                  || (ch >= 'A' && ch <= 'Z') || (ch && strchr("'()+_,-./:=? ", ch))))
                return none;
        }
        found = v;
    }
    return rc < 0 ? none : found;
}
HTTPD_API int httpd_multipart_init(httpd_multipart *m, httpd_str content_type,
                                   const httpd_multipart_limits *lim, char *header_buf,
                                   size_t header_cap, httpd_part_fn fn, void *arg) {
    if (!m || !fn || !header_buf || header_cap < 2) return HTTPD_ERR_INVAL;
    httpd_str b = httpd__mp_boundary(content_type);
    if (!b.ptr) return HTTPD_ERR_INVAL;
    memset((void *)m, 0, sizeof *m);
    memcpy(m->delim, "\r\n--", 4);
    memcpy(m->delim + 4, b.ptr, b.len);
    m->dlen = (uint8_t)(4 + b.len);
    m->k = 2;                                /* as if the body began after a CRLF */
    m->state = HTTPD__MP_PREAMBLE;
    m->hbuf = header_buf;
    m->hcap = header_cap > UINT32_MAX ? UINT32_MAX : (uint32_t)header_cap;
    if (lim) m->lim = *lim;
    if (!m->lim.max_parts) m->lim.max_parts = 128;
    if (!m->lim.max_part_bytes) m->lim.max_part_bytes = UINT64_MAX;
    m->fn = fn;
    m->arg = arg;
    return 0;
}
/* Content of the current part: count it against the cap, hand it out. */
HTTPD__PRIVATE int httpd__mp_emit(httpd_multipart *m, const char *p, size_t n) {
    /* over the cap: hand out the content up to it, then fail, so that what the callback
       sees does not depend on how the body was split */
    uint64_t room = m->lim.max_part_bytes - m->part.size;
    int over = n > room;
    if (over) n = (size_t)room;
    if (n) {
        m->part.size += n;
        int rc = m->fn(m->arg, HTTPD_PART_DATA, &m->part, p, n);
        if (rc < 0) return rc;
    }
    return over ? HTTPD_ERR_TOOLARGE : 0;
}
/* Scans for the delimiter from *pp, handing out content in DATA (the preamble is
   dropped). 1: found, *pp after it; 0: input used up; < 0: error. */
HTTPD__PRIVATE int httpd__mp_scan(httpd_multipart *m, const char **pp, const char *e) {
    const char *p = *pp, *d = m->delim;
    int data = m->state == HTTPD__MP_DATA, rc;
    if (m->k) {                              /* a delimiter cut by the previous piece */
        while (p < e && m->k < m->dlen && *p == d[m->k]) { p++; m->k++; }
        if (m->k == m->dlen) { m->k = 0; *pp = p; return 1; }
        if (p == e) { *pp = p; return 0; }
        if (data && (rc = httpd__mp_emit(m, d, m->k)) < 0) return rc;   /* it was content */
        m->k = 0;
    }
    const char *s = p;                       /* content from here */
    for (;;) {
        const char *cr = (const char *)memchr(p, '\r', (size_t)(e - p));
        if (!cr) break;
        size_t n = HTTPD__MIN((size_t)(e - cr), (size_t)m->dlen);
        if (memcmp(cr, d, n) == 0) {
            if (data && (rc = httpd__mp_emit(m, s, (size_t)(cr - s))) < 0) return rc;
            *pp = cr + n;
            if (n == m->dlen) return 1;
            m->k = (uint8_t)n;               /* cut: wait for the rest */
            return 0;
        }
        p = cr + 1;
    }
    if (data && (rc = httpd__mp_emit(m, s, (size_t)(e - s))) < 0) return rc;
    *pp = e;
    return 0;
}
/* The name and filename parameters of a Content-Disposition value. */
HTTPD__PRIVATE int httpd__mp_disposition(const char *p, const char *e, httpd_part *pt) {
    httpd_str n, v;
    int rc;
    while (p < e && *p != ';') p++;          /* skip the disposition type */
    while ((rc = httpd__param_next(&p, e, &n, &v)) > 0) {
        if (httpd__ieq2(n.ptr, n.len, "name", 4)) pt->name = v;
        else if (httpd__ieq2(n.ptr, n.len, "filename", 8)) pt->filename = v;
    }
    return rc < 0 ? HTTPD_ERR_INVAL : 0;
}
/* The header block hbuf[0..hlen) is complete: parse it, start the part. */
HTTPD__PRIVATE int httpd__mp_headers(httpd_multipart *m) {
    const char *p = m->hbuf, *e = m->hbuf + m->hlen - 2;  /* without the final CRLF */
    httpd_part *pt = &m->part;
    memset(pt, 0, sizeof *pt);
    pt->index = m->nparts - 1;
    pt->headers = m->hdrs;
    while (p < e) {                          /* the block ends in CRLF CRLF (or is CRLF) */
        if (pt->header_count == HTTPD_MULTIPART_MAX_HEADERS) return HTTPD_ERR_TOOLARGE;
        httpd_header *h = &m->hdrs[pt->header_count];
        if (httpd__field_line(&p, m->hbuf + m->hlen, h) != 0) return HTTPD_ERR_INVAL;
        pt->header_count++;
        if (httpd__ieq2(h->name.ptr, h->name.len, "content-type", 12)) {
            pt->content_type = h->value;
        } else if (httpd__ieq2(h->name.ptr, h->name.len, "content-disposition", 19)) {
            int rc = httpd__mp_disposition(h->value.ptr, h->value.ptr + h->value.len, pt);
            if (rc < 0) return rc;
        }
    }
    return 0;
}
HTTPD_API int httpd_multipart_feed(httpd_multipart *m, const void *data, size_t len) {
    const char *p = (const char *)data, *e = p + len;
    if (!m || (len && !data)) return HTTPD_ERR_INVAL;
    int rc = 0;
    while (p < e && m->rc == 0) {
        switch (m->state) {
        case HTTPD__MP_PREAMBLE: case HTTPD__MP_DATA:
            rc = httpd__mp_scan(m, &p, e);
            if (rc <= 0) break;
            rc = 0;
            if (m->state == HTTPD__MP_DATA)
                rc = m->fn(m->arg, HTTPD_PART_END, &m->part, NULL, 0);
            m->state = HTTPD__MP_AFTER;
            break;
        case HTTPD__MP_AFTER:                 /* "--" ends it all; else pad CRLF */
            if (*p == '-') m->state = HTTPD__MP_DASH;
            else if (*p == ' ' || *p == '\t') m->state = HTTPD__MP_PAD;
            else if (*p == '\r') m->state = HTTPD__MP_LF;
            else rc = HTTPD_ERR_INVAL;
            p++;
            break;
        case HTTPD__MP_DASH:
            if (*p++ != '-') { rc = HTTPD_ERR_INVAL; break; }
            m->state = HTTPD__MP_EPILOGUE;
            m->rc = HTTPD_MULTIPART_DONE;
            break;
        case HTTPD__MP_PAD:
            if (*p == '\r') m->state = HTTPD__MP_LF;
            else if (*p != ' ' && *p != '\t') rc = HTTPD_ERR_INVAL;
            p++;
            break;
        case HTTPD__MP_LF:
            if (*p++ != '\n') { rc = HTTPD_ERR_INVAL; break; }
            if (m->nparts == m->lim.max_parts) { rc = HTTPD_ERR_TOOLARGE; break; }
            m->nparts++;
            m->hlen = 0;
            m->state = HTTPD__MP_HEADERS;
            break;
        case HTTPD__MP_HEADERS:               /* up to CRLF CRLF, or a lone CRLF */
            while (p < e) {
                if (m->hlen == m->hcap) { rc = HTTPD_ERR_TOOLARGE; break; }
                char ch = m->hbuf[m->hlen++] = *p++;
                if (ch != '\n') continue;
                if (m->hlen < 2 || m->hbuf[m->hlen - 2] != '\r') { rc = HTTPD_ERR_INVAL; break; }
                if ((m->hlen == 2 && m->hbuf[0] == '\r')
                    || (m->hlen >= 4 && !memcmp(m->hbuf + m->hlen - 4, "\r\n\r\n", 4))) {
                    if ((rc = httpd__mp_headers(m)) == 0)
                        rc = m->fn(m->arg, HTTPD_PART_BEGIN, &m->part, NULL, 0);
                    m->state = HTTPD__MP_DATA;
                    break;
                }
            }
            break;
        default:                              /* the epilogue: ignored */
            p = e;
            break;
        }
        if (rc < 0) m->rc = rc;
    }
    return m->rc;
}
HTTPD_API int httpd_multipart_end(const httpd_multipart *m) {
    if (!m) return HTTPD_ERR_INVAL;
    return m->rc == HTTPD_MULTIPART_DONE ? 0 : m->rc < 0 ? m->rc : HTTPD_ERR_INVAL;
}

#endif /* HTTPD_NO_MULTIPART */

#ifndef HTTPD_NO_WEBSOCKET
/* ====================================================================== >>sha1
   SHA-1 (FIPS 180-4) and base64 (RFC 4648 §4), only for the WebSocket handshake
   (RFC 6455 §4.2.2: Sec-WebSocket-Accept = base64(SHA-1(key + GUID))). SHA-1 is broken
   for signatures, which is not how the handshake uses it. Bytes are assembled big-endian
   by shifts, never by type punning. Pure functions, any thread. */
typedef struct httpd__sha1 {
    uint32_t h[5];
    uint64_t len;                  /* bytes hashed so far */
    unsigned char blk[64];
} httpd__sha1;
HTTPD__PRIVATE void httpd__sha1_init(httpd__sha1 *c) {
    static const uint32_t iv[5] = { 0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u,
                                    0xC3D2E1F0u };
    memcpy(c->h, iv, sizeof iv);
    c->len = 0;
}
#define HTTPD__ROL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))
HTTPD__PRIVATE void httpd__sha1_block(httpd__sha1 *c, const unsigned char *p) {
    uint32_t w[80], a = c->h[0], b = c->h[1], d = c->h[2], e = c->h[3], f = c->h[4];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16
             | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 80; i++) w[i] = HTTPD__ROL(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    for (int i = 0; i < 80; i++) {     /* a b d e f stand for the standard's a b c d e */
        uint32_t k, fn;
        if (i < 20)      { fn = (b & d) | (~b & e);          k = 0x5A827999u; }
        else if (i < 40) { fn = b ^ d ^ e;                   k = 0x6ED9EBA1u; }
        else if (i < 60) { fn = (b & d) | (b & e) | (d & e); k = 0x8F1BBCDCu; }
        else             { fn = b ^ d ^ e;                   k = 0xCA62C1D6u; }
        uint32_t t = HTTPD__ROL(a, 5) + fn + f + k + w[i];
        f = e; e = d; d = HTTPD__ROL(b, 30); b = a; a = t;
    }
    c->h[0] += a; c->h[1] += b; c->h[2] += d; c->h[3] += e; c->h[4] += f;
}
#undef HTTPD__ROL
HTTPD__PRIVATE void httpd__sha1_update(httpd__sha1 *c, const void *data, size_t n) {
    const unsigned char *p = (const unsigned char *)data;
    size_t fill = (size_t)(c->len & 63);
    c->len += n;
    while (n) {
        size_t k = HTTPD__MIN(n, 64 - fill);
        memcpy(c->blk + fill, p, k);
        fill += k; p += k; n -= k;
        if (fill == 64) { httpd__sha1_block(c, c->blk); fill = 0; }
    }
}
HTTPD__PRIVATE void httpd__sha1_final(httpd__sha1 *c, unsigned char out[20]) {
    uint64_t bits = c->len * 8;
    unsigned char pad[72] = { 0x80 };
    size_t fill = (size_t)(c->len & 63), np = (fill < 56 ? 56 : 120) - fill;
    for (int i = 0; i < 8; i++) pad[np + (size_t)i] = (unsigned char)(bits >> (56 - 8 * i));
    httpd__sha1_update(c, pad, np + 8);
    for (int i = 0; i < 20; i++) out[i] = (unsigned char)(c->h[i / 4] >> (24 - 8 * (i % 4)));
}
/* base64 of in[0..n) into out (4 * ceil(n / 3) bytes, no NUL); returns the length. */
HTTPD__PRIVATE size_t httpd__base64(char *out, const unsigned char *in, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0)
                   | (i + 2 < n ? in[i + 2] : 0);
        out[o++] = tab[v >> 18]; out[o++] = tab[v >> 12 & 63];
        out[o++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? tab[v & 63] : '=';
    }
    return o;
}
/* Is s a base64 encoding of exactly 16 bytes (RFC 6455 §4.1: the key is a random 16-byte
   nonce)? 22 alphabet characters, a last one whose low 4 bits are zero, then "==". */
HTTPD__PRIVATE int httpd__ws_key_ok(httpd_str s) {
    if (!s.ptr || s.len != 24 || s.ptr[22] != '=' || s.ptr[23] != '=') return 0;
    for (size_t i = 0; i < 22; i++) {
        char ch = s.ptr[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')
              || ch == '+' || ch == '/'))
            return 0;
    }
    return strchr("AQgw", s.ptr[21]) != NULL;     /* the values 0, 16, 32, 48 */
}
/* Sec-WebSocket-Accept for key: 28 bytes into out. */
HTTPD__PRIVATE void httpd__ws_accept(char out[28], httpd_str key) {
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";   /* RFC 6455 §1.3 */
    unsigned char md[20];
    httpd__sha1 c;
    httpd__sha1_init(&c);
    httpd__sha1_update(&c, key.ptr, key.len);
    httpd__sha1_update(&c, guid, sizeof guid - 1);
    httpd__sha1_final(&c, md);
    httpd__base64(out, md, 20);
}

/* ================================================================== >>ws_frame
   The WebSocket frame decoder (RFC 6455 §5), sans-I/O: fed the bytes at hand, it returns
   one event at a time and how many bytes it used; the caller keeps the rest and offers
   them again with more appended. Resumable at any byte boundary: a frame head (2-14
   bytes) and a control frame (at most 125 bytes of payload, §5.5) are used only when
   whole (waiting costs re-reading at most 139 bytes), while data payload is used as it
   comes, unmasked in place (8 bytes at a time) and never copied or scanned twice. Text
   is checked as UTF-8 (RFC 3629) across frames and pieces, failing on the first bad
   byte. Strict, as §5.2-§5.5 require of a server: client frames are masked, no RSV bit
   (no extension is ever negotiated), no reserved opcode, control frames are whole and
   short, continuation only inside a fragmented message and data frames not inside one,
   lengths in their shortest form with the top bit clear. Caps: frame and message bytes,
   checked from the head, before any payload is read. Errors are close codes: 1002
   protocol, 1007 bad UTF-8, 1009 too big. Also the frame writer (server frames: unmasked).
   Owner: one connection; no allocation. */
enum { HTTPD__WS_CONT = 0, HTTPD__WS_PING = 9, HTTPD__WS_PONG = 10, HTTPD__WS_CLOSEF = 8 };
enum { HTTPD__WSE_NONE, HTTPD__WSE_DATA, HTTPD__WSE_CTRL };
typedef struct httpd__wsf {
    uint64_t left;                 /* payload bytes of the current data frame to come   */
    uint64_t msg_len;              /* bytes of the current message so far               */
    uint64_t max_msg, max_frame;   /* caps (UINT64_MAX: none)                           */
    uint8_t  mask[4];
    uint8_t  mpos;                 /* payload offset mod 4 (mask phase)                 */
    uint8_t  op;                   /* opcode of the message in progress; 0: none        */
    uint8_t  fin;                  /* the current data frame ends its message           */
    uint8_t  in_payload;           /* between a data frame's head and its last byte     */
    uint8_t  utf8;                 /* validator state for a text message (0: boundary)  */
} httpd__wsf;
typedef struct httpd__wsev {
    int         kind;              /* HTTPD__WSE_*                                      */
    int         op;                /* DATA: the message's type; CTRL: 8, 9 or 10        */
    int         fin;               /* DATA: this piece ends the message                 */
    int         whole;             /* DATA: the piece is the whole message              */
    char       *p;                 /* unmasked payload, in the caller's buffer          */
    size_t      n;
} httpd__wsev;

/* UTF-8 (RFC 3629 §4, as Unicode's Table 3-7): state 0 between characters, 1-3 that many
   continuation bytes due, 4-7 the second byte of E0 (A0..BF), ED (80..9F: no surrogates),
   F0 (90..BF: no overlong), F4 (80..8F: not above U+10FFFF); 8 failed (sticky). Returns
   the new state; *bad gets the offset of the first invalid byte. */
enum { HTTPD__U8_BAD = 8 };
HTTPD__PRIVATE unsigned httpd__utf8(unsigned st, const unsigned char *p, size_t n, size_t *bad) {
    size_t i = 0;
    while (i < n) {
        if (st == 0) {
            while (n - i >= 8) {           /* runs of ASCII, 8 bytes at a time */
                uint64_t v;
                memcpy(&v, p + i, 8);
                if (v & 0x8080808080808080ull) break;
                i += 8;
            }
            if (i == n) break;
            unsigned c = p[i++];
            if (c < 0x80) continue;
            st = c < 0xC2 ? 8u : c < 0xE0 ? 1u : c == 0xE0 ? 4u : c == 0xED ? 5u : c < 0xF0 ? 2u
               : c == 0xF0 ? 6u : c < 0xF4 ? 3u : c == 0xF4 ? 7u : 8u;
        } else {
            unsigned c = p[i++];
            int ok = st == 4 ? (c >= 0xA0 && c <= 0xBF) : st == 5 ? (c >= 0x80 && c <= 0x9F)
                   : st == 6 ? (c >= 0x90 && c <= 0xBF) : st == 7 ? (c >= 0x80 && c <= 0x8F)
                   : (c & 0xC0) == 0x80;
            st = !ok ? 8u : st <= 3 ? st - 1 : st <= 5 ? 1u : 2u;
        }
        if (st == HTTPD__U8_BAD) { if (bad) *bad = i - 1; return st; }
    }
    return st;
}
/* XORs p[0..n) with the mask from phase *pos (RFC 6455 §5.3), 8 bytes at a time. */
HTTPD__PRIVATE void httpd__ws_unmask(unsigned char *p, size_t n, const uint8_t mask[4],
                                     uint8_t *pos) {
    size_t i = 0;
    unsigned k = *pos;
    if (n >= 16) {
        unsigned char m8[8];
        for (int j = 0; j < 8; j++) m8[j] = mask[(k + (unsigned)j) & 3];
        uint64_t m;
        memcpy(&m, m8, 8);                /* byte order does not matter: both sides memcpy */
        for (; n - i >= 8; i += 8) {
            uint64_t v;
            memcpy(&v, p + i, 8);
            v ^= m;
            memcpy(p + i, &v, 8);
        }
    }
    for (; i < n; i++) p[i] ^= mask[(k + (unsigned)i) & 3];
    *pos = (uint8_t)((k + n) & 3);
}
/* Valid close codes to receive (RFC 6455 §7.4.1-2 and the IANA registry): 1000-1003,
   1007-1014, 3000-4999; 1004-1006 and 1015 are never sent on the wire. */
HTTPD__PRIVATE int httpd__ws_code_ok(unsigned code) {
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014)
        || (code >= 3000 && code <= 4999);
}
/* Decodes the next event from b[0..n). Returns bytes used (ev->kind NONE with 0: need
   more bytes), or minus a close code (1002, 1007, 1009). Control frames come whole, data
   payload in pieces (each as far as it reaches in b). */
HTTPD__PRIVATE long httpd__wsf_next(httpd__wsf *f, char *b, size_t n, httpd__wsev *ev) {
    const unsigned char *u = (const unsigned char *)b;
    size_t used = 0;
    ev->kind = HTTPD__WSE_NONE;
    ev->fin = ev->whole = 0;
    ev->p = NULL;                  /* (always set: compilers cannot see they are unused) */
    ev->n = 0;
    if (!f->in_payload) {
        if (n < 2) return 0;
        unsigned fin = u[0] >> 7, op = u[0] & 15, len7 = u[1] & 127;
        if ((u[0] & 0x70) || !(u[1] & 0x80)) return -1002;     /* RSV bits, unmasked (§5.1) */
        if (op >= 8) {
            if (op > 10 || !fin || len7 > 125) return -1002;   /* §5.5: short, unfragmented */
        } else if (op > 2 || (op == 0) != (f->op != 0)) {
            return -1002;            /* reserved, continuation with nothing to continue, or a
                                        new message inside a fragmented one (§5.4) */
        }
        size_t hl = 6 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0);
        if (n < hl) return 0;
        uint64_t len = len7;
        if (len7 == 126) {
            len = (uint64_t)u[2] << 8 | u[3];
            if (len < 126) return -1002;                       /* not minimal (§5.2) */
        } else if (len7 == 127) {
            len = 0;
            for (int i = 0; i < 8; i++) len = len << 8 | u[2 + i];
            if (len >> 63 || len <= 0xFFFF) return -1002;     /* top bit, not minimal */
        }
        const unsigned char *mk = u + hl - 4;
        if (op >= 8) {
            if (n < hl + len) return 0;                        /* whole, or not yet */
            uint8_t pos = 0;
            httpd__ws_unmask((unsigned char *)b + hl, (size_t)len, mk, &pos);
            ev->kind = HTTPD__WSE_CTRL; ev->op = (int)op;
            ev->p = b + hl; ev->n = (size_t)len;
            return (long)(hl + len);
        }
        if (op) { f->op = (uint8_t)op; f->msg_len = 0; f->utf8 = 0; }
        if (len > f->max_frame || len > f->max_msg - f->msg_len) return -1009;  /* §7.4.1 */
        memcpy(f->mask, mk, 4);
        f->mpos = 0;
        f->fin = (uint8_t)fin;
        f->left = len;
        f->in_payload = 1;
        used = hl;                         /* the payload follows in the same call */
        b += hl; n -= hl;
    }
    size_t k = (size_t)HTTPD__MIN((uint64_t)n, f->left);
    if (k == 0 && f->left) return (long)used;
    httpd__ws_unmask((unsigned char *)b, k, f->mask, &f->mpos);
    if (f->op == 1) {
        f->utf8 = (uint8_t)httpd__utf8(f->utf8, (const unsigned char *)b, k, NULL);
        if (f->utf8 == HTTPD__U8_BAD) return -1007;            /* fail fast (§8.1) */
    }
    f->left -= k;
    f->msg_len += k;
    ev->kind = HTTPD__WSE_DATA; ev->op = f->op; ev->p = b; ev->n = k;
    if (f->left == 0) {
        f->in_payload = 0;
        if (f->fin) {
            if (f->utf8) return -1007;                         /* a character cut short */
            ev->fin = 1;
            ev->whole = f->msg_len == k;
            f->op = 0;
        }
    }
    if (ev->kind == HTTPD__WSE_DATA && !k && !ev->fin) ev->kind = HTTPD__WSE_NONE;
    return (long)(used + k);
}
/* A server frame head (FIN set, unmasked) for a payload of len bytes: 2, 4 or 10 bytes. */
HTTPD__PRIVATE size_t httpd__ws_head(unsigned char *h, int op, uint64_t len) {
    h[0] = (unsigned char)(0x80 | op);
    if (len < 126) { h[1] = (unsigned char)len; return 2; }
    if (len <= 0xFFFF) {
        h[1] = 126; h[2] = (unsigned char)(len >> 8); h[3] = (unsigned char)len;
        return 4;
    }
    h[1] = 127;
    for (int i = 0; i < 8; i++) h[2 + i] = (unsigned char)(len >> (56 - 8 * i));
    return 10;
}

#endif /* HTTPD_NO_WEBSOCKET */

/* ====================================================================== >>pool
   The blocking-task pool (spawn_blocking): a few threads and one bounded FIFO queue,
   shared by all workers. A task's work runs on a pool thread; its completion is handed
   to a function the owner chose (for requests: the worker's mailbox + eventfd, so `done`
   runs back on the connection's own loop; nothing ever locks a connection). A task
   cancelled before it starts is skipped; a running one sees httpd_task_cancelled().
   Owner: the server; the queue lock is the only lock on this path. */
enum { HTTPD__TASK_REQ, HTTPD__TASK_BACKGROUND, HTTPD__TASK_POST, HTTPD__TASK_WS };
struct httpd_task {
    struct httpd_task   *next;
    httpd_work_fn        work;
    void                *arg;
    void               (*complete)(struct httpd_task *t);   /* on the pool thread */
    HTTPD__ATOMIC(int)   cancelled;
    int                  kind;
    struct httpd__req   *req;          /* HTTPD__TASK_REQ                          */
    struct httpd__worker *w;           /* whose mailbox gets it back               */
    httpd_done_fn        done;
    httpd_post_fn        post;         /* HTTPD__TASK_POST                         */
    httpd_conn_id        conn;
    struct httpd__taskpool *pool;      /* where it returns (its allocator, its spares) */
};
typedef struct httpd__taskpool {
    httpd__mutex mu;
    httpd__cond  cv;
    httpd_task     *head, *tail;
    uint32_t        queued, cap;
    uint64_t        shed;          /* pushes refused: the queue was full (metrics)     */
    HTTPD__ATOMIC(uint32_t) running; /* tasks in work() now (metrics)                  */
    int             stopping, nthreads, inited;
    httpd__thread      *threads;
    void           *alloc_ctx;
    httpd__mutex    spare_mu;      /* preallocate: guards spare (any thread frees)     */
    httpd_task     *spare;         /* preallocate: unused task objects                  */
    httpd_task     *store;         /* preallocate: their one block; NULL: malloc each   */
} httpd__taskpool;

/* A task object: from the spares made at start (desc.preallocate; none left: NULL, which
   the callers answer as a full queue) or from the allocator. Any thread. */
HTTPD__PRIVATE httpd_task *httpd__task_new(httpd__taskpool *p, int kind) {
    httpd_task *t;
    if (p->store) {
        httpd__lock(&p->spare_mu);
        if ((t = p->spare) != NULL) p->spare = t->next;
        httpd__unlock(&p->spare_mu);
    } else {
        t = (httpd_task *)HTTPD_MALLOC(p->alloc_ctx, sizeof *t);
    }
    if (!t) return NULL;
    memset((void *)t, 0, sizeof *t);
    t->kind = kind;
    t->pool = p;
    return t;
}
HTTPD__PRIVATE void httpd__task_free(httpd_task *t) {
    httpd__taskpool *p = t->pool;
    if (!p->store) { HTTPD_FREE(p->alloc_ctx, t); return; }
    httpd__lock(&p->spare_mu);
    t->next = p->spare;
    p->spare = t;
    httpd__unlock(&p->spare_mu);
}
/* desc.preallocate: n task objects, made now in one block (after httpd__taskpool_start);
   none when nothing can use one (no task, post or WebSocket send). */
#if defined(HTTPD_NO_TASKS) && defined(HTTPD_NO_WEBSOCKET)
#  define httpd__taskpool_prealloc(p, n) ((void)(p), (void)(n), 0)
#  define httpd__taskpool_release(p) ((void)(p))
#else
HTTPD__PRIVATE int httpd__taskpool_prealloc(httpd__taskpool *p, uint32_t n) {
    p->store = (httpd_task *)HTTPD_MALLOC(p->alloc_ctx, (size_t)n * sizeof *p->store);
    if (!p->store) return HTTPD_ERR_NOMEM;
    httpd__mutex_init(&p->spare_mu);
    for (uint32_t i = 0; i < n; i++) { p->store[i].next = p->spare; p->spare = &p->store[i]; }
    return 0;
}
/* After the threads are gone and every task came back. */
HTTPD__PRIVATE void httpd__taskpool_release(httpd__taskpool *p) {
    if (!p->store) return;
    httpd__mutex_destroy(&p->spare_mu);
    HTTPD_FREE(p->alloc_ctx, p->store);
    p->store = p->spare = NULL;
}
#endif

HTTPD_API int httpd_task_cancelled(const httpd_task *t) {
    return t ? HTTPD__LOAD(&((httpd_task *)(uintptr_t)t)->cancelled) != 0 : 1;
}
#ifndef HTTPD_NO_TASKS
/* Takes one task off the queue (waiting for one if `wait`), runs it and completes it.
   0: nothing to run (not waiting, or stopping with the queue drained). */
HTTPD__PRIVATE int httpd__taskpool_step(httpd__taskpool *p, int wait) {
    httpd__lock(&p->mu);
    while (wait && !p->head && !p->stopping) httpd__cond_wait(&p->cv, &p->mu);
    httpd_task *t = p->head;
    if (!t) { httpd__unlock(&p->mu); return 0; }
    p->head = t->next;
    if (!p->head) p->tail = NULL;
    p->queued--;
    httpd__unlock(&p->mu);
    t->next = NULL;
    /* a request task cancelled while queued is skipped; background work runs (with the
       flag set) so that it can release what it holds */
    if (t->kind != HTTPD__TASK_REQ || !HTTPD__LOAD(&t->cancelled)) {
        HTTPD__ADJ(&p->running, 1u);
        t->work(t->arg, t);
        HTTPD__ADJ(&p->running, (uint32_t)-1);
    }
    t->complete(t);
    return 1;
}
HTTPD__PRIVATE void *httpd__taskpool_main(void *arg) {
    while (httpd__taskpool_step((httpd__taskpool *)arg, 1)) {}
    return NULL;
}
HTTPD__PRIVATE int httpd__taskpool_push(httpd__taskpool *p, httpd_task *t) {
    int rc = 0;
    if (!p->inited) return HTTPD_ERR_STATE;
    httpd__lock(&p->mu);
    if (p->stopping) rc = HTTPD_ERR_STATE;
    else if (p->queued >= p->cap) { rc = HTTPD_ERR_TOOLARGE; p->shed++; } /* full: fail fast */
    else {
        if (p->tail) p->tail->next = t; else p->head = t;
        p->tail = t;
        p->queued++;
        httpd__cond_signal(&p->cv);
    }
    httpd__unlock(&p->mu);
    return rc;
}
/* Cancels what waits, lets the threads finish it, joins them. */
HTTPD__PRIVATE void httpd__taskpool_stop(httpd__taskpool *p) {
    if (!p->inited) return;
    httpd__lock(&p->mu);
    p->stopping = 1;
    for (httpd_task *t = p->head; t; t = t->next) HTTPD__STORE(&t->cancelled, 1);
    httpd__cond_broadcast(&p->cv);
    httpd__unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++) httpd__thread_join(p->threads[i]);
    p->nthreads = 0;
}
HTTPD__PRIVATE void httpd__taskpool_free(httpd__taskpool *p) {
    if (!p->inited) return;
    httpd__taskpool_stop(p);
    httpd__mutex_destroy(&p->mu);
    httpd__cond_destroy(&p->cv);
    HTTPD_FREE(p->alloc_ctx, p->threads);
    p->inited = 0;
}
/* Threads start with every signal blocked (the caller has them blocked). */
HTTPD__PRIVATE int httpd__taskpool_start(httpd__taskpool *p, int n, uint32_t cap, void *ctx) {
    memset(p, 0, sizeof *p);
    p->cap = cap;
    p->alloc_ctx = ctx;
    p->threads = (httpd__thread *)HTTPD_MALLOC(ctx, (size_t)n * sizeof *p->threads);
    if (!p->threads) return HTTPD_ERR_NOMEM;
    httpd__mutex_init(&p->mu);
    httpd__cond_init(&p->cv);
    p->inited = 1;
#ifdef HTTPD_NO_THREADS
    n = 0;                      /* no thread: the loop runs the queue between its turns */
#endif
    for (int i = 0; i < n; i++) {
        if (httpd__thread_start(&p->threads[i], httpd__taskpool_main, p)) return HTTPD_ERR_SYS;
        p->nthreads = i + 1;
    }
    return 0;
}

#else  /* HTTPD_NO_TASKS: no pool; httpd_defer, httpd_submit and httpd_post are left out */
HTTPD__PRIVATE int httpd__taskpool_step(httpd__taskpool *p, int wait) {
    (void)p; (void)wait;
    return 0;
}
HTTPD__PRIVATE void httpd__taskpool_free(httpd__taskpool *p) { (void)p; }
HTTPD__PRIVATE int httpd__taskpool_start(httpd__taskpool *p, int n, uint32_t cap, void *ctx) {
    (void)n; (void)cap;
    p->alloc_ctx = ctx;      /* WebSocket sends still carry task objects (p is zeroed) */
    return 0;
}
#endif /* HTTPD_NO_TASKS */

/* ====================================================================== >>poll
   The event backend's interface; one of >>poll_epoll, >>poll_kqueue, >>poll_poll
   implements it and nothing outside these blocks knows which:
     httpd__poll_clear(p)                 a poller that owns nothing yet (free is safe)
     httpd__poll_init(p, alloc_ctx)       0 or HTTPD_ERR_SYS / HTTPD_ERR_NOMEM
     httpd__poll_free(p)
     httpd__poll_add(p, fd, ud, kind)     HTTPD__PK_CONN: a connection, read and write
                                          interest; HTTPD__PK_LISTEN: a listener (one
                                          worker woken per connection where the system
                                          can); HTTPD__PK_WAKE: a wake-up descriptor
     httpd__poll_del(p, fd)               a listener or wake-up descriptor leaves
     httpd__poll_forget(p, fd)            a connection is about to be closed
     httpd__poll_want(p, fd, want)        a connection's interest now (HTTPD__IO_R|W)
     httpd__poll_wait(p, ev, cap, ms)     events (0 on EINTR), HTTPD_ERR_SYS
     httpd__poll_ud(e), httpd__poll_bits(e)   an event's user data and HTTPD__IO_* bits
   epoll and kqueue are edge-triggered for connections: the connection layer remembers
   readiness itself (F_READABLE, F_WBLOCKED), so want and forget cost nothing there
   (HTTPD__POLL_LEVEL is 0 and the calls are compiled out). poll() is level-triggered:
   there want() keeps POLLIN only while the connection would read and has not seen its
   socket readable, POLLOUT only while a write is blocked, so that a paused connection
   (body backpressure, a held request, a task) makes no busy loop.
   Wake-ups (httpd__wakefd): an eventfd on Linux, a non-blocking pipe elsewhere; signal
   writes one (from any thread, async-signal-safe), drain empties it. */
enum { HTTPD__IO_R = 1, HTTPD__IO_W = 2, HTTPD__IO_HUP = 4, HTTPD__IO_ERR = 8 };
enum { HTTPD__PK_CONN, HTTPD__PK_LISTEN, HTTPD__PK_WAKE };
typedef struct httpd__wakefd { int rd, wr; } httpd__wakefd;  /* rd == wr for an eventfd */

HTTPD__PRIVATE int httpd__cloexec_nonblock(int fd) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return -1;
    return fcntl(fd, F_SETFD, FD_CLOEXEC);
}
HTTPD__PRIVATE int httpd__wakefd_open(httpd__wakefd *k) {
#if HTTPD__LINUX
    k->rd = k->wr = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return k->rd < 0 ? HTTPD_ERR_SYS : 0;
#else
    int fds[2];
    k->rd = k->wr = -1;
    if (pipe(fds) < 0) return HTTPD_ERR_SYS;
    if (httpd__cloexec_nonblock(fds[0]) < 0 || httpd__cloexec_nonblock(fds[1]) < 0) {
        close(fds[0]);
        close(fds[1]);
        return HTTPD_ERR_SYS;
    }
    k->rd = fds[0];
    k->wr = fds[1];
    return 0;
#endif
}
HTTPD__PRIVATE void httpd__wakefd_close(httpd__wakefd *k) {
    if (k->wr >= 0 && k->wr != k->rd) close(k->wr);
    if (k->rd >= 0) close(k->rd);
    k->rd = k->wr = -1;
}
HTTPD__PRIVATE void httpd__wakefd_signal(const httpd__wakefd *k) {
    uint64_t one = 1;            /* a pipe takes the first byte: one is enough to wake */
    if (write(k->wr, &one, HTTPD__LINUX ? sizeof one : 1) < 0) { /* full: awake already */ }
}
HTTPD__PRIVATE void httpd__wakefd_drain(const httpd__wakefd *k) {
    uint64_t v[8];
#if HTTPD__LINUX
    if (read(k->rd, v, sizeof v[0]) < 0) { /* EAGAIN: nothing pending */ }
#else
    while (read(k->rd, v, sizeof v) == (ssize_t)sizeof v) {}   /* level-triggered: empty */
#endif
}
/* Socket reads and writes of connections. The libc wrappers are thread cancellation
   points, which in a threaded process costs two atomic read-modify-writes per call; the
   workers are never cancelled, so on Linux the system calls are made directly. */
HTTPD__PRIVATE ssize_t httpd__io_read(int fd, void *p, size_t n) {
#if HTTPD__LINUX && defined(SYS_read)
    return (ssize_t)syscall(SYS_read, fd, p, n);
#else
    return read(fd, p, n);
#endif
}
HTTPD__PRIVATE ssize_t httpd__io_send(int fd, const void *p, size_t n, int flags) {
#if HTTPD__LINUX && defined(SYS_sendto)
    return (ssize_t)syscall(SYS_sendto, fd, p, n, flags, NULL, 0);
#else
    return send(fd, p, n, flags);
#endif
}

#if defined(HTTPD_BACKEND_EPOLL)
/* ================================================================ >>poll_epoll
   Linux. Connections are registered once, edge-triggered for read and write (no
   epoll_ctl per request). Listeners are level-triggered with EPOLLEXCLUSIVE so that one
   connection wakes one worker. */
#define HTTPD__POLL_LEVEL 0
typedef struct httpd__poll { int fd; } httpd__poll;
typedef struct epoll_event httpd__io_event;

HTTPD__PRIVATE void httpd__poll_clear(httpd__poll *p) { p->fd = -1; }
HTTPD__PRIVATE int httpd__poll_init(httpd__poll *p, void *alloc_ctx) {
    (void)alloc_ctx;
    p->fd = epoll_create1(EPOLL_CLOEXEC);
    return p->fd < 0 ? HTTPD_ERR_SYS : 0;
}
HTTPD__PRIVATE void httpd__poll_free(httpd__poll *p) {
    if (p->fd >= 0) close(p->fd);
    p->fd = -1;
}
/* desc.preallocate: the kernel keeps the interest set; nothing to make in advance. */
HTTPD__PRIVATE int httpd__poll_reserve(httpd__poll *p, int nreg, int nconns) {
    (void)p; (void)nreg; (void)nconns;
    return 0;
}
HTTPD__PRIVATE int httpd__poll_add(httpd__poll *p, int fd, void *ud, int kind) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.data.ptr = ud;
    ev.events = kind == HTTPD__PK_CONN ? (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)
              : kind == HTTPD__PK_LISTEN ? (EPOLLIN | EPOLLEXCLUSIVE) : EPOLLIN;
    return epoll_ctl(p->fd, EPOLL_CTL_ADD, fd, &ev) < 0 ? HTTPD_ERR_SYS : 0;
}
HTTPD__PRIVATE int httpd__poll_del(httpd__poll *p, int fd) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    return epoll_ctl(p->fd, EPOLL_CTL_DEL, fd, &ev) < 0 ? HTTPD_ERR_SYS : 0;
}
/* close() takes the registration away; interest never changes (edge-triggered) */
HTTPD__PRIVATE void httpd__poll_forget(httpd__poll *p, int fd) { (void)p; (void)fd; }
HTTPD__PRIVATE void httpd__poll_want(httpd__poll *p, int fd, unsigned want) {
    (void)p; (void)fd; (void)want;
}
HTTPD__PRIVATE int httpd__poll_wait(httpd__poll *p, httpd__io_event *ev, int cap, int ms) {
    int n = epoll_wait(p->fd, ev, cap, ms);
    return n < 0 ? (errno == EINTR ? 0 : HTTPD_ERR_SYS) : n;
}
HTTPD__PRIVATE void *httpd__poll_ud(const httpd__io_event *e) { return e->data.ptr; }
HTTPD__PRIVATE unsigned httpd__poll_bits(const httpd__io_event *e) {
    unsigned b = 0;
    if (e->events & EPOLLIN) b |= HTTPD__IO_R;
    if (e->events & EPOLLOUT) b |= HTTPD__IO_W;
    if (e->events & (EPOLLRDHUP | EPOLLHUP)) b |= HTTPD__IO_HUP;
    if (e->events & EPOLLERR) b |= HTTPD__IO_ERR;
    return b;
}

#elif defined(HTTPD_BACKEND_KQUEUE)
/* =============================================================== >>poll_kqueue
   macOS and the BSDs. A connection has two registrations, EVFILT_READ and EVFILT_WRITE,
   both EV_CLEAR: reported once per change, like epoll's edges, so the connection layer
   works unchanged and no kevent call is made per request. A read event with EV_EOF is
   the peer's FIN (HUP: read until 0), with fflags set a socket error; a write event with
   EV_EOF and an error is a reset. Listeners and wake-up pipes are level-triggered (no
   EV_CLEAR); every worker polling a listener wakes for a connection and all but one find
   accept() empty (kqueue has no exclusive wake-up). close() deletes the registrations.
   Tests run this code on Linux over tests/kqueue_emu.h (HTTPD_TEST_KQUEUE_EMU). */
#define HTTPD__POLL_LEVEL 0
typedef struct httpd__poll { int fd; } httpd__poll;
typedef struct kevent httpd__io_event;

HTTPD__PRIVATE void httpd__poll_clear(httpd__poll *p) { p->fd = -1; }
HTTPD__PRIVATE int httpd__poll_init(httpd__poll *p, void *alloc_ctx) {
    (void)alloc_ctx;
    p->fd = kqueue();
    if (p->fd < 0) return HTTPD_ERR_SYS;
    if (fcntl(p->fd, F_SETFD, FD_CLOEXEC) < 0) { close(p->fd); p->fd = -1; return HTTPD_ERR_SYS; }
    return 0;
}
HTTPD__PRIVATE void httpd__poll_free(httpd__poll *p) {
    if (p->fd >= 0) close(p->fd);
    p->fd = -1;
}
/* desc.preallocate: the kernel keeps the interest set; nothing to make in advance. */
HTTPD__PRIVATE int httpd__poll_reserve(httpd__poll *p, int nreg, int nconns) {
    (void)p; (void)nreg; (void)nconns;
    return 0;
}
HTTPD__PRIVATE int httpd__poll_add(httpd__poll *p, int fd, void *ud, int kind) {
    struct kevent ch[2];
    int n = 1;
    if (kind == HTTPD__PK_CONN) {
        EV_SET(&ch[0], fd, EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, ud);
        EV_SET(&ch[1], fd, EVFILT_WRITE, EV_ADD | EV_CLEAR, 0, 0, ud);
        n = 2;
    } else {
        EV_SET(&ch[0], fd, EVFILT_READ, EV_ADD, 0, 0, ud);
    }
    return kevent(p->fd, ch, n, NULL, 0, NULL) < 0 ? HTTPD_ERR_SYS : 0;
}
HTTPD__PRIVATE int httpd__poll_del(httpd__poll *p, int fd) {
    struct kevent ch;
    EV_SET(&ch, fd, EVFILT_READ, EV_DELETE, 0, 0, NULL);
    return kevent(p->fd, &ch, 1, NULL, 0, NULL) < 0 ? HTTPD_ERR_SYS : 0;
}
HTTPD__PRIVATE void httpd__poll_forget(httpd__poll *p, int fd) { (void)p; (void)fd; }
HTTPD__PRIVATE void httpd__poll_want(httpd__poll *p, int fd, unsigned want) {
    (void)p; (void)fd; (void)want;
}
HTTPD__PRIVATE int httpd__poll_wait(httpd__poll *p, httpd__io_event *ev, int cap, int ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    int n = kevent(p->fd, NULL, 0, ev, cap, ms < 0 ? NULL : &ts);
    return n < 0 ? (errno == EINTR ? 0 : HTTPD_ERR_SYS) : n;
}
HTTPD__PRIVATE void *httpd__poll_ud(const httpd__io_event *e) { return (void *)e->udata; }
HTTPD__PRIVATE unsigned httpd__poll_bits(const httpd__io_event *e) {
    unsigned b = e->filter == EVFILT_WRITE ? HTTPD__IO_W : HTTPD__IO_R;
    if (e->flags & EV_ERROR) return b | HTTPD__IO_ERR;
    if ((e->flags & EV_EOF) && e->filter != EVFILT_WRITE) b |= HTTPD__IO_HUP;
    if ((e->flags & EV_EOF) && e->fflags) b |= HTTPD__IO_ERR;
    return b;
}

#else
/* ================================================================= >>poll_poll
   poll(2): any POSIX system, and lwIP-style stacks that offer only poll. Level-triggered,
   so interest follows the connection (httpd__poll_want, called after every drive): a
   connection with nothing to wait for leaves the array's live part (its fd is -1 there,
   so that even POLLHUP/POLLERR, which poll reports unasked, cannot spin the loop). The
   array is dense: at[fd] is an fd's index, and removal moves the last entry into the hole
   (O(1)). Events are copied out of the array before they are handled, so the array may
   change during a batch. Each wait is O(registered descriptors) in the kernel: this
   backend is for small servers; epoll and kqueue are O(ready). */
#define HTTPD__POLL_LEVEL 1
typedef struct httpd__poll {
    struct pollfd *pfd;           /* [n]; pfd[i].fd is -1 while interest is empty      */
    int           *fds;           /* [n]: the real descriptor of pfd[i]                */
    void         **ud;            /* [n]                                               */
    int           *at;            /* [nat]: index of fd in pfd, or -1                  */
    int            n, cap, nat, next;  /* next: where the last batch stopped (fairness) */
    void          *ctx;
} httpd__poll;
typedef struct httpd__io_event { void *ud; unsigned bits; } httpd__io_event;

HTTPD__PRIVATE void httpd__poll_clear(httpd__poll *p) { memset(p, 0, sizeof *p); }
HTTPD__PRIVATE int httpd__poll_init(httpd__poll *p, void *alloc_ctx) {
    httpd__poll_clear(p);
    p->ctx = alloc_ctx;
    return 0;
}
HTTPD__PRIVATE void httpd__poll_free(httpd__poll *p) {
    HTTPD_FREE(p->ctx, p->pfd);
    HTTPD_FREE(p->ctx, p->fds);
    HTTPD_FREE(p->ctx, p->ud);
    HTTPD_FREE(p->ctx, p->at);
    httpd__poll_clear(p);
}
HTTPD__PRIVATE int httpd__poll_grow(void *ctx, void **arr, size_t elem, int *cap, int need) {
    int c = *cap ? *cap : 16;
    while (c < need) c *= 2;
    void *q = HTTPD_REALLOC(ctx, *arr, (size_t)c * elem);
    if (!q) return HTTPD_ERR_NOMEM;
    *arr = q;
    return c;
}
/* desc.preallocate: room made now for nreg descriptors numbered below maxfd (those open
   now, nconns more and some slack), so that registering them never allocates (a
   descriptor numbered past maxfd, e.g. when the application opens many files later, still
   grows the index). */
HTTPD__PRIVATE int httpd__poll_reserve(httpd__poll *p, int nreg, int nconns) {
    int probe = dup(0), maxfd = (probe >= 0 ? probe : 64) + nconns + 64;
    if (probe >= 0) close(probe);
    int c = p->nat, old = p->nat, rc;
    if ((rc = httpd__poll_grow(p->ctx, (void **)&p->at, sizeof *p->at, &c, maxfd)) < 0) return rc;
    for (int i = old; i < rc; i++) p->at[i] = -1;
    p->nat = rc;
    int c1 = p->cap, c2 = p->cap, c3 = p->cap;
    if ((c1 = httpd__poll_grow(p->ctx, (void **)&p->pfd, sizeof *p->pfd, &c1, nreg)) < 0
        || (c2 = httpd__poll_grow(p->ctx, (void **)&p->fds, sizeof *p->fds, &c2, c1)) < 0
        || (c3 = httpd__poll_grow(p->ctx, (void **)&p->ud, sizeof *p->ud, &c3, c1)) < 0)
        return HTTPD_ERR_NOMEM;
    p->cap = c1;
    return 0;
}
HTTPD__PRIVATE int httpd__poll_add(httpd__poll *p, int fd, void *ud, int kind) {
    (void)kind;                          /* listeners and wake-ups: POLLIN, level as all */
    if (fd < 0) return HTTPD_ERR_INVAL;
    if (fd >= p->nat) {
        int c = p->nat, old = p->nat;
        if ((c = httpd__poll_grow(p->ctx, (void **)&p->at, sizeof *p->at, &c, fd + 1)) < 0)
            return c;
        for (int i = old; i < c; i++) p->at[i] = -1;
        p->nat = c;
    }
    if (p->at[fd] >= 0) return HTTPD_ERR_INVAL;          /* registered already */
    if (p->n == p->cap) {
        int c1 = p->cap, c2 = p->cap, c3 = p->cap;
        if ((c1 = httpd__poll_grow(p->ctx, (void **)&p->pfd, sizeof *p->pfd, &c1, p->n + 1)) < 0
            || (c2 = httpd__poll_grow(p->ctx, (void **)&p->fds, sizeof *p->fds, &c2, c1)) < 0
            || (c3 = httpd__poll_grow(p->ctx, (void **)&p->ud, sizeof *p->ud, &c3, c1)) < 0)
            return HTTPD_ERR_NOMEM;      /* the arrays that did grow stay grown: harmless */
        p->cap = c1;
    }
    int i = p->n++;
    p->pfd[i].fd = fd;
    p->pfd[i].events = (short)(kind == HTTPD__PK_CONN ? (POLLIN | POLLOUT) : POLLIN);
    p->pfd[i].revents = 0;
    p->fds[i] = fd;
    p->ud[i] = ud;
    p->at[fd] = i;
    return 0;
}
HTTPD__PRIVATE int httpd__poll_del(httpd__poll *p, int fd) {
    if (fd < 0 || fd >= p->nat || p->at[fd] < 0) return HTTPD_ERR_INVAL;
    int i = p->at[fd], last = --p->n;
    if (i != last) {                                   /* the last entry fills the hole */
        p->pfd[i] = p->pfd[last];
        p->fds[i] = p->fds[last];
        p->ud[i] = p->ud[last];
        p->at[p->fds[i]] = i;
    }
    p->at[fd] = -1;
    return 0;
}
HTTPD__PRIVATE void httpd__poll_forget(httpd__poll *p, int fd) { httpd__poll_del(p, fd); }
HTTPD__PRIVATE void httpd__poll_want(httpd__poll *p, int fd, unsigned want) {
    if (fd < 0 || fd >= p->nat || p->at[fd] < 0) return;
    struct pollfd *e = &p->pfd[p->at[fd]];
    e->events = (short)(((want & HTTPD__IO_R) ? POLLIN : 0) | ((want & HTTPD__IO_W) ? POLLOUT : 0));
    e->fd = want ? fd : -1;
}
HTTPD__PRIVATE int httpd__poll_wait(httpd__poll *p, httpd__io_event *ev, int cap, int ms) {
    int r = poll(p->pfd, (nfds_t)p->n, ms);
    if (r <= 0) return r < 0 ? (errno == EINTR ? 0 : HTTPD_ERR_SYS) : 0;
    int k = 0, n = p->n, start = p->next < n ? p->next : 0;
    for (int j = 0; j < n && k < cap; j++) {     /* from where the last full batch ended */
        int i = (start + j) % n;
        short re = p->pfd[i].revents;
        if (!re || p->pfd[i].fd < 0) continue;
        unsigned b = 0;
        if (re & POLLIN) b |= HTTPD__IO_R;
        if (re & POLLOUT) b |= HTTPD__IO_W;
        if (re & POLLHUP) b |= HTTPD__IO_HUP | HTTPD__IO_R;   /* read the 0 (or error) */
        if (re & (POLLERR | POLLNVAL)) b |= HTTPD__IO_ERR;
        ev[k].ud = p->ud[i];
        ev[k].bits = b;
        k++;
        p->next = (i + 1) % n;
    }
    return k;
}
HTTPD__PRIVATE void *httpd__poll_ud(const httpd__io_event *e) { return e->ud; }
HTTPD__PRIVATE unsigned httpd__poll_bits(const httpd__io_event *e) { return e->bits; }
#endif

#ifdef HTTPD_TLS_BEARSSL
/* ================================================================== >>tls_pem
   TLS certificates and keys (HTTPD_TLS_BEARSSL only): PEM text (files or memory) decoded to
   DER, certificate chains and RSA/EC private keys (PKCS#1, SEC1, PKCS#8) loaded into what
   BearSSL takes, and the check that a key belongs to its certificate, so a wrong pair
   fails httpd_start with a reason instead of every handshake failing later. Runs once, at
   start, on the caller's thread. Owner: the server's TLS configuration (>>tls_conf). */
#include <bearssl.h>


typedef struct httpd__tls_cert {       /* one chain and its key, owned                   */
    br_x509_certificate *chain;
    size_t       chain_len;
    int          key_type;             /* BR_KEYTYPE_RSA or BR_KEYTYPE_EC                */
    br_rsa_private_key rsa;
    br_ec_private_key  ec;
    unsigned char *key_mem;            /* the key's integers (rsa/ec point into it)      */
    char        *names;                /* SNI patterns, NUL-separated, "" at the end     */
} httpd__tls_cert;

/* ---- PEM and DER ---- */
typedef struct httpd__tls_bytes {         /* a growing buffer for one decoded object */
    unsigned char *p;
    size_t len, cap;
    int bad;
    void *ctx;
} httpd__tls_bytes;
HTTPD__PRIVATE void httpd__tls_bytes_push(void *dest, const void *src, size_t len) {
    httpd__tls_bytes *b = (httpd__tls_bytes *)dest;
    if (b->bad) return;
    if (b->len + len > b->cap) {
        size_t cap = HTTPD__MAX(b->cap * 2, b->len + len + 256);
        unsigned char *p = (unsigned char *)HTTPD_REALLOC(b->ctx, b->p, cap);
        if (!p) { b->bad = 1; return; }
        b->p = p; b->cap = cap;
    }
    memcpy(b->p + b->len, src, len);
    b->len += len;
}
/* Calls fn(arg, name, der, len) for each object of a PEM text. 0 or the first error
   (HTTPD_ERR_INVAL: not PEM, or fn's). */
typedef int (*httpd__tls_pem_fn)(void *arg, const char *name, const unsigned char *der, size_t len);
HTTPD__PRIVATE int httpd__tls_pem(const char *pem, size_t len, void *ctx, httpd__tls_pem_fn fn,
                                  void *arg) {
    br_pem_decoder_context pc;
    httpd__tls_bytes obj;
    char name[128];
    int rc = 0, inside = 0, n = 0, nl = 0;
    memset(&obj, 0, sizeof obj);
    obj.ctx = ctx;
    br_pem_decoder_init(&pc);
    /* one pass over the text, then a newline: BearSSL ends an object only at a line end */
    while (rc == 0 && (len || !nl)) {
        const char *p = len ? pem : "\n";
        size_t k = len ? len : 1, used = br_pem_decoder_push(&pc, p, k);
        if (len) { pem += used; len -= used; } else if (used) nl = 1;
        switch (br_pem_decoder_event(&pc)) {
        case BR_PEM_BEGIN_OBJ:
            snprintf(name, sizeof name, "%s", br_pem_decoder_name(&pc));
            obj.len = 0;
            inside = 1;
            br_pem_decoder_setdest(&pc, httpd__tls_bytes_push, &obj);
            break;
        case BR_PEM_END_OBJ:
            if (inside) {
                rc = obj.bad ? HTTPD_ERR_NOMEM : fn(arg, name, obj.p, obj.len);
                n++;
            }
            inside = 0;
            break;
        case BR_PEM_ERROR:
            rc = HTTPD_ERR_INVAL;
            break;
        default:
            if (!used && !len) nl = 1;                   /* nothing more will come */
            break;
        }
    }
    if (obj.p) { memset(obj.p, 0, obj.cap); HTTPD_FREE(ctx, obj.p); }   /* may be a key */
    if (rc == 0 && (inside || n == 0)) rc = HTTPD_ERR_INVAL;    /* cut short, or no PEM */
    return rc;
}
/* A whole (small) file into memory; NUL-terminated. NULL: errno says why. */
HTTPD__PRIVATE char *httpd__tls_slurp(const char *path, size_t *len, void *ctx) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *p = (char *)HTTPD_MALLOC(ctx, cap);
    while (p) {
        n += fread(p + n, 1, cap - n - 1, f);
        if (n < cap - 1 || cap >= (1u << 20)) break;          /* a PEM over 1 MiB: no */
        char *q = (char *)HTTPD_REALLOC(ctx, p, cap * 2);
        if (!q) { HTTPD_FREE(ctx, p); p = NULL; break; }
        p = q; cap *= 2;
    }
    int bad = ferror(f) || (p && n >= (1u << 20) - 1);
    fclose(f);
    if (p && bad) { HTTPD_FREE(ctx, p); errno = EFBIG; return NULL; }
    if (p) { p[n] = 0; *len = n; }
    return p;
}
typedef struct httpd__tls_load {          /* one certificate being loaded */
    httpd__tls_cert *c;
    void *ctx;
    int nkeys;
    const char *why;                      /* what is wrong, for the error message */
} httpd__tls_load;
HTTPD__PRIVATE int httpd__tls_on_cert(void *arg, const char *name, const unsigned char *der,
                                      size_t len) {
    httpd__tls_load *ld = (httpd__tls_load *)arg;
    httpd__tls_cert *c = ld->c;
    if (strcmp(name, "CERTIFICATE") && strcmp(name, "X509 CERTIFICATE")
        && strcmp(name, "TRUSTED CERTIFICATE"))
        return 0;                                      /* other objects: not ours */
    if (c->chain_len >= 16) {
        ld->why = "more than 16 certificates in the chain";
        return HTTPD_ERR_INVAL;
    }
    br_x509_certificate *ch = (br_x509_certificate *)HTTPD_REALLOC(
        ld->ctx, c->chain, (c->chain_len + 1) * sizeof *ch);
    if (!ch) return HTTPD_ERR_NOMEM;
    c->chain = ch;
    unsigned char *d = (unsigned char *)HTTPD_MALLOC(ld->ctx, len ? len : 1);
    if (!d) return HTTPD_ERR_NOMEM;
    memcpy(d, der, len);
    ch[c->chain_len].data = d;
    ch[c->chain_len].data_len = len;
    c->chain_len++;
    return 0;
}
HTTPD__PRIVATE int httpd__tls_on_key(void *arg, const char *name, const unsigned char *der,
                                     size_t len) {
    httpd__tls_load *ld = (httpd__tls_load *)arg;
    httpd__tls_cert *c = ld->c;
    if (!strcmp(name, "ENCRYPTED PRIVATE KEY")) {
        ld->why = "the private key is encrypted (decrypt it: openssl pkey -in K -out K2)";
        return HTTPD_ERR_INVAL;
    }
    if (strcmp(name, "RSA PRIVATE KEY") && strcmp(name, "EC PRIVATE KEY")
        && strcmp(name, "PRIVATE KEY"))
        return 0;                                      /* EC PARAMETERS, certificates */
    if (ld->nkeys++) { ld->why = "more than one private key"; return HTTPD_ERR_INVAL; }
    br_skey_decoder_context kd;
    br_skey_decoder_init(&kd);
    br_skey_decoder_push(&kd, der, len);
    int rc = HTTPD_ERR_INVAL;
    if (br_skey_decoder_last_error(&kd) != 0) {
        ld->why = "the private key cannot be decoded (RSA or EC, PKCS#1, SEC1 or PKCS#8)";
    } else if (br_skey_decoder_key_type(&kd) == BR_KEYTYPE_RSA) {
        const br_rsa_private_key *k = br_skey_decoder_get_rsa(&kd);
        size_t n = k->plen + k->qlen + k->dplen + k->dqlen + k->iqlen;
        unsigned char *m = (unsigned char *)HTTPD_MALLOC(ld->ctx, n);
        if (!m) { rc = HTTPD_ERR_NOMEM; goto out; }
        c->key_mem = m;
        c->rsa = *k;
        memcpy(m, k->p, k->plen); c->rsa.p = m; m += k->plen;
        memcpy(m, k->q, k->qlen); c->rsa.q = m; m += k->qlen;
        memcpy(m, k->dp, k->dplen); c->rsa.dp = m; m += k->dplen;
        memcpy(m, k->dq, k->dqlen); c->rsa.dq = m; m += k->dqlen;
        memcpy(m, k->iq, k->iqlen); c->rsa.iq = m;
        c->key_type = BR_KEYTYPE_RSA;
        rc = 0;
    } else {
        const br_ec_private_key *k = br_skey_decoder_get_ec(&kd);
        unsigned char *m = (unsigned char *)HTTPD_MALLOC(ld->ctx, k->xlen ? k->xlen : 1);
        if (!m) { rc = HTTPD_ERR_NOMEM; goto out; }
        memcpy(m, k->x, k->xlen);
        c->key_mem = m;
        c->ec = *k;
        c->ec.x = m;
        c->key_type = BR_KEYTYPE_EC;
        rc = 0;
    }
out:
    memset(&kd, 0, sizeof kd);                         /* it held the private key */
    return rc;
}
/* The key must be the one the leaf certificate names: checked once here, as nginx does,
   rather than by every client failing its handshake. */
HTTPD__PRIVATE const char *httpd__tls_key_matches(const httpd__tls_cert *c) {
    br_x509_decoder_context dc;
    br_x509_decoder_init(&dc, NULL, NULL);
    br_x509_decoder_push(&dc, c->chain[0].data, c->chain[0].data_len);
    const br_x509_pkey *pk = br_x509_decoder_get_pkey(&dc);
    if (br_x509_decoder_last_error(&dc) != 0 || !pk)
        return "the first certificate cannot be decoded";
    if ((int)pk->key_type != c->key_type) return "the key's type is not the certificate's";
    if (c->key_type == BR_KEYTYPE_EC) {
        unsigned char pub[BR_EC_KBUF_PUB_MAX_SIZE];
        br_ec_public_key k;
        if (pk->key.ec.curve != c->ec.curve) return "the key's curve is not the certificate's";
        size_t n = br_ec_compute_pub(br_ec_get_default(), &k, pub, &c->ec);
        if (!n || k.qlen != pk->key.ec.qlen || memcmp(k.q, pk->key.ec.q, k.qlen))
            return "the private key does not match the certificate";
        return NULL;
    }
    unsigned char mod[512];                                      /* RSA up to 4096 bits */
    br_rsa_compute_modulus cm = br_rsa_compute_modulus_get_default();
    size_t n = (c->rsa.n_bitlen + 7) / 8;
    const unsigned char *cn = pk->key.rsa.n;
    size_t cl = pk->key.rsa.nlen;
    while (cl && !*cn) { cn++; cl--; }                           /* DER's leading zero */
    if (n > sizeof mod || cm(NULL, &c->rsa) != n || cm(mod, &c->rsa) != n || cl != n
        || memcmp(mod, cn, n))
        return "the private key does not match the certificate";
    return NULL;
}
HTTPD__PRIVATE void httpd__tls_cert_free(httpd__tls_cert *c, void *ctx) {
    for (size_t i = 0; i < c->chain_len; i++) HTTPD_FREE(ctx, c->chain[i].data);
    HTTPD_FREE(ctx, c->chain);
    if (c->key_mem) {
        size_t n = c->key_type == BR_KEYTYPE_RSA
                 ? c->rsa.plen + c->rsa.qlen + c->rsa.dplen + c->rsa.dqlen + c->rsa.iqlen
                 : c->ec.xlen;
        memset(c->key_mem, 0, n);                        /* no private key left in freed memory */
        HTTPD_FREE(ctx, c->key_mem);
    }
    HTTPD_FREE(ctx, c->names);
    memset(c, 0, sizeof *c);
}
/* Loads one httpd_tls_cert. 0, or an error with *why saying what is wrong. */
HTTPD__PRIVATE int httpd__tls_cert_load(httpd__tls_cert *c, const httpd_tls_cert *pub, void *ctx,
                                        const char **why) {
    httpd__tls_load ld;
    char *text = NULL;
    size_t len = 0;
    int rc;
    memset(c, 0, sizeof *c);
    memset(&ld, 0, sizeof ld);
    ld.c = c; ld.ctx = ctx;
    for (int pass = 0; pass < 2; pass++) {               /* the chain, then the key */
        const char *file = pass ? pub->key_file : pub->cert_file;
        const char *pem = pass ? pub->key_pem : pub->cert_pem;
        size_t plen = pass ? pub->key_pem_len : pub->cert_pem_len;
        if (file) {
            if (!(text = httpd__tls_slurp(file, &len, ctx))) {
                *why = errno == ENOMEM ? "out of memory" : strerror(errno);
                return errno == ENOMEM ? HTTPD_ERR_NOMEM : HTTPD_ERR_SYS;
            }
            pem = text; plen = len;
        } else if (!pem) {
            *why = pass ? "no key_file or key_pem" : "no cert_file or cert_pem";
            return HTTPD_ERR_INVAL;
        } else if (!plen) {
            plen = strlen(pem);
        }
        rc = httpd__tls_pem(pem, plen, ctx, pass ? httpd__tls_on_key : httpd__tls_on_cert, &ld);
        if (text) { memset(text, 0, len); HTTPD_FREE(ctx, text); text = NULL; }
        if (rc < 0) { *why = ld.why ? ld.why : "not a valid PEM file"; return rc; }
    }
    if (!c->chain_len) { *why = "no CERTIFICATE in the chain"; return HTTPD_ERR_INVAL; }
    if (!ld.nkeys) { *why = "no private key"; return HTTPD_ERR_INVAL; }
    if ((*why = httpd__tls_key_matches(c)) != NULL) return HTTPD_ERR_INVAL;
    /* SNI patterns, NUL-separated, lower case */
    const char *nm = pub->names ? pub->names : "";
    size_t nl = strlen(nm);
    if (!(c->names = (char *)HTTPD_MALLOC(ctx, nl + 2))) return HTTPD_ERR_NOMEM;
    size_t o = 0;
    for (size_t i = 0; i < nl; i++) {
        if (nm[i] == ' ' || nm[i] == ',' || nm[i] == '\t') {
            if (o && c->names[o - 1]) c->names[o++] = 0;
        } else {
            c->names[o++] = (char)httpd__lower((unsigned char)nm[i]);
        }
    }
    if (o && c->names[o - 1]) c->names[o++] = 0;
    c->names[o] = 0;
    return 0;
}
#endif /* HTTPD_TLS_BEARSSL */

#ifdef HTTPD_TLS_BEARSSL
/* ================================================================= >>tls_conf
   TLS configuration (HTTPD_TLS_BEARSSL only): the certificates (loaded by >>tls_pem), the
   BearSSL engine profile every connection starts from, certificate choice (SNI) and the
   server-side session cache. Nothing here touches a connection: >>tls (after >>machine)
   runs the records of each one.
   Profile: TLS 1.2 only (BearSSL's maximum); ECDHE key exchange (forward secrecy) with
   AEAD suites only: AES-GCM first where the CPU has AES instructions (BearSSL's "default"
   implementations pick AES-NI + PCLMUL, or POWER8, at run time), ChaCha20-Poly1305 first
   where it has not (its SSE2 code is then faster than constant-time software AES). The
   server's order wins. Renegotiation is refused (a client-initiated one costs the server a
   handshake per request: a denial-of-service lever, RFC 5746 aside). ALPN: http/1.1.
   Session cache: sessions (RFC 5246 §7.3, session IDs; BearSSL has no server tickets)
   are kept in one table shared by every worker, so a resumed connection finds its
   session whichever worker accepted it. The table is split into shards by the session
   ID's first byte (random, chosen by the server), each with its own mutex: a lookup or an
   insert holds one lock for a hash-chain walk (well under a microsecond), once per
   handshake, against the tens to hundreds of microseconds of the handshake itself, so
   workers practically never wait on each other. Bounded: oldest-first eviction (as
   nginx), and an expiry. Owner: the server; read-only after start but the cache (locked).
   Cost: one allocation for the cache at start; none per connection here. */

#define HTTPD__TLS_IN_OVERHEAD 325     /* record header, explicit IV, MAC, padding (in)  */
#define HTTPD__TLS_OUT_OVERHEAD 85     /* the same for records we build (BearSSL)        */
#define HTTPD__TLS_MAX_CERTS 16


typedef struct httpd__tls_sess {       /* one cached session                              */
    unsigned char id[32];
    unsigned char secret[48];          /* the master secret                              */
    uint16_t     version, suite;
    int16_t      cert;                 /* the certificate it was made with               */
    uint32_t     next;                 /* hash chain: index + 1, 0 ends                  */
    uint64_t     expires;              /* monotonic ms; 0: free                          */
} httpd__tls_sess;
typedef struct httpd__tls_shard {
    httpd__mutex  mu;
    httpd__tls_sess *e;                /* cap entries, reused oldest first (ring)        */
    uint32_t        *bucket;           /* nbucket heads: index + 1                       */
    uint32_t         cap, nbucket, ring;
} httpd__tls_shard;

typedef struct httpd__tls_conf {
    httpd_tls_desc   desc;             /* with defaults filled in                        */
    httpd__tls_cert  certs[HTTPD__TLS_MAX_CERTS];
    int              ncerts;
    uint16_t         suites[6];
    const br_ssl_session_cache_class *cache_vt;   /* BearSSL's handle on the cache       */
    httpd__tls_shard *shards;
    uint32_t         nshards;
    uint32_t         rec_in, rec_out;  /* record buffers (out 0: half duplex, shared)    */
    uint32_t         stage;            /* each of the two staging areas (see >>tls)      */
    uint32_t         buf_len;          /* all of it: one block per busy connection       */
    int              aes_hw;           /* AES in hardware: AES-GCM first                 */
    void            *alloc_ctx;
} httpd__tls_conf;

/* The per-connection state lives in >>tls; the policy and the cache need these fields. */
#define HTTPD__TLS_MAGIC 0x544c5331u   /* a configured engine with a seeded generator    */
typedef struct httpd__tls {
    void        *pool_link;            /* the worker's pool links free engines here      */
    uint32_t     magic;                /* HTTPD__TLS_MAGIC: configured for conf          */
    br_ssl_server_context sc;          /* the engine (about 4 KB)                        */
    const br_ssl_server_policy_class *policy;     /* BearSSL calls back with &policy     */
    const httpd__tls_conf *conf;
    unsigned char *buf;                /* record buffers + staging; NULL while parked    */
    uint32_t     ipos, ilen;           /* in-stage: bytes read past the current record   */
    uint32_t     opos, olen;           /* out-stage: records waiting for the socket      */
    int16_t      cert;                 /* certificate chosen (or resumed with); -1: none */
    uint8_t      ready;                /* the handshake completed                        */
    uint8_t      chose;                /* a full handshake (the policy chose)            */
    uint8_t      closing;              /* close_notify queued                            */
    uint8_t      eof;                  /* the socket said end of stream                  */
} httpd__tls;

/* Does host name (any case) match pattern (lower case): equal, or "*.rest" with one
   label before "rest" (RFC 6125 §6.4.3, the wildcard as the whole left-most label). */
HTTPD__PRIVATE int httpd__tls_name_match(const char *pat, const char *name) {
    size_t pl = strlen(pat), nl = strlen(name);
    if (nl && name[nl - 1] == '.') nl--;                 /* "example.com." */
    if (pl >= 2 && pat[0] == '*' && pat[1] == '.') {
        const char *dot = (const char *)memchr(name, '.', nl);
        if (!dot || dot == name) return 0;
        return httpd__ieq2(dot, nl - (size_t)(dot - name), pat + 1, pl - 1);
    }
    return httpd__ieq2(name, nl, pat, pl);
}
/* The certificate for a server name (SNI): the callback's choice, else the first whose
   names match, else certs[0]. -1: refused. */
HTTPD__PRIVATE int httpd__tls_pick(const httpd__tls_conf *cf, const char *server_name) {
    if (cf->desc.sni) {
        int i = cf->desc.sni(cf->desc.sni_user_data, server_name);
        return i >= 0 && i < cf->ncerts ? i : -1;
    }
    if (*server_name)
        for (int i = 0; i < cf->ncerts; i++)
            for (const char *p = cf->certs[i].names; *p; p += strlen(p) + 1)
                if (httpd__tls_name_match(p, server_name)) return i;
    return 0;
}

/* ---- the server policy: certificate, suite and signature for one handshake ---- */
/* The strongest hash (BearSSL ids: sha1 2 .. sha512 6) among those the client accepts for
   signatures of this key type (bits 0-7: RSA, 8-15: ECDSA); SHA-256 first: the fastest
   of the strong ones and what every client offers. 0: none. */
HTTPD__PRIVATE unsigned httpd__tls_hash(uint32_t hashes, int key_type) {
    static const unsigned pref[] = { br_sha256_ID, br_sha384_ID, br_sha512_ID, br_sha224_ID,
                                     br_sha1_ID };
    unsigned sh = key_type == BR_KEYTYPE_EC ? 8 : 0;
    for (size_t i = 0; i < HTTPD__COUNTOF(pref); i++)
        if (hashes >> (sh + pref[i]) & 1) return pref[i];
    return 0;
}
/* The same names (both NUL-separated lists equal): a pair of certificates for one site,
   one ECDSA and one RSA, as nginx serves with two ssl_certificate lines. */
HTTPD__PRIVATE int httpd__tls_same_names(const httpd__tls_cert *a, const httpd__tls_cert *b) {
    const char *p = a->names, *q = b->names;
    for (; *p || *q; p += strlen(p) + 1, q += strlen(q) + 1)
        if (strcmp(p, q)) return 0;
    return 1;
}
/* Chooses for a full handshake: the certificate SNI picked, or another with the same
   names when the client cannot use that one's key type (an ECDSA-only or RSA-only client);
   among those, the first suite in our order (ECDSA suites come first) whose key exchange
   one of them can sign, with the best hash the client accepts for it. */
HTTPD__PRIVATE int httpd__tls_choose(const br_ssl_server_policy_class **pctx,
                                     const br_ssl_server_context *cc,
                                     br_ssl_server_choices *ch) {
    httpd__tls *t = HTTPD__CONTAINER(pctx, httpd__tls, policy);
    const httpd__tls_conf *cf = t->conf;
    int i = httpd__tls_pick(cf, br_ssl_engine_get_server_name(&cc->eng));
    t->chose = 1;
    if (i < 0) return 0;                                 /* SNI refused */
    size_t n;
    const br_suite_translated *st = br_ssl_server_get_client_suites(cc, &n);
    uint32_t hashes = br_ssl_server_get_client_hashes(cc);
    for (size_t k = 0; k < n; k++) {        /* in our order (server preference enforced) */
        int type = (st[k][1] >> 12) == BR_SSLKEYX_ECDHE_ECDSA ? BR_KEYTYPE_EC
                 : (st[k][1] >> 12) == BR_SSLKEYX_ECDHE_RSA ? BR_KEYTYPE_RSA : 0;
        for (int j = -1; j < cf->ncerts; j++) {          /* the pick first, then its pair */
            int c = j < 0 ? i : j;
            const httpd__tls_cert *crt = &cf->certs[c];
            unsigned h = httpd__tls_hash(hashes, crt->key_type);
            if (crt->key_type != type || !h || (j >= 0 && (j == i
                || !httpd__tls_same_names(crt, &cf->certs[i]))))
                continue;
            ch->cipher_suite = st[k][0];
            ch->algo_id = 0xFF00 + h;        /* the hash, then we sign its value */
            ch->chain = crt->chain;
            ch->chain_len = crt->chain_len;
            t->cert = (int16_t)c;
            return 1;
        }
    }
    return 0;                                /* no common suite for these keys */
}
HTTPD__PRIVATE uint32_t httpd__tls_keyx(const br_ssl_server_policy_class **pctx,
                                        unsigned char *data, size_t *len) {
    (void)pctx; (void)data; (void)len;
    return 0;                                /* static RSA / ECDH: never offered */
}
HTTPD__PRIVATE size_t httpd__tls_sign(const br_ssl_server_policy_class **pctx, unsigned algo_id,
                                      unsigned char *data, size_t hv_len, size_t len) {
    httpd__tls *t = HTTPD__CONTAINER(pctx, httpd__tls, policy);
    const httpd__tls_cert *crt = &t->conf->certs[t->cert];
    unsigned char hv[64];
    unsigned id = algo_id & 0xFF;
    if (hv_len > sizeof hv || id < br_sha1_ID || id > br_sha512_ID) return 0;
    memcpy(hv, data, hv_len);
    if (crt->key_type == BR_KEYTYPE_EC) {
        static const br_hash_class *const hc[] = { &br_sha1_vtable, &br_sha224_vtable,
                                                   &br_sha256_vtable, &br_sha384_vtable,
                                                   &br_sha512_vtable };
        if (len < 139) return 0;                 /* the largest ECDSA signature (P-521) */
        return br_ecdsa_sign_asn1_get_default()(br_ec_get_default(), hc[id - br_sha1_ID], hv,
                                                &crt->ec, data);
    }
    static const unsigned char *const oid[] = {
        (const unsigned char *)BR_HASH_OID_SHA1, (const unsigned char *)BR_HASH_OID_SHA224,
        (const unsigned char *)BR_HASH_OID_SHA256, (const unsigned char *)BR_HASH_OID_SHA384,
        (const unsigned char *)BR_HASH_OID_SHA512 };
    size_t sl = (crt->rsa.n_bitlen + 7) / 8;
    if (len < sl) return 0;
    return br_rsa_pkcs1_sign_get_default()(oid[id - br_sha1_ID], hv, hv_len, &crt->rsa, data)
         ? sl : 0;
}
static const br_ssl_server_policy_class httpd__tls_policy_vt = {
    sizeof(httpd__tls), httpd__tls_choose, httpd__tls_keyx, httpd__tls_sign
};

/* ---- the session cache (see the banner) ---- */
HTTPD__PRIVATE httpd__tls_shard *httpd__tls_shard_of(const httpd__tls_conf *cf,
                                                     const unsigned char *id) {
    return &cf->shards[id[0] % cf->nshards];
}
HTTPD__PRIVATE uint32_t httpd__tls_bucket(const httpd__tls_shard *sh, const unsigned char *id) {
    uint32_t h;
    memcpy(&h, id + 4, 4);                   /* random bytes: no hashing needed */
    return h % sh->nbucket;
}
/* Unlinks entry i from its chain (under the lock). */
HTTPD__PRIVATE void httpd__tls_unlink(httpd__tls_shard *sh, uint32_t i) {
    uint32_t *pp = &sh->bucket[httpd__tls_bucket(sh, sh->e[i].id)];
    while (*pp && *pp != i + 1) pp = &sh->e[*pp - 1].next;
    if (*pp) *pp = sh->e[i].next;
    sh->e[i].expires = 0;
}
HTTPD__PRIVATE void httpd__tls_cache_save(const br_ssl_session_cache_class **ctx,
                                          br_ssl_server_context *sc,
                                          const br_ssl_session_parameters *p) {
    const httpd__tls_conf *cf = HTTPD__CONTAINER(ctx, httpd__tls_conf, cache_vt);
    httpd__tls *t = HTTPD__CONTAINER(sc, httpd__tls, sc);
    if (p->session_id_len != 32) return;
    httpd__tls_shard *sh = httpd__tls_shard_of(cf, p->session_id);
    uint64_t now = httpd__now_ms();
    httpd__lock(&sh->mu);
    uint32_t i = sh->ring;
    sh->ring = (sh->ring + 1) % sh->cap;
    if (sh->e[i].expires) httpd__tls_unlink(sh, i);      /* the oldest goes */
    httpd__tls_sess *e = &sh->e[i];
    memcpy(e->id, p->session_id, 32);
    memcpy(e->secret, p->master_secret, 48);
    e->version = p->version;
    e->suite = p->cipher_suite;
    e->cert = t->cert;
    e->expires = now + cf->desc.session_timeout_ms;
    uint32_t *b = &sh->bucket[httpd__tls_bucket(sh, e->id)];
    e->next = *b;
    *b = i + 1;
    httpd__unlock(&sh->mu);
}
HTTPD__PRIVATE int httpd__tls_cache_load(const br_ssl_session_cache_class **ctx,
                                         br_ssl_server_context *sc, br_ssl_session_parameters *p) {
    const httpd__tls_conf *cf = HTTPD__CONTAINER(ctx, httpd__tls_conf, cache_vt);
    httpd__tls *t = HTTPD__CONTAINER(sc, httpd__tls, sc);
    httpd__tls_shard *sh = httpd__tls_shard_of(cf, p->session_id);
    uint64_t now = httpd__now_ms();
    int found = 0;
    httpd__lock(&sh->mu);
    for (uint32_t k = sh->bucket[httpd__tls_bucket(sh, p->session_id)]; k; k = sh->e[k - 1].next) {
        httpd__tls_sess *e = &sh->e[k - 1];
        if (memcmp(e->id, p->session_id, 32)) continue;
        if (e->expires <= now) { httpd__tls_unlink(sh, k - 1); break; }   /* stale: gone */
        memcpy(p->master_secret, e->secret, 48);
        p->version = e->version;
        p->cipher_suite = e->suite;
        t->cert = e->cert;
        found = 1;
        break;
    }
    httpd__unlock(&sh->mu);
    return found;
}
/* BearSSL's handle on the cache is &conf->cache_vt, which leads back to the conf. */
static const br_ssl_session_cache_class httpd__tls_cache_class = {
    sizeof(const br_ssl_session_cache_class *), httpd__tls_cache_save, httpd__tls_cache_load
};

/* ---- the configuration ---- */
HTTPD__PRIVATE void httpd__tls_conf_free(httpd__tls_conf *cf) {
    if (!cf) return;
    void *ctx = cf->alloc_ctx;
    for (int i = 0; i < cf->ncerts; i++) httpd__tls_cert_free(&cf->certs[i], ctx);
    if (cf->shards) {
        for (uint32_t i = 0; i < cf->nshards; i++) {
            httpd__tls_shard *sh = &cf->shards[i];
            if (sh->e) {
                memset(sh->e, 0, (size_t)sh->cap * sizeof *sh->e);   /* master secrets */
                httpd__mutex_destroy(&sh->mu);
            }
            HTTPD_FREE(ctx, sh->e);
            HTTPD_FREE(ctx, sh->bucket);
        }
        HTTPD_FREE(ctx, cf->shards);
    }
    HTTPD_FREE(ctx, cf);
}
/* Builds the configuration from desc (certificates loaded, checked; the cache made).
   NULL with *why set (and *rc the error) when something is wrong. */
HTTPD__PRIVATE httpd__tls_conf *httpd__tls_conf_new(const httpd_tls_desc *d, void *ctx, int *rc,
                                                    const char **why) {
    *rc = HTTPD_ERR_NOMEM; *why = "out of memory";
    httpd__tls_conf *cf = (httpd__tls_conf *)HTTPD_MALLOC(ctx, sizeof *cf);
    if (!cf) return NULL;
    memset((void *)cf, 0, sizeof *cf);
    cf->alloc_ctx = ctx;
    cf->desc = *d;
    httpd_tls_desc *cd = &cf->desc;
    cd->handshake_timeout_ms = HTTPD__DEF(cd->handshake_timeout_ms, 10000u);
    cd->session_cache = HTTPD__DEF(cd->session_cache, 4096u);
    cd->session_timeout_ms = HTTPD__DEF(cd->session_timeout_ms, 300000u);
    cd->max_record = HTTPD__DEF(cd->max_record, 16384u);
    if (d->ncerts < 1 || d->ncerts > HTTPD__TLS_MAX_CERTS || !d->certs
        || (cd->max_record != 512 && cd->max_record != 1024 && cd->max_record != 2048
            && cd->max_record != 4096 && cd->max_record != 16384)) {
        *rc = HTTPD_ERR_INVAL;
        *why = "certs/ncerts (1 to 16) or max_record (512, 1024, 2048, 4096, 16384)";
        goto fail;
    }
    cd->certs = NULL;                          /* the caller's array is not kept */
    for (int i = 0; i < d->ncerts; i++) {
        cf->ncerts = i + 1;
        if ((*rc = httpd__tls_cert_load(&cf->certs[i], &d->certs[i], ctx, why)) < 0) goto fail;
    }
    /* the suites, in our preference order: AES-GCM first with AES instructions */
    cf->aes_hw = br_aes_x86ni_ctr_get_vtable() != NULL || br_aes_pwr8_ctr_get_vtable() != NULL;
    static const uint16_t gcm_first[6] = {
        BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 };
    for (int i = 0; i < 6; i++) cf->suites[i] = gcm_first[cf->aes_hw ? i : (i + 4) % 6];
    /* buffers: a whole record in (a client may send 16 KiB records unless it negotiated
       a smaller maximum fragment length), our records out; half duplex shares one */
    cf->rec_in = cd->max_record + HTTPD__TLS_IN_OVERHEAD;
    cf->rec_out = cd->half_duplex ? 0 : cd->max_record + HTTPD__TLS_OUT_OVERHEAD;
    cf->stage = HTTPD__MIN(cd->max_record, 4096u);
    cf->buf_len = cf->rec_in + cf->rec_out + 2 * cf->stage;
    if (cd->session_cache != HTTPD_TLS_NO_CACHE) {
        uint32_t n = cd->session_cache, ns = n >= 256 ? 8 : 1;
        if (n > (1u << 24)) { *rc = HTTPD_ERR_INVAL; *why = "session_cache over 16M"; goto fail; }
        *rc = HTTPD_ERR_NOMEM; *why = "out of memory";
        cf->shards = (httpd__tls_shard *)HTTPD_MALLOC(ctx, ns * sizeof *cf->shards);
        if (!cf->shards) goto fail;
        memset(cf->shards, 0, ns * sizeof *cf->shards);
        cf->nshards = ns;
        for (uint32_t i = 0; i < ns; i++) {
            httpd__tls_shard *sh = &cf->shards[i];
            sh->cap = (n + ns - 1) / ns;
            sh->nbucket = sh->cap;
            sh->e = (httpd__tls_sess *)HTTPD_MALLOC(ctx, (size_t)sh->cap * sizeof *sh->e);
            sh->bucket = (uint32_t *)HTTPD_MALLOC(ctx, (size_t)sh->nbucket * sizeof *sh->bucket);
            if (!sh->e || !sh->bucket) goto fail;
            memset(sh->e, 0, (size_t)sh->cap * sizeof *sh->e);
            memset(sh->bucket, 0, (size_t)sh->nbucket * sizeof *sh->bucket);
            httpd__mutex_init(&sh->mu);
        }
        cf->cache_vt = &httpd__tls_cache_class;
    }
    *rc = 0; *why = NULL;
    return cf;
fail:
    httpd__tls_conf_free(cf);
    return NULL;
}
/* Prepares a connection's engine: the profile, our policy and cache (once per engine:
   engines are reused from the worker's pool, br_ssl_server_reset starting each new
   connection as BearSSL intends, so their random generator is seeded once, not per
   connection: that seeding was 15% of a resumed handshake), then the buffers. 0, or
   HTTPD_ERR_NOMEM when BearSSL refuses (bad buffer sizes cannot happen: checked).
   Hashes: SHA-256 and SHA-384 only, the two TLS 1.2 PRFs of our suites; BearSSL hashes
   the handshake with every hash it is given, and every client signs with SHA-256. */
HTTPD__PRIVATE int httpd__tls_engine_init(httpd__tls *t, const httpd__tls_conf *cf) {
    static const char *const alpn[] = { "http/1.1" };
    br_ssl_server_context *sc = &t->sc;
    br_ssl_engine_context *e = &sc->eng;
    t->conf = cf;
    t->cert = -1;
    if (t->magic == HTTPD__TLS_MAGIC) goto buffers;    /* configured for cf already */
    br_ssl_server_zero(sc);
    br_ssl_engine_set_versions(e, BR_TLS12, BR_TLS12);
    br_ssl_engine_set_suites(e, cf->suites, HTTPD__COUNTOF(cf->suites));
    br_ssl_engine_set_hash(e, br_sha256_ID, &br_sha256_vtable);
    br_ssl_engine_set_hash(e, br_sha384_ID, &br_sha384_vtable);
    br_ssl_engine_set_prf_sha256(e, &br_tls12_sha256_prf);
    br_ssl_engine_set_prf_sha384(e, &br_tls12_sha384_prf);
    br_ssl_engine_set_default_aes_gcm(e);      /* AES-NI + PCLMUL where present */
    br_ssl_engine_set_default_chapol(e);       /* SSE2 ChaCha20, 64-bit Poly1305 */
    br_ssl_engine_set_default_ec(e);           /* x25519, P-256, P-384, P-521 */
    br_ssl_engine_set_all_flags(e, BR_OPT_ENFORCE_SERVER_PREFERENCES | BR_OPT_NO_RENEGOTIATION);
    br_ssl_engine_set_protocol_names(e, (const char **)(uintptr_t)alpn, 1);
    t->policy = &httpd__tls_policy_vt;
    br_ssl_server_set_policy(sc, &t->policy);
    if (cf->cache_vt) br_ssl_server_set_cache(sc, (const br_ssl_session_cache_class **)
                                                  (uintptr_t)&cf->cache_vt);
    t->magic = HTTPD__TLS_MAGIC;
buffers:
    if (cf->rec_out)
        br_ssl_engine_set_buffers_bidi(e, t->buf, cf->rec_in, t->buf + cf->rec_in, cf->rec_out);
    else
        br_ssl_engine_set_buffer(e, t->buf, cf->rec_in, 0);
    if (br_ssl_server_reset(sc)) return 0;
    t->magic = 0;                                      /* configure it anew next time */
    return HTTPD_ERR_NOMEM;
}
#endif /* HTTPD_TLS_BEARSSL */

/* ====================================================================== >>conn
   Connections and requests: the objects, their memory, and the worker and server structs
   they live in. A connection (216 bytes on x86-64, in a per-worker slab) holds its
   socket, input and output blocks (only while a request is in flight), one timer and its
   state; a request (pooled per worker) holds the parsed head, the body, the response's
   extra header lines and a bump arena freed with it. Owner: the connection's worker thread.

   The connection core that follows is sans-I/O and split by concern, each section
   calling only into the ones before it (plus the few forward declarations below):
     >>response  response heads and whole responses, server-generated errors
     >>stream    streaming responses, SSE, streamed request bodies
     >>file      file bodies (sendfile / pread)
     >>async     timers, blocking tasks and cross-thread posts of requests
     >>machine   the per-connection state machine and its sans-I/O surface
     >>deadline  each state's deadline and what its passing does; setup and release
   Bytes in (httpd__conn_rbuf/httpd__conn_recv), bytes out (httpd__conn_obuf/
   httpd__conn_sent), time in (w->now, httpd__conn_timeout): no section but >>file's pump
   makes a system call, so tests and fuzzers drive whole connections in memory and TLS
   can sit between the core and the socket. >>drive and >>worker do the real I/O.

   States: HEAD (waiting for or reading a head; idle when nothing is buffered) -> BODY ->
   HANDLER (the application has the request) -> back to HEAD, or CLOSING (flush, then close
   or linger) -> DEAD. One request is served at a time; pipelined bytes wait in the input
   buffer and responses are appended to the output buffer in order, so they go out in one
   write when several are ready. Parsing of further requests stops while output is above
   HTTPD__OUT_HIGH (backpressure). */
#define HTTPD__OUT_HIGH (64u * 1024u)        /* stop parsing pipelined requests above it;
                                                httpd_write says HTTPD_WRITE_FULL above it */
#define HTTPD__OUT_LOW (16u * 1024u)         /* httpd_on_writable fires below it */
enum { HTTPD__FR_LENGTH, HTTPD__FR_CHUNKED, HTTPD__FR_CLOSE };   /* response framing */
#define HTTPD__LINGER_MS 2000u               /* read-and-discard after an error response */
#define HTTPD__STOP_GRACE_MS 1000u   /* a connection accepted but silent when the stop began */
#define HTTPD__LINGER_BYTES (1u << 20)
#ifdef HTTPD_MINIMAL                         /* the worker's buffer for discarded input */
#  define HTTPD__SCRATCH 512u                /* (in the worker: part of the heap at start) */
#else
#  define HTTPD__SCRATCH 4096u
#endif
#define HTTPD__ARENA_INLINE 1024u
#define HTTPD__BODY_ROOM 1024u               /* input space kept free after a head */
#define HTTPD__CONN_CHUNK_BITS 10            /* at most 1,024 conns per slab chunk; fewer
                                                when max_connections is smaller */
#define HTTPD__RATE_WINDOW_MS 5000u          /* body_min_rate is checked per window */
#define HTTPD__DRIVE_ROUNDS 16               /* read/write rounds per connection per turn, so
                                                one busy connection cannot starve others */

enum { HTTPD__S_HEAD, HTTPD__S_BODY, HTTPD__S_HANDLER, HTTPD__S_WS /* a WebSocket (>>ws) */,
       HTTPD__S_PROXY /* the PROXY protocol header comes first (>>proxyproto) */,
       HTTPD__S_CLOSING, HTTPD__S_LINGER,
       HTTPD__S_ABORT /* close now, unsent output dropped */, HTTPD__S_DEAD };
#ifdef HTTPD_NO_FILES
#  define HTTPD__F_FILE_BIT 0     /* never set: its tests fold away */
#else
#  define HTTPD__F_FILE_BIT 1024
#endif
#ifdef HTTPD_NO_STREAMING
#  define HTTPD__F_RESUME_BIT 0   /* no streamed body to resume: likewise */
#else
#  define HTTPD__F_RESUME_BIT 8192
#endif
enum {
    HTTPD__F_READABLE = 1,     /* the socket may have bytes (edge seen, not drained)   */
    HTTPD__F_WBLOCKED = 2,     /* last write was partial: wait for writability        */
    HTTPD__F_EOF = 4,          /* the peer shut down its side                         */
    HTTPD__F_IN_HANDLER = 8,   /* inside the handler call                             */
    HTTPD__F_QUEUED = 16,      /* on the worker's to-drive list                       */
    HTTPD__F_LINGER = 32,      /* close with a lingering read (unread input likely)   */
    HTTPD__F_POLLED = 64,      /* registered with the poller                          */
    HTTPD__F_HEADSTART = 128,  /* a head has started: the header deadline runs        */
    HTTPD__F_RDIRECT = 256,    /* rbuf handed out body-buffer space, not input space  */
    HTTPD__F_RDHUP = 512,      /* the poller saw the peer's FIN: read until 0          */
    HTTPD__F_FILE = HTTPD__F_FILE_BIT, /* a file body follows the buffered output (file_*) */
    HTTPD__F_FILEREAD = 2048,  /* sendfile refused that file: pread it into out        */
    HTTPD__F_FIRST = 4096,     /* no head completed yet: the header deadline counts from
                                  the connection's arrival, not from its first byte      */
    HTTPD__F_RESUME = HTTPD__F_RESUME_BIT, /* a paused body resumed: run the state
                                  machine when the worker drives it (body_release)      */
    HTTPD__F_FILEMEM = 16384,  /* the body is file_mem (read-only memory), not file_fd */
    HTTPD__F_FILECHECK = 32768 /* the body paused: recheck file_tag before going on    */
};

struct httpd__worker;
struct httpd__req;
typedef struct httpd__conn {
    struct httpd__worker *w;
    struct httpd__req    *req;     /* request being read or served; NULL when idle     */
    struct httpd__conn   *next;    /* the worker's to-drive list                       */
    struct httpd__conn   *dnext;   /* dead list (closed this turn), then free list     */
    httpd__buf  in, out;
    httpd__timer timer;
    uint64_t    since;             /* start of the current state's deadline (ms)       */
    uint64_t    wsince;            /* last write progress, for the write timeout       */
    httpd__scan scan;
    int         fd;
    uint32_t    slot, gen;
    uint32_t    linger_bytes;
    int         file_fd;           /* with HTTPD__F_FILE: httpd_send_file's body       */
    uint64_t    file_off, file_left;
    union {                        /* with HTTPD__F_FILEMEM: the body's bytes; else the */
        const char *file_mem;      /* file's httpd__file_tag when it was opened (0: do  */
        uint64_t    file_tag;      /* not check), so a file edited mid-body is caught   */
    } fb;
    struct httpd_ws *ws;           /* set by httpd_ws_upgrade; HTTPD__S_WS <=> ws      */
    uint8_t     addr[16];          /* the client, when the server needs it (>>proxyproto);
                                      else zero                                        */
#ifdef HTTPD_TLS_BEARSSL
    httpd__tls *tls;               /* a connection of the TLS listener (>>tls); NULL:
                                      plaintext, or dropped for a lingering close      */
#endif
    uint16_t    flags;
    uint8_t     state;
    uint8_t     proxied;           /* 1: from the PROXY listener (its own cap)         */
} httpd__conn;

typedef struct httpd__arena_chunk { struct httpd__arena_chunk *next; } httpd__arena_chunk;
typedef struct httpd__req {
    httpd_request        pub;      /* first: an httpd_request * is an httpd__req *     */
    httpd__head          head;
    struct httpd__worker *w;
    httpd__conn         *conn;     /* NULL once the connection is gone                 */
    struct httpd__req   *next_free;
    const httpd__route  *route;
    httpd_handler_fn     handler;
    uint64_t             max_body, body_left;
    char                *body;     /* body buffer (NULL: none, or in place in conn->in)*/
    size_t               body_len, body_cap;
    httpd__chunked       chunked;
    uint32_t             head_len, in_used;  /* bytes of conn->in this request holds   */
    uint8_t              keepalive, responded, body_done, body_in_place, dispatched;
    uint8_t              timed_out;    /* the server answered 504 for it              */
    uint32_t             timeout_ms;   /* request deadline after dispatch             */
    uint64_t             rate_start;   /* body rate window start (ms) and bytes in it */
    uint64_t             rate_bytes;
    httpd__timer         utimer;       /* httpd_after()                               */
    httpd_task          *task;         /* httpd_defer() in flight                     */
    httpd__buf           hold;         /* the input block, taken over when orphaned   */
    uint8_t              streaming;    /* 0, or 1 + HTTPD__FR_* after httpd_begin     */
    uint8_t              no_body;      /* HEAD: the body is counted, not sent         */
    uint8_t              wwait;        /* ufn waits for writability, not for time     */
    uint8_t              stream_body;  /* the body goes to bfn, piece by piece        */
    uint8_t              paused;       /* 1: httpd_body_pause; 2: a timer, task or
                                          writable wait is pending (httpd__body_hold)  */
    uint32_t             held;         /* input bytes of the last piece, kept while
                                          the body is paused after it                 */
    uint64_t             paused_at;    /* ms: when the body was paused                 */
    int                  err;          /* the body error the application was told     */
    httpd_body_fn        bfn;
    void                *barg;
    uint64_t             stream_left;  /* HTTPD__FR_LENGTH: bytes still due           */
    uint8_t              counted;      /* 1: in s->inflight, 2: in its route's count  */
    uint8_t              mwon;         /* the operations chain follows it (>>mw); the
                                          fields at the end are valid only then       */
    httpd_timer_fn       ufn;
    void                *uarg;
    int                  ustatus;
    int                  nparams;
    httpd__param         params[HTTPD__MAX_PARAMS];
    char                *rh;       /* extra response header lines (arena)              */
    uint32_t             rh_len, rh_cap;
    char                *arena;    /* bump allocator: inline part, then chunks         */
    uint32_t             arena_used, arena_cap;
    httpd__arena_chunk  *chunks;
    /* operations (>>mw), set by httpd__mw_adopt when mwon */
    const struct httpd__mwroute *mr;   /* its route's chain                            */
    uint64_t             t0_us;        /* monotonic: the head's arrival                */
    uint64_t             bytes_out;    /* response bytes queued so far                 */
    const char          *why;          /* why the connection closes after it           */
    int                  status;       /* of its response head; 0: none yet            */
    uint8_t              generated;    /* the server answered it itself                */
    uint8_t              mwdone;       /* its completion was reported                  */
    uint8_t              cors_ok;      /* its Origin is allowed                         */
    httpd_str            origin;
    uint8_t              addr[16];     /* the client (PROXY, trusted X-Forwarded-For)   */
    char                 rid[64];      /* request id (pub.request_id points here)      */
} httpd__req;

/* A streamed request body (the route's stream_body) and a streaming response (1 + its
   framing after httpd_begin); under HTTPD_NO_STREAMING both are 0 where the core reads
   them, so the compiler drops those paths. */
/* A request the operations chain follows (>>mw); never under HTTPD_NO_MIDDLEWARE */
/* HTTPD__PROXYPROTO: 0 when HTTPD_NO_MIDDLEWARE refuses desc.proxy_protocol, so that the
   second listener and the PROXY state of a connection are compiled out with it */
#ifdef HTTPD_NO_MIDDLEWARE
#  define HTTPD__MWON(r) ((void)(r), 0)
#  define HTTPD__MW(s) ((void)(s), 0)         /* the server's operations are on */
#  define HTTPD__OPS(w) ((void)(w), 0)        /* and this worker's part of them */
#  define HTTPD__PROXYPROTO 0
#else
#  define HTTPD__MWON(r) ((r)->mwon)
#  define HTTPD__MW(s) ((s)->mw != NULL)
#  define HTTPD__OPS(w) ((w)->ops != NULL)
#  define HTTPD__PROXYPROTO 1
#endif
#ifdef HTTPD_NO_STREAMING
#  define HTTPD__SBODY(x) ((void)(x), 0)
#  define HTTPD__STREAMING(r) ((void)(r), 0)
#else
#  define HTTPD__SBODY(x) ((x)->stream_body)
#  define HTTPD__STREAMING(r) ((r)->streaming)
#endif

typedef struct httpd__prefix {   /* see httpd__head_prefix */
    char     text[248];
    uint16_t len, ct_off, ct_len;  /* ct_len UINT16_MAX: no Content-Type line         */
    int      status;               /* 0: nothing cached                               */
    time_t   sec;
} httpd__prefix;
typedef struct httpd__worker {
    struct httpd_server *s;
    int          index;
    httpd__poll  poll;
    httpd__wakefd wake;            /* stop and cross-thread wake-ups (>>poll)          */
    httpd__wheel wheel;
    uint64_t     now;              /* ms, monotonic, updated once per loop turn        */
    time_t       date_sec;
    char         date[40];         /* "Date: <IMF-fixdate>\r\n", 37 bytes              */
    httpd__prefix prefix;          /* the last response head's first lines            */
    httpd__pool  pool;             /* input/output blocks                              */
#ifdef HTTPD_TLS_BEARSSL
    httpd__pool  tls_mem, tls_buf; /* TLS engines; their record buffers (>>tls)        */
#endif
    httpd__req  *free_reqs;
    uint32_t     nfree_reqs, low_reqs; /* low: fewest free since the last trim        */
    httpd_header *hdrs;            /* max_headers slots: heads are parsed here, then the
                                      fields used are copied into the request's arena */
    httpd__head  head;             /* a head parsed before its request object exists    */
    httpd__conn **chunks;          /* slab of connections, 1 << cbits each             */
    uint32_t     nchunks, max_chunks, nslots, cbits;
    uint32_t     max_slots;        /* preallocate: this worker's share of the slots     */
    uint32_t     out_high, out_low; /* HTTPD__OUT_HIGH/_LOW, or a quarter and an eighth
                                      of a block when blocks cannot grow (preallocate) */
    httpd__conn *free_conns;
    httpd__conn *queue;            /* conns to drive at the end of this loop turn      */
    httpd__conn *dead;             /* closed in this turn; recycled after the batch    */
    struct httpd_ws *ws_list;      /* this worker's WebSockets (>>ws)                  */
    uint32_t     nws;
    struct httpd_ws *ws_spare, *ws_store; /* preallocate: one handle per slot, unused;
                                      their block (NULL: handles are allocated)       */
    uint32_t     nconns;
    uint32_t     held;             /* requests the application holds (async)           */
    httpd__mutex mbox_mu;       /* tasks coming back (completions, posts)           */
    httpd_task  *mbox, *mbox_tail;
    int          mbox_inited;
    int          accepting, paccepting, stopping, forced, draining;
    uint64_t     forced_at;
    uint64_t     stop_at;          /* when the listener stopped (0: it has not)        */
    httpd__timer accept_timer;     /* re-arms accepting after EMFILE                   */
    httpd__timer stop_timer;       /* graceful stop deadline                           */
    httpd__timer drain_timer;      /* end of the drain delay                           */
    httpd__timer trim_timer;       /* every HTTPD__TRIM_MS: free what a burst left     */
    char         scratch[HTTPD__SCRATCH]; /* lingering reads land here                  */
    uint64_t     requests;         /* request heads completed on this worker           */
    HTTPD__ATOMIC(uint64_t) busy_since;  /* ms: out of epoll_wait since; 0 while waiting */
    HTTPD__ATOMIC(uintptr_t) cb_route; /* in an application callback: its httpd__route *
                                      (NULL: none matched) | 1, for the watchdog; else 0 */
    struct httpd__wops *ops;       /* operations state (>>mw); NULL when none is on    */
    uint64_t     blocked_seen;     /* the watchdog's: the stall it reported already    */
    httpd__thread    thread;
    int          started;
} httpd__worker;

struct httpd_server {
    httpd_desc    desc;            /* with defaults filled in                          */
    httpd__limits lim;
    httpd__router router;
    int           listen_fd, port;
#ifdef HTTPD_TLS_BEARSSL
    int           tls_fd, tls_port;  /* the TLS listener (-1: none)                       */
    httpd__tls_conf *tls;          /* certificates, profile, session cache (>>tls_conf) */
#endif
    int           nworkers;
    httpd__worker *workers;
    unsigned      used_methods;    /* bit per HTTPD__M_* used by some route            */
    httpd__taskpool pool;
    HTTPD__ATOMIC(uint32_t) inflight;          /* requests in handlers (max_inflight)   */
    HTTPD__ATOMIC(uint32_t) *route_inflight;   /* per route (max_concurrent)            */
    HTTPD__ATOMIC(uint32_t) nconns;
    HTTPD__ATOMIC(int) stop;       /* 0 running, 1 graceful, 2 immediate               */
    HTTPD__ATOMIC(int) running;    /* workers still in their loop                      */
    HTTPD__ATOMIC(int) listeners_left;
    httpd__wakefd exit;            /* signalled when the last worker ends (>>poll)     */
    HTTPD__ATOMIC(int) gate_users; /* other threads inside httpd_post/submit/stop      */
    HTTPD__ATOMIC(int) gate_closed;/* httpd_wait began releasing: those calls fail     */
    httpd__thread     watchdog;        /* blocked-worker detection, when there is a logger */
    int           watchdog_started;
    struct httpd__mw *mw;          /* operations (>>mw); NULL: none configured         */
    int           proxy_fd, proxy_port;       /* the PROXY protocol listener           */
    HTTPD__ATOMIC(uint32_t) proxy_nconns;
    size_t        server_hdr_len;  /* "Server: <desc.server_name>\r\n" in server_hdr  */
    char          server_hdr[128];
};

/* connection slot i of worker w (i < w->nslots) */
#define HTTPD__SLOT(w, i) (&(w)->chunks[(i) >> (w)->cbits][(i) & ((1u << (w)->cbits) - 1)])

/* implemented by >>machine and >>worker, called from the sections in between */
HTTPD__PRIVATE void httpd__conn_process(httpd__conn *c);
HTTPD__PRIVATE void httpd__conn_out_done(httpd__conn *c);
HTTPD__PRIVATE void httpd__conn_close(httpd__conn *c);
HTTPD__PRIVATE void httpd__conn_drive(httpd__conn *c);
HTTPD__PRIVATE void httpd__conn_arm(httpd__conn *c);
HTTPD__PRIVATE void httpd__conn_interest(httpd__conn *c);
#ifdef HTTPD_TLS_BEARSSL
HTTPD__PRIVATE void httpd__tls_detach(httpd__conn *c);
#endif
/* implemented by >>mw; called only when s->mw (a request's mwon, a worker's ops) is set */
HTTPD__COLD void httpd__mw_head(httpd__req *r, int status, int generated);
HTTPD__COLD void httpd__mw_done(httpd__req *r, const char *why);
HTTPD__COLD void httpd__mw_error(httpd__conn *c, httpd__req *r);
HTTPD__COLD void httpd__cb_timed(httpd__worker *w, const httpd__route *rt, int end);
HTTPD__COLD void httpd__mw_gauges(httpd__worker *w);

/* Around each call into the application (handler, body piece, timer, task completion,
   middleware). The watchdog reads which route's callback holds a stalled worker: one
   store here, cleared at each loop turn (a nested callback names its own route until the
   outer one calls another). With metrics on, calls are timed (nested ones count in the
   outermost). */
HTTPD__HOT void httpd__cb_enter(httpd__worker *w, const httpd__route *rt) {
    HTTPD__STORE_RLX(&w->cb_route, (uintptr_t)rt | 1u);
    if (HTTPD__UNLIKELY(HTTPD__OPS(w))) httpd__cb_timed(w, rt, 0);
}
HTTPD__HOT void httpd__cb_leave(httpd__worker *w, const httpd__route *rt) {
    if (HTTPD__UNLIKELY(HTTPD__OPS(w))) httpd__cb_timed(w, rt, 1);
}

/* ---- per-request memory ---- */
HTTPD__PRIVATE void *httpd__arena_alloc(httpd__req *r, size_t n) {
    n = (n + 7) & ~(size_t)7;
    if (r->arena_cap - r->arena_used >= n) {
        void *p = r->arena + r->arena_used;
        r->arena_used += (uint32_t)n;
        return p;
    }
    if (n > (size_t)1 << 30 || r->w->s->desc.preallocate) return NULL;
    httpd__arena_chunk *ch = (httpd__arena_chunk *)HTTPD_MALLOC(
        r->w->s->desc.alloc_ctx, sizeof(httpd__arena_chunk) + n);
    if (!ch) return NULL;
    ch->next = r->chunks;
    r->chunks = ch;
    return ch + 1;
}
/* The httpd_after() timer of a request fired (or was brought forward by an error). */
HTTPD__PRIVATE void httpd__body_release(httpd__req *r, uint8_t why, int lazily);
HTTPD__PRIVATE void httpd__req_on_timer(httpd__timer *t, void *ctx) {
    httpd__req *r = HTTPD__CONTAINER(t, httpd__req, utimer);
    httpd_timer_fn fn = r->ufn;
    const httpd__route *rt = r->route;
    (void)ctx;
    r->ufn = NULL;
    httpd__body_release(r, 2, 1);
    if (fn) {
        httpd__cb_enter(r->w, rt);
        httpd__worker *w = r->w;                      /* fn may free r */
        fn(&r->pub, r->uarg, r->ustatus);
        httpd__cb_leave(w, rt);
    }
}
/* A streamed body that will never finish: its body callback hears why (via the timer). */
HTTPD__PRIVATE void httpd__req_body_gone(httpd_request *req, void *arg, int status) {
    httpd__req *r = (httpd__req *)req;
    httpd_body_fn fn = r->bfn;
    (void)arg;
    r->bfn = NULL;
    if (fn) fn(req, r->barg, NULL, 0, status);
}
/* The connection is gone or answered 504: the application still holds the request, so it
   is orphaned, not freed; a pending httpd_after() timer, on_writable or body callback
   fires now (on the next loop turn) with the reason. */
HTTPD__PRIVATE void httpd__req_orphan(httpd__req *r, int status) {
    if (HTTPD__MWON(r) && !r->mwdone)       /* the server is done with it: report it now */
        httpd__mw_done(r, r->why ? r->why : status == HTTPD_ERR_TIMEOUT ? "timeout"
                          : HTTPD__LOAD(&r->w->s->stop) ? "stopping" : "client_gone");
    /* its strings point into the connection's input block: keep it with the request
       (the connection is closing) so they stay valid until the application answers */
    if (r->conn) {
        r->hold = r->conn->in;
        memset(&r->conn->in, 0, sizeof r->conn->in);
    }
    r->conn = NULL;
    if (r->task) HTTPD__STORE(&r->task->cancelled, 1);
    if (r->bfn && !r->body_done && !r->utimer.pprev && !r->wwait && !r->task) {
        r->ufn = httpd__req_body_gone;          /* the body callback is the one waiting */
        r->wwait = 1;
    }
    if (r->utimer.pprev || r->wwait) {
        r->wwait = 0;
        r->ustatus = status;
        httpd__wheel_add(&r->w->wheel, &r->utimer, r->w->now);
    }
}
HTTPD__HOT httpd__req *httpd__req_get(httpd__worker *w) {
    httpd__req *r = w->free_reqs;
    if (r) {
        w->free_reqs = r->next_free;
        if (--w->nfree_reqs < w->low_reqs) w->low_reqs = w->nfree_reqs;
    } else {
        if (w->s->desc.preallocate) return NULL;           /* all made at start: 503 */
        r = (httpd__req *)HTTPD_MALLOC(w->s->desc.alloc_ctx,
                                       sizeof(httpd__req) + HTTPD__ARENA_INLINE);
        if (!r) return NULL;
    }
    /* the head is written whole by the parser (or copied), the rest starts at zero */
    memset(&r->pub, 0, sizeof r->pub);
    memset((char *)&r->head + sizeof r->head, 0,
           offsetof(httpd__req, params) - offsetof(httpd__req, head) - sizeof r->head);
    r->head.flags = 0;
    r->head.method_id = HTTPD__M_OTHER;          /* an error before the method is known */
    r->rh = NULL; r->rh_len = r->rh_cap = 0;
    r->chunks = NULL;
    r->head.headers = w->hdrs;
    r->arena = (char *)(r + 1);
    r->arena_used = 0; r->arena_cap = HTTPD__ARENA_INLINE;
    r->utimer.fire = httpd__req_on_timer;
    r->w = w;
    r->pub.server = w->s;
    return r;
}
HTTPD__PRIVATE void httpd__req_put(httpd__req *r) {
    httpd__worker *w = r->w;
    void *ctx = w->s->desc.alloc_ctx;
    if (HTTPD__UNLIKELY(HTTPD__MWON(r))) {     /* not reported yet: it ends without an answer */
        if (!r->mwdone) httpd__mw_done(r, HTTPD__LOAD(&w->s->stop) ? "stopping" : "client_gone");
        r->mwon = 0;
    }
    httpd__wheel_del(&w->wheel, &r->utimer);
    while (r->chunks) {
        httpd__arena_chunk *n = r->chunks->next;
        HTTPD_FREE(ctx, r->chunks);
        r->chunks = n;
    }
    if (r->body && !r->body_in_place) HTTPD_FREE(ctx, r->body);
    r->body = NULL;
    httpd__buf_release(&w->pool, &r->hold);
    if (w->nfree_reqs >= 64 && !w->max_slots) { HTTPD_FREE(ctx, r); return; }
    r->next_free = w->free_reqs;
    w->free_reqs = r;
    w->nfree_reqs++;
}

/* The connection has work for the worker at the end of this loop turn (it was answered
   from a timer or a task, its output grew, a body was resumed). */
HTTPD__PRIVATE void httpd__conn_queue(httpd__conn *c) {
    if (c->flags & HTTPD__F_QUEUED) return;
    c->flags |= HTTPD__F_QUEUED;
    c->next = c->w->queue;
    c->w->queue = c;
}

/* A streamed body stops being read while the application pauses it (why 1) or while a
   timer, task or writable wait of the request is pending (why 2), so that a piece handed
   out stays valid until then and the work it started can finish first. Time spent paused
   is the application's, not the client's: on resume the body's deadlines (the minimum
   rate window, the body timeout) move forward by the pause. */
HTTPD__PRIVATE void httpd__body_hold(httpd__req *r, uint8_t why) {
    if (!r->paused) r->paused_at = r->w->now;
    r->paused |= why;
}
/* Drops one reason to pause; with none left, reading goes on: at once, or, `lazily`, at
   the end of the loop turn (the callback about to run may pause it again). */
HTTPD__PRIVATE void httpd__body_release(httpd__req *r, uint8_t why, int lazily) {
#ifdef HTTPD_NO_STREAMING
    (void)r; (void)why; (void)lazily;          /* no streamed body: never held */
#else
    if (!(r->paused & why)) return;
    r->paused = (uint8_t)(r->paused & ~why);
    if (r->paused) return;
    uint64_t d = r->w->now - r->paused_at;
    r->rate_start += d;
    httpd__conn *c = r->conn;
    if (!c) return;
    if (c->state == HTTPD__S_BODY) c->since += d;
    if (!lazily && !(c->flags & HTTPD__F_IN_HANDLER)) httpd__conn_process(c);
    else c->flags |= HTTPD__F_RESUME;          /* what is buffered goes on when driven */
    httpd__conn_queue(c);                      /* the worker reads the socket again */
#endif
}
/* A timer, task or writable wait was set up for r: hold its body (if one is streaming). */
HTTPD__PRIVATE void httpd__req_wait_body(httpd__req *r) {
    if (HTTPD__SBODY(r) && !r->body_done) httpd__body_hold(r, 2);
}

/* ================================================================== >>response
   Response heads and whole responses, appended to the connection's output in request
   order: httpd_respond, header and trailer fields, the answers the server generates
   itself (errors, 404/405/OPTIONS, load shedding). A complete answer hands the
   connection back to the state machine (httpd__req_answered -> httpd__conn_process).
   Calls: >>conn. Owner: the connection's worker thread. */
HTTPD_API const char *httpd_reason(int status) {
#ifdef HTTPD_MINIMAL
    /* the statuses the server sends itself and the usual ones; others get none (the
       phrase is optional, RFC 9112 §4: "HTTP/1.1 207 ") */
    static const uint16_t code[] = {
        200, 201, 204, 301, 302, 304, 400, 401, 403, 404, 405, 408, 413, 414, 417, 431, 500,
        501, 503, 504, 505 };
    static const char text[] =
        "OK\0Created\0No Content\0Moved Permanently\0Found\0Not Modified\0Bad Request\0"
        "Unauthorized\0Forbidden\0Not Found\0Method Not Allowed\0Request Timeout\0"
        "Content Too Large\0URI Too Long\0Expectation Failed\0"
        "Request Header Fields Too Large\0Internal Server Error\0Not Implemented\0"
        "Service Unavailable\0Gateway Timeout\0HTTP Version Not Supported\0";
#else
    /* the codes, and their phrases in the same order (a table: half the size of a switch) */
    static const uint16_t code[] = {
        100, 101, 200, 201, 202, 204, 206, 301, 302, 303, 304, 307, 308, 400, 401, 403, 404,
        405, 406, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 422, 426, 429, 431, 500,
        501, 502, 503, 504, 505 };
    static const char text[] =
        "Continue\0Switching Protocols\0OK\0Created\0Accepted\0No Content\0Partial Content\0"
        "Moved Permanently\0Found\0See Other\0Not Modified\0Temporary Redirect\0"
        "Permanent Redirect\0Bad Request\0Unauthorized\0Forbidden\0Not Found\0"
        "Method Not Allowed\0Not Acceptable\0Request Timeout\0Conflict\0Gone\0Length Required\0"
        "Precondition Failed\0Content Too Large\0URI Too Long\0Unsupported Media Type\0"
        "Range Not Satisfiable\0Expectation Failed\0Unprocessable Content\0Upgrade Required\0"
        "Too Many Requests\0Request Header Fields Too Large\0Internal Server Error\0"
        "Not Implemented\0Bad Gateway\0Service Unavailable\0Gateway Timeout\0"
        "HTTP Version Not Supported\0";
#endif
    const char *p = text;
    for (size_t i = 0; i < sizeof code / sizeof code[0]; i++, p += strlen(p) + 1)
        if (code[i] == status) return p;
#ifdef HTTPD_MINIMAL
    return "";
#else
    return status < 200 ? "Informational" : status < 300 ? "OK" : status < 400 ? "Redirect"
         : status < 500 ? "Client Error" : "Server Error";
#endif
}
/* Appends a response head to c->out, with room for `more` bytes after it. framing:
   HTTPD__FR_LENGTH (Content-Length: len), _CHUNKED, _CLOSE (body until close). keepalive 0
   adds "Connection: close"; an HTTP/1.0 client that asked for keep-alive gets
   "Connection: keep-alive". */
/* s is a token (token 1) or a field value (0): no CR, LF, NUL or other control. */
HTTPD__PRIVATE int httpd__is_ctl_free(const char *s, int token) {
    if (!*s && token) return 0;
    for (; *s; s++) {
        if (!HTTPD__IS(*s, token ? HTTPD__C_TCHAR : HTTPD__C_VCHAR)) return 0;
    }
    return 1;
}
/* The start of a head at p: status line, Date, Server (desc.server_name, if any) and,
   when ctype, Content-Type. Returns its end. Shared by the cached prefix and heads built
   in place. */
HTTPD__PRIVATE char *httpd__head_start(char *p, const httpd__worker *w, int status,
                                       const char *reason, size_t rl, const char *ctype,
                                       size_t cl) {
    unsigned st = (unsigned)status, hi = st / 100;              /* 100..999 */
    memcpy(p, "HTTP/1.1 ", 9);
    p[9] = (char)('0' + hi);
    memcpy(p + 10, httpd__pairs + 2 * (st - hi * 100), 2);
    p[12] = ' ';
    p += 13;
    memcpy(p, reason, rl); p += rl;
    *p++ = '\r'; *p++ = '\n';
    memcpy(p, w->date, 37); p += 37;
    memcpy(p, w->s->server_hdr, w->s->server_hdr_len); p += w->s->server_hdr_len;
    if (ctype) {
        memcpy(p, "Content-Type: ", 14); p += 14;
        memcpy(p, ctype, cl); p += cl;
        *p++ = '\r'; *p++ = '\n';
    }
    return p;
}
/* The status line, Date and Content-Type of the last head this worker wrote, kept ready:
   most responses repeat them, so a head is then one copy and a compare of the type
   (a type that matches was checked when the prefix was built). Rebuilt when the status,
   the type or the second changes; never kept under HTTPD_MINIMAL. 0, or HTTPD_ERR_INVAL
   for a type with CR, LF or NUL. */
HTTPD__PRIVATE int httpd__head_prefix(httpd__worker *w, int status, const char *ctype) {
    httpd__prefix *x = &w->prefix;
#ifdef HTTPD_MINIMAL                      /* no cache (smaller): every head built in place */
    (void)status;
    x->len = 0;
    return ctype && !httpd__is_ctl_free(ctype, 0) ? HTTPD_ERR_INVAL : 0;
#endif
    if (x->status == status && x->sec == w->date_sec
        && (ctype ? x->ct_len != UINT16_MAX && !strncmp(ctype, x->text + x->ct_off, x->ct_len)
                    && ctype[x->ct_len] == '\0'
                  : x->ct_len == UINT16_MAX))
        return 0;
    const char *reason = httpd_reason(status);
    size_t rl = strlen(reason), cl = ctype ? strlen(ctype) : 0, sl = w->s->server_hdr_len;
    if (ctype && !httpd__is_ctl_free(ctype, 0)) return HTTPD_ERR_INVAL;
    x->status = 0;                               /* invalid until complete */
    if (13 + rl + 2 + 37 + sl + (ctype ? 16 + cl : 0) > sizeof x->text) {
        x->len = 0;                              /* too long to keep: built in place */
        return 0;
    }
    char *p = httpd__head_start(x->text, w, status, reason, rl, ctype, cl);
    x->ct_len = UINT16_MAX;
    if (ctype) {
        x->ct_off = (uint16_t)(p - 2 - cl - x->text);
        x->ct_len = (uint16_t)cl;
    }
    x->len = (uint16_t)(p - x->text);
    x->sec = w->date_sec;
    x->status = status;
    return 0;
}
HTTPD__PRIVATE int httpd__write_head(httpd__conn *c, int status, const char *ctype,
                                     const char *extra, size_t extra_len, int keepalive,
                                     int minor, int framing, uint64_t len, size_t more) {
    httpd__worker *w = c->w;
    int rc = httpd__head_prefix(w, status, ctype);
    if (rc < 0) return rc;
    const char *reason = NULL;
    size_t rl = 0, cl = 0, pre = w->prefix.len;
    if (!pre) { reason = httpd_reason(status); rl = strlen(reason); cl = ctype ? strlen(ctype) : 0; }
    int bodyless = status < 200 || status == 204 || status == 304;
    size_t need = pre + (pre ? 0 : 13 + rl + 2 + 37 + w->s->server_hdr_len + 16 + cl) + 40
                + extra_len + 28 + 2 + more;
    if ((rc = httpd__buf_reserve(&w->pool, &c->out, need)) < 0) return rc;
    char *p = c->out.data + c->out.len;
    if (pre) {
        memcpy(p, w->prefix.text, pre);
        p += pre;
    } else {                      /* a type too long for the cache; every head if MINIMAL */
        p = httpd__head_start(p, w, status, reason, rl, ctype, cl);
    }
    if (!bodyless && framing == HTTPD__FR_LENGTH) {
        memcpy(p, "Content-Length: ", 16); p += 16;
        p += httpd__utoa(p, len);
        *p++ = '\r'; *p++ = '\n';
    } else if (!bodyless && framing == HTTPD__FR_CHUNKED) {
        memcpy(p, "Transfer-Encoding: chunked\r\n", 28); p += 28;
    }
    if (extra_len) { memcpy(p, extra, extra_len); p += extra_len; }
    if (!keepalive) { memcpy(p, "Connection: close\r\n", 19); p += 19; }
    else if (minor == 0) { memcpy(p, "Connection: keep-alive\r\n", 24); p += 24; }
    *p++ = '\r'; *p++ = '\n';
    c->out.len = (uint32_t)(p - c->out.data);
    return 0;
}
/* Appends a complete response (head and body; no body for HEAD) to c->out. */
HTTPD__HOT int httpd__write_response(httpd__conn *c, int status, const char *ctype,
                                     const char *extra, size_t extra_len,
                                     const void *body, size_t len, int keepalive,
                                     int minor, int no_body) {
    if (status < 200 || status == 204 || status == 304) len = 0;
    int rc = httpd__write_head(c, status, ctype, extra, extra_len, keepalive, minor,
                               HTTPD__FR_LENGTH, len, no_body ? 0 : len);
    if (rc < 0 || no_body || !len) return rc;
    memcpy(c->out.data + c->out.len, body, len);
    c->out.len += (uint32_t)len;
    return 0;
}
/* Appends "name: value" CRLF to the request's extra lines: response header fields until
   httpd_begin sends them, then trailer fields for httpd_end. */
HTTPD__PRIVATE int httpd__rh_put(httpd__req *r, const char *name, size_t nl, const char *value,
                                  size_t vl) {
    size_t need = nl + vl + 4;
    if (r->rh_len + need > r->rh_cap) {
        size_t cap = HTTPD__MAX((size_t)r->rh_cap * 2, r->rh_len + need + 128);
        if (cap > UINT32_MAX / 2) return HTTPD_ERR_TOOLARGE;
        char *n = (char *)httpd__arena_alloc(r, cap);
        if (!n) return HTTPD_ERR_NOMEM;
        if (r->rh_len) memcpy(n, r->rh, r->rh_len);
        r->rh = n; r->rh_cap = (uint32_t)cap;
    }
    char *p = r->rh + r->rh_len;
    memcpy(p, name, nl); p += nl; *p++ = ':'; *p++ = ' ';
    memcpy(p, value, vl); p += vl; *p++ = '\r'; *p++ = '\n';
    r->rh_len += (uint32_t)need;
    return 0;
}
HTTPD__PRIVATE int httpd__rh_append(httpd__req *r, const char *name, const char *value) {
    if (!httpd__is_ctl_free(name, 1) || !httpd__is_ctl_free(value, 0)) return HTTPD_ERR_INVAL;
    return httpd__rh_put(r, name, strlen(name), value, strlen(value));
}
HTTPD_API int httpd_add_header(httpd_request *req, const char *name, const char *value) {
    httpd__req *r = (httpd__req *)req;
    if (!req || !name || !value || r->responded) return HTTPD_ERR_INVAL;
    if (HTTPD__STREAMING(r)) return HTTPD_ERR_STATE;             /* the head went out already */
    return httpd__rh_append(r, name, value);
}
#ifndef HTTPD_NO_STREAMING
HTTPD_API int httpd_add_trailer(httpd_request *req, const char *name, const char *value) {
    /* RFC 9110 §6.5.1: framing, routing, request modifiers, authentication, response
       control data and content metadata must not be sent as trailers */
    static const char *const banned[] = {   /* and every Content-* field (below) */
        "transfer-encoding", "trailer", "host", "connection", "keep-alive", "te", "upgrade",
        "cache-control", "expires", "date", "age", "location", "retry-after", "vary",
        "authorization", "www-authenticate", "proxy-authenticate", "set-cookie", NULL };
    httpd__req *r = (httpd__req *)req;
    if (!req || !name || !value || r->responded) return HTTPD_ERR_INVAL;
    if (!httpd__is_ctl_free(name, 1) || !httpd__is_ctl_free(value, 0)) return HTTPD_ERR_INVAL;
    size_t nl = strlen(name);
    if (nl > 8 && httpd__ieq(name, "content-", 8)) return HTTPD_ERR_INVAL;
    for (int i = 0; banned[i]; i++)
        if (httpd__ieq2(name, nl, banned[i], strlen(banned[i]))) return HTTPD_ERR_INVAL;
    if (!HTTPD__STREAMING(r)) return HTTPD_ERR_STATE;
    if (r->no_body) return 0;                     /* HEAD: dropped like the body */
    if (HTTPD__STREAMING(r) - 1 != HTTPD__FR_CHUNKED) return HTTPD_ERR_STATE;
    return httpd__rh_append(r, name, value);
}
#endif
/* May the connection carry another request after this one? A body still unread means a
   close, except for a streaming response to a streamed body, which is expected to read it
   all before it ends (httpd_end closes if it did not). */
HTTPD__PRIVATE int httpd__keepalive(const httpd__conn *c, const httpd__req *r) {
    /* a client that half-closed still gets answers to the requests it sent before: the
       last one buffered says Connection: close */
    return r->keepalive && (r->body_done || (HTTPD__SBODY(r) && HTTPD__STREAMING(r)))
        && (!(c->flags & HTTPD__F_EOF) || c->in.len > c->in.pos + r->in_used)
        && HTTPD__LOAD(&c->w->s->stop) == 0;
}
/* The application answered: the request no longer counts against the limits. */
HTTPD__PRIVATE void httpd__req_uncount(httpd__req *r) {
#ifdef HTTPD_NO_SHED
    (void)r;                                   /* never counted */
#else
    httpd_server *s = r->w->s;
    if (r->counted & 1) HTTPD__ADJ(&s->inflight, (uint32_t)-1);
    if (r->counted & 2)
        HTTPD__ADJ(&s->route_inflight[r->route - s->router.routes], (uint32_t)-1);
    r->counted = 0;
#endif
}
/* The application answers an orphaned request: free it and say why it went nowhere. */
HTTPD__PRIVATE int httpd__req_drop_orphan(httpd__req *r) {
    int rc = r->err ? r->err : r->timed_out ? HTTPD_ERR_TIMEOUT : HTTPD_ERR_CLOSED;
    httpd__req_uncount(r);
    r->w->held--;
    httpd__req_put(r);
    return rc;
}
/* The application answered (httpd_respond or httpd_end): carry on from here. */
HTTPD__PRIVATE void httpd__req_answered(httpd__req *r, httpd__conn *c) {
    r->responded = 1;
    httpd__req_uncount(r);
    if (r->dispatched) c->w->held--;
    if (!(c->flags & HTTPD__F_IN_HANDLER)) {
        httpd__conn_process(c);
        httpd__conn_queue(c);
    }
}
/* httpd_respond with operations on (>>mw): the response side of the chain, bytes counted. */
HTTPD__COLD int httpd__respond_mw(httpd__req *r, httpd__conn *c, int status, const char *type,
                                  const void *body, size_t len) {
    size_t queued = c->out.len - c->out.pos;
    r->keepalive = (uint8_t)httpd__keepalive(c, r);
    httpd__mw_head(r, status, 0);
    int rc = httpd__write_response(c, status, type, r->rh, r->rh_len, body, len, r->keepalive,
                                   r->head.minor_version, r->head.method_id == HTTPD__M_HEAD);
    if (rc < 0) return rc;
    r->bytes_out += c->out.len - c->out.pos - queued;
    httpd__req_answered(r, c);
    return 0;
}
HTTPD_API int httpd_respond(httpd_request *req, int status, const char *content_type,
                            const void *body, size_t len) {
    httpd__req *r = (httpd__req *)req;
    if (!req || r->responded || status < 200 || status > 999) return HTTPD_ERR_INVAL;
    if (r->utimer.pprev || r->task || r->wwait) return HTTPD_ERR_STATE;  /* still pending */
    if (HTTPD__STREAMING(r)) return HTTPD_ERR_STATE;                /* httpd_end finishes those */
    httpd__conn *c = r->conn;
    if (!c) {                  /* the client left (or got a 504) while we were working */
        return httpd__req_drop_orphan(r);
    }
    if (HTTPD__UNLIKELY(HTTPD__MWON(r)))
        return httpd__respond_mw(r, c, status, content_type, body, len);
    r->keepalive = (uint8_t)httpd__keepalive(c, r);
    int rc = httpd__write_response(c, status, content_type, r->rh, r->rh_len, body, len,
                                   r->keepalive, r->head.minor_version,
                                   r->head.method_id == HTTPD__M_HEAD);
    if (rc < 0) return rc;
    httpd__req_answered(r, c);
    return 0;
}

/* The server answers r itself (an error, 404/405, OPTIONS, 503, 429, a preflight). With
   operations on, the middleware's fields (request id, CORS, the application's) and the
   error handler's body go in; extra holds the answer's own fields (Allow, Retry-After). */
HTTPD__PRIVATE int httpd__conn_reply(httpd__conn *c, httpd__req *r, int status,
                                     const char *ctype, const char *extra, size_t extra_len,
                                     const char *body, size_t len, int keepalive) {
    int head = r && r->head.method_id == HTTPD__M_HEAD, minor = r ? r->head.minor_version : 1;
    if (!r || !HTTPD__MWON(r))
        return httpd__write_response(c, status, ctype, extra, extra_len, body, len, keepalive,
                                     minor, head);
    char custom[1024];
    httpd_error_fn on_error = c->w->s->desc.on_error;
    if (r->cors_ok != 2) r->rh_len = 0; /* nothing the handler added goes on an error;
                                          a preflight's own fields stay */
    if (extra_len) {                      /* the answer's lines, as they are */
        if (r->rh_cap - r->rh_len < extra_len) {
            char *n = (char *)httpd__arena_alloc(r, r->rh_len + extra_len + 256);
            if (!n) return HTTPD_ERR_NOMEM;
            if (r->rh_len) memcpy(n, r->rh, r->rh_len);
            r->rh = n; r->rh_cap = r->rh_len + (uint32_t)extra_len + 256;
        }
        memcpy(r->rh + r->rh_len, extra, extra_len);
        r->rh_len += (uint32_t)extra_len;
    }
    if (status >= 400 && on_error) {
        const char *ct = ctype;
        int n = on_error(&r->pub, status, custom, sizeof custom, &ct);
        if (n >= 0 && (size_t)n <= sizeof custom && (!ct || httpd__is_ctl_free(ct, 0))) {
            body = custom; len = (size_t)n; ctype = ct;
        }
    }
    size_t queued = c->out.len - c->out.pos;
    httpd__mw_head(r, status, 1);
    int rc = httpd__write_response(c, status, ctype, r->rh, r->rh_len, body, len, keepalive,
                                   minor, head);
    if (rc == 0) r->bytes_out += c->out.len - c->out.pos - queued;
    return rc;
}

/* "404 Not Found\n" into b[64]: the body of the server's own answers. Its length. */
HTTPD__PRIVATE size_t httpd__status_body(char *b, int status) {
    const char *reason = httpd_reason(status);
    size_t n = httpd__utoa(b, (uint64_t)status);
    b[n++] = ' ';
    size_t rl = HTTPD__MIN(strlen(reason), 64 - n - 2);
    memcpy(b + n, reason, rl); n += rl;
    b[n++] = '\n';
    return n;
}
/* An error status generated by the server: always "Connection: close", then a lingering
   close so that the client can read it even if it is still sending. r: the request it
   answers, freed after when `owned` (NULL: none was made yet; with operations on one is
   made then, so that the answer is logged, counted and carries a request id). */
HTTPD__COLD void httpd__conn_fail(httpd__conn *c, httpd__req *r, int status, int owned) {
    if (HTTPD__UNLIKELY(HTTPD__MW(c->w->s)) && (!r || !HTTPD__MWON(r))) {
        if (!r && (r = httpd__req_get(c->w)) != NULL) owned = 1;
        if (r) httpd__mw_error(c, r);
    }
    if (!r || !r->responded) {
        char body[64];
        size_t n = httpd__status_body(body, status);
        if (httpd__conn_reply(c, r, status, "text/plain", NULL, 0, body, n, 0) < 0)
            c->out.pos = c->out.len;                     /* cannot even say why: just close */
    }
    if (r && HTTPD__MWON(r))
        httpd__mw_done(r, status == 408 || status == 504 ? "timeout" : "error");
    if (r && owned) {
        HTTPD_ASSERT(!(c->flags & HTTPD__F_IN_HANDLER));
        httpd__req_put(r);
        if (c->req == r) c->req = NULL;
    }
    c->state = HTTPD__S_CLOSING;
    c->flags |= HTTPD__F_LINGER;
    HTTPD__LOG(c->w->s, HTTPD_LOG_DEBUG, status, "request rejected with %d", status);
}
HTTPD__PRIVATE void httpd__conn_error(httpd__conn *c, int status) {
    httpd__conn_fail(c, c->req, status, 1);
}
#ifndef HTTPD_NO_SHED
/* Load shedding: over max_inflight or the route's max_concurrent, answer
   503 + Retry-After at once instead of queueing without bound. Returns 1 if shed. */
HTTPD__PRIVATE int httpd__conn_shed(httpd__conn *c, httpd__req *r) {
    httpd_server *s = c->w->s;
    uint32_t lim = s->desc.max_inflight;
    if (lim) {
        if (HTTPD__ADD(&s->inflight, 1u) >= lim) HTTPD__ADJ(&s->inflight, (uint32_t)-1);
        else r->counted |= 1;
    }
    if (r->route && r->route->pub->max_concurrent && (!lim || (r->counted & 1))) {
        size_t i = (size_t)(r->route - s->router.routes);
        if (HTTPD__ADD(&s->route_inflight[i], 1u) >= r->route->pub->max_concurrent)
            HTTPD__ADJ(&s->route_inflight[i], (uint32_t)-1);
        else r->counted |= 2;
    }
    int want = (lim ? 1 : 0) | (r->route && r->route->pub->max_concurrent ? 2 : 0);
    if ((r->counted & want) == want) return 0;
    httpd__req_uncount(r);
    r->keepalive = (uint8_t)httpd__keepalive(c, r);
    static const char retry[] = "Retry-After: 1\r\n";
    char body[64];
    size_t bl = httpd__status_body(body, 503);
    if (httpd__conn_reply(c, r, 503, "text/plain", retry, sizeof retry - 1, body, bl,
                          r->keepalive) < 0)
        c->out.pos = c->out.len;
    r->responded = 1;
    c->state = HTTPD__S_HANDLER;
    return 1;
}
#endif /* HTTPD_NO_SHED */
/* Answers a request the router settled itself: 404, 405 or OPTIONS, with Allow. The
   operations chain runs first, the answer standing where a handler would. */
HTTPD__COLD int httpd__mw_begin(httpd__conn *c, httpd__req *r);
HTTPD__PRIVATE void httpd__conn_auto(httpd__conn *c, int status, unsigned allow) {
    httpd__req *r = c->req;
    char extra[128];
    size_t n = 0;
    if (HTTPD__UNLIKELY(HTTPD__MW(c->w->s)) && httpd__mw_begin(c, r)) return;
    if (status != 404) {
        if (allow & (1u << HTTPD__M_GET)) allow |= 1u << HTTPD__M_HEAD;
        allow |= 1u << HTTPD__M_OPTIONS;
        memcpy(extra, "Allow: ", 7); n = 7;
        for (int m = 1; m < HTTPD__M_COUNT; m++) {
            if (!(allow & (1u << m))) continue;
            size_t l = strlen(httpd__method_names[m]);
            if (n > 7) { extra[n++] = ','; extra[n++] = ' '; }
            memcpy(extra + n, httpd__method_names[m], l); n += l;
        }
        extra[n++] = '\r'; extra[n++] = '\n';
    }
    r->keepalive = (uint8_t)httpd__keepalive(c, r);
    char body[64];                                     /* 404, 405: the status; 200: none */
    size_t bl = status == 200 ? 0 : httpd__status_body(body, status);
    if (httpd__conn_reply(c, r, status, status == 200 ? NULL : "text/plain", extra, n, body,
                          bl, r->keepalive) < 0) {
        httpd__conn_error(c, 503);
        return;
    }
    r->responded = 1;
    c->state = HTTPD__S_HANDLER;
}

/* ==================================================================== >>stream
   Streaming both ways. Responses: httpd_begin sends the head, httpd_write appends (chunk
   framing for HTTP/1.1 without a length), HTTPD_WRITE_FULL above HTTPD__OUT_HIGH and
   httpd_on_writable below HTTPD__OUT_LOW keep memory flat; Server-Sent Events on top.
   Request bodies: httpd_body_read hands the body to a callback piece by piece (the
   pieces are cut by >>machine), pause/resume stop and restart reading the socket.
   Calls: >>conn, >>response. Owner: the connection's worker thread. */
#ifndef HTTPD_NO_STREAMING
HTTPD_API int httpd_begin(httpd_request *req, int status, const char *content_type,
                          int64_t content_length) {
    httpd__req *r = (httpd__req *)req;
    if (!req || r->responded || HTTPD__STREAMING(r) || status < 200 || status > 999)
        return HTTPD_ERR_INVAL;
    if (content_type && !httpd__is_ctl_free(content_type, 0)) return HTTPD_ERR_INVAL;
    if (r->utimer.pprev || r->task || r->wwait || !r->dispatched) return HTTPD_ERR_STATE;
    httpd__conn *c = r->conn;
    if (!c) return r->timed_out ? HTTPD_ERR_TIMEOUT : HTTPD_ERR_CLOSED;  /* httpd_end frees */
    int minor = r->head.minor_version;
    int fr = content_length >= 0 ? HTTPD__FR_LENGTH : minor ? HTTPD__FR_CHUNKED : HTTPD__FR_CLOSE;
    if (status == 204 || status == 304) { fr = HTTPD__FR_LENGTH; content_length = 0; }
    size_t queued = c->out.len - c->out.pos;
    if (HTTPD__MWON(r)) httpd__mw_head(r, status, 0);
    r->streaming = (uint8_t)(1 + fr);
    r->keepalive = (uint8_t)(httpd__keepalive(c, r) && fr != HTTPD__FR_CLOSE);
    int rc = httpd__write_head(c, status, content_type, r->rh, r->rh_len, r->keepalive, minor,
                               fr, content_length >= 0 ? (uint64_t)content_length : 0, 0);
    if (rc < 0) { r->streaming = 0; return rc; }
    if (HTTPD__MWON(r)) r->bytes_out += c->out.len - c->out.pos - queued;
    r->rh_len = 0;                             /* the extra lines are trailers from now on */
    r->stream_left = content_length >= 0 ? (uint64_t)content_length : 0;
    r->no_body = r->head.method_id == HTTPD__M_HEAD || status == 204 || status == 304;
    if (!(c->flags & HTTPD__F_IN_HANDLER)) httpd__conn_queue(c);
    return 0;
}
HTTPD_API int httpd_write(httpd_request *req, const void *data, size_t n) {
    httpd__req *r = (httpd__req *)req;
    if (!req || !HTTPD__STREAMING(r) || r->responded || (n && !data)) return HTTPD_ERR_INVAL;
    httpd__conn *c = r->conn;
    if (!c) return r->timed_out ? HTTPD_ERR_TIMEOUT : HTTPD_ERR_CLOSED;
    int fr = HTTPD__STREAMING(r) - 1;
    if (fr == HTTPD__FR_LENGTH) {
        if (n > r->stream_left) return HTTPD_ERR_INVAL;
        r->stream_left -= n;
    }
    if (n > (size_t)0x7fffffff - 20) return HTTPD_ERR_TOOLARGE;   /* an output block's cap */
    if (n && !r->no_body) {
        int rc = httpd__buf_reserve(&c->w->pool, &c->out, n + 20);
        if (rc < 0) return rc;
        char *p = c->out.data + c->out.len;
        if (fr == HTTPD__FR_CHUNKED) {                 /* chunk-size CRLF data CRLF */
            static const char hex[] = "0123456789abcdef";
            char tmp[16];
            int k = 0;
            for (uint64_t v = n; v; v >>= 4) tmp[k++] = hex[v & 15];
            while (k) *p++ = tmp[--k];
            *p++ = '\r'; *p++ = '\n';
        }
        memcpy(p, data, n); p += n;
        if (fr == HTTPD__FR_CHUNKED) { *p++ = '\r'; *p++ = '\n'; }
        if (HTTPD__MWON(r)) r->bytes_out += (uint64_t)(p - (c->out.data + c->out.len));
        c->out.len = (uint32_t)(p - c->out.data);
        if (!(c->flags & HTTPD__F_IN_HANDLER)) httpd__conn_queue(c);
    }
    return c->out.len - c->out.pos > c->w->out_high ? HTTPD_WRITE_FULL : 0;
}
/* Calls the on_writable waiter once the queued output is below the low-water mark. */
#endif /* HTTPD_NO_STREAMING */
HTTPD__PRIVATE void httpd__conn_writable(httpd__conn *c) {
    httpd__req *r = c->req;
    if (!r || !r->wwait || c->out.len - c->out.pos >= c->w->out_low) return;
    httpd_timer_fn fn = r->ufn;
    const httpd__route *rt = r->route;
    r->wwait = 0;
    r->ufn = NULL;
    httpd__body_release(r, 2, 1);
    httpd__cb_enter(c->w, rt);
    fn(&r->pub, r->uarg, 0);
    httpd__cb_leave(c->w, rt);
}
#ifndef HTTPD_NO_STREAMING
HTTPD_API int httpd_on_writable(httpd_request *req, httpd_timer_fn fn, void *arg) {
    httpd__req *r = (httpd__req *)req;
    if (!req || !fn) return HTTPD_ERR_INVAL;
    if (!HTTPD__STREAMING(r) || r->responded || r->utimer.pprev || r->task || r->wwait)
        return HTTPD_ERR_STATE;
    r->ufn = fn;
    r->uarg = arg;
    r->wwait = 1;
    httpd__req_wait_body(r);
    if (!r->conn) httpd__req_orphan(r, r->timed_out ? HTTPD_ERR_TIMEOUT : HTTPD_ERR_CLOSED);
    else httpd__conn_queue(r->conn);        /* checked when the worker drives it */
    return 0;
}
HTTPD_API int httpd_end(httpd_request *req) {
    httpd__req *r = (httpd__req *)req;
    if (!req || r->responded) return HTTPD_ERR_INVAL;
    if (r->utimer.pprev || r->task || r->wwait) return HTTPD_ERR_STATE;
    httpd__conn *c = r->conn;
    if (!c) {                                     /* client gone: free it */
        return httpd__req_drop_orphan(r);
    }
    if (!HTTPD__STREAMING(r)) return HTTPD_ERR_STATE;
    int rc = 0;
    if (HTTPD__STREAMING(r) - 1 == HTTPD__FR_CHUNKED && !r->no_body) {
        rc = httpd__buf_reserve(&c->w->pool, &c->out, 5 + (size_t)r->rh_len);
        if (rc == 0) {                             /* last-chunk, trailer fields, CRLF */
            char *p = c->out.data + c->out.len;
            memcpy(p, "0\r\n", 3);
            if (r->rh_len) memcpy(p + 3, r->rh, r->rh_len);
            memcpy(p + 3 + r->rh_len, "\r\n", 2);
            c->out.len += 5 + r->rh_len;
            if (HTTPD__MWON(r)) r->bytes_out += 5 + r->rh_len;
        } else {
            r->keepalive = 0;                     /* cannot finish the framing: close */
            c->flags |= HTTPD__F_LINGER;
        }
    } else if (HTTPD__STREAMING(r) - 1 == HTTPD__FR_LENGTH && r->stream_left) {
        r->keepalive = 0;                        /* short body: only a close can say so */
        rc = HTTPD_ERR_INVAL;
    }
    httpd__req_answered(r, c);
    return rc;
}
/* ---- streamed request bodies ---- */
HTTPD_API int httpd_body_read(httpd_request *req, httpd_body_fn fn, void *arg) {
    httpd__req *r = (httpd__req *)req;
    if (!req || !fn) return HTTPD_ERR_INVAL;
    if (!HTTPD__SBODY(r) || r->bfn || r->responded) return HTTPD_ERR_STATE;
    httpd__conn *c = r->conn;
    if (!c) return r->timed_out ? HTTPD_ERR_TIMEOUT : HTTPD_ERR_CLOSED;
    if (r->body_done) {                        /* no body at all: just the end */
        fn(req, arg, NULL, 0, HTTPD_BODY_END);
        return 0;
    }
    r->bfn = fn;
    r->barg = arg;
    c->since = r->rate_start = c->w->now;
    r->rate_bytes = 0;
    /* RFC 9110 §10.1.1: 100 Continue only once we will read, before any response */
    if ((r->head.flags & HTTPD__H_EXPECT) && !HTTPD__STREAMING(r) && !r->body_len
        && c->in.len == c->in.pos + r->in_used
        && httpd__buf_append(&c->w->pool, &c->out, HTTPD__LIT("HTTP/1.1 100 Continue\r\n\r\n")) < 0)
        return HTTPD_ERR_NOMEM;
    if (!(c->flags & HTTPD__F_IN_HANDLER)) {
        httpd__conn_process(c);
        httpd__conn_queue(c);
    }
    return 0;
}
HTTPD_API void httpd_body_pause(httpd_request *req) {
    if (req) httpd__body_hold((httpd__req *)req, 1);
}
HTTPD_API void httpd_body_resume(httpd_request *req) {
    if (req) httpd__body_release((httpd__req *)req, 1, 0);
}

#endif /* HTTPD_NO_STREAMING */

#ifndef HTTPD_NO_SSE
/* ---- Server-Sent Events (WHATWG HTML §9.2) ---- */
HTTPD_API int httpd_sse_begin(httpd_request *req) {
    int rc = httpd_add_header(req, "Cache-Control", "no-cache");
    if (rc == 0) rc = httpd_add_header(req, "X-Accel-Buffering", "no");   /* nginx: no buffer */
    return rc < 0 ? rc : httpd_begin(req, 200, "text/event-stream", -1);
}
HTTPD__PRIVATE int httpd__sse_field_ok(const char *v) {
    return !v || (!strchr(v, '\r') && !strchr(v, '\n'));
}
HTTPD_API int httpd_sse_send(httpd_request *req, const char *event, const char *id,
                             const char *data) {
    if (!req || !httpd__sse_field_ok(event) || !httpd__sse_field_ok(id)) return HTTPD_ERR_INVAL;
    size_t dl = data ? strlen(data) : 0, n = 0, lines = 1;
    for (size_t i = 0; i < dl; i++) lines += data[i] == '\n';
    size_t cap = (event ? strlen(event) + 8 : 0) + (id ? strlen(id) + 5 : 0) + dl + 7 * lines + 2;
    void *ctx = ((httpd__req *)req)->w->s->desc.alloc_ctx;
    char stack[512], *b = cap <= sizeof stack ? stack : (char *)HTTPD_MALLOC(ctx, cap);
    if (!b) return HTTPD_ERR_NOMEM;
    if (event) n += (size_t)sprintf(b + n, "event: %s\n", event);
    if (id) n += (size_t)sprintf(b + n, "id: %s\n", id);
    const char *p = data ? data : "";
    for (;;) {                                         /* one "data:" line per line */
        const char *e = strchr(p, '\n');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l && p[l - 1] == '\r') l--;
        memcpy(b + n, "data: ", 6); n += 6;
        memcpy(b + n, p, l); n += l;
        b[n++] = '\n';
        if (!e) break;
        p = e + 1;
    }
    b[n++] = '\n';                                     /* a blank line ends the event */
    int rc = httpd_write(req, b, n);
    if (b != stack) HTTPD_FREE(ctx, b);
    return rc;
}
HTTPD_API int httpd_sse_comment(httpd_request *req, const char *text) {
    if (!httpd__sse_field_ok(text)) return HTTPD_ERR_INVAL;
    char b[256];
    int n = snprintf(b, sizeof b, ": %.240s\n\n", text ? text : "");
    return httpd_write(req, b, (size_t)n);
}

#endif /* HTTPD_NO_SSE */

#ifndef HTTPD_NO_FILES
/* ====================================================================== >>file
   File bodies: httpd_send_file queues a head and leaves the body to the pump, which the
   worker calls once the buffered output is out: sendfile(2) from the page cache, or
   pread into the output block where sendfile cannot be used (HTTPD_NO_SENDFILE, a
   descriptor sendfile refuses, TLS). The only system calls of the core are here.
   Calls: >>conn, >>response. Owner: the connection's worker thread. */
/* What identifies a file's content as far as its metadata can tell: size, mtime (ns) and
   inode, mixed into 64 bits; never 0. A change while its body is being sent means the
   bytes still to come may belong to another version. */
HTTPD__PRIVATE uint64_t httpd__file_tag(const struct stat *st) {
    uint64_t h = (uint64_t)st->st_size * 0x9e3779b97f4a7c15u;
    h ^= ((uint64_t)HTTPD__MTIM(*st).tv_sec * 1000000000u + (uint64_t)HTTPD__MTIM(*st).tv_nsec)
         * 0xc2b2ae3d27d4eb4fu;
    h ^= (uint64_t)st->st_ino * 0x165667b19e3779f9u;
    return h ? h : 1;
}
/* httpd_send_file without the fd's ownership: the caller closes fd when this fails.
   mem != NULL: the body is mem[offset, offset + len) instead (fd -1; read-only memory that
   outlives the response). tag != 0: the file's httpd__file_tag; whenever the body pauses
   (the client's window is full), the pump compares it with the file's again and closes
   the connection on a change: a body that would mix two versions of a file is cut short
   (the client sees fewer bytes than Content-Length). Even bytes queued before the edit
   may carry new content (sendfile queues page-cache pages, not copies), so cutting is the
   only honest answer. */
HTTPD__PRIVATE int httpd__send_file(httpd__req *r, int status, const char *content_type,
                                    int fd, const void *mem, uint64_t tag, uint64_t offset,
                                    uint64_t len) {
    if (r->responded || HTTPD__STREAMING(r) || status < 200 || status > 999
        || (content_type && !httpd__is_ctl_free(content_type, 0)))
        return HTTPD_ERR_INVAL;
    if (len == HTTPD_FILE_REST) {
        struct stat st;
        if (mem || fstat(fd, &st) < 0) return HTTPD_ERR_SYS;
        if (st.st_size < 0 || offset > (uint64_t)st.st_size) return HTTPD_ERR_INVAL;
        len = (uint64_t)st.st_size - offset;
    }
    if (offset > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - offset) return HTTPD_ERR_INVAL;
    if (r->utimer.pprev || r->task || r->wwait) return HTTPD_ERR_STATE;
    httpd__conn *c = r->conn;
    if (!c) {                                      /* the client left meanwhile */
        if (fd >= 0) close(fd);
        return httpd__req_drop_orphan(r);
    }
    r->keepalive = (uint8_t)httpd__keepalive(c, r);
    size_t queued = c->out.len - c->out.pos;
    if (HTTPD__MWON(r)) httpd__mw_head(r, status, 0);
    int rc = httpd__write_head(c, status, content_type, r->rh, r->rh_len, r->keepalive,
                               r->head.minor_version, HTTPD__FR_LENGTH, len, 0);
    if (rc < 0) return rc;
    if (HTTPD__MWON(r)) r->bytes_out += c->out.len - c->out.pos - queued
                                 + (r->head.method_id == HTTPD__M_HEAD || status == 204
                                    || status == 304 ? 0 : len);
    if (r->head.method_id == HTTPD__M_HEAD || status == 204 || status == 304 || !len) {
        if (fd >= 0) close(fd);                    /* the head says it all */
    } else {
        c->file_fd = fd;                           /* the worker pumps it (>>worker) */
        c->file_off = offset;
        c->file_left = len;
        c->flags |= HTTPD__F_FILE;
        if (mem) { c->flags |= HTTPD__F_FILEMEM; c->fb.file_mem = (const char *)mem; }
        else c->fb.file_tag = tag;
#ifdef HTTPD_NO_SENDFILE
        c->flags |= HTTPD__F_FILEREAD;
#endif
#ifdef HTTPD_TLS_BEARSSL
        if (c->tls) c->flags |= HTTPD__F_FILEREAD;   /* encrypted: read, never sendfile */
#endif
    }
    httpd__req_answered(r, c);
    return 0;
}
HTTPD_API int httpd_send_file(httpd_request *req, int status, const char *content_type,
                              int fd, uint64_t offset, uint64_t len) {
    int rc = req && fd >= 0 ? httpd__send_file((httpd__req *)req, status, content_type, fd,
                                               NULL, 0, offset, len)
                            : HTTPD_ERR_INVAL;
    if (rc < 0 && rc != HTTPD_ERR_CLOSED && rc != HTTPD_ERR_TIMEOUT && fd >= 0) close(fd);
    return rc;
}

/* n bytes of the file body went out (sendfile), or were read into c->out (pread). */
HTTPD__PRIVATE void httpd__conn_file_sent(httpd__conn *c, size_t n) {
    c->file_off += n;
    c->file_left -= n;
    c->wsince = c->w->now;
    if (c->file_left) {
        c->flags |= HTTPD__F_FILECHECK;         /* more later: check the file then */
        return;
    }
    if (!(c->flags & HTTPD__F_FILEMEM)) close(c->file_fd);
    c->flags &= (uint16_t)~(HTTPD__F_FILE | HTTPD__F_FILEREAD | HTTPD__F_FILEMEM
                            | HTTPD__F_FILECHECK);
    if (c->out.pos == c->out.len) httpd__conn_out_done(c);
}
/* The next piece of a file body, once the buffered output is out: sendfile(2) from the
   page cache, or a pread into c->out where sendfile refuses the descriptor (or under
   HTTPD_NO_SENDFILE, or for TLS later). A file shorter than promised ends the connection:
   the Content-Length can no longer hold. 1: progress. */
#define HTTPD__SENDFILE_MAX (2u << 20)     /* per call, as nginx's sendfile_max_chunk: a
                                              cold page cache blocks the worker less */
HTTPD__PRIVATE int httpd__conn_pump_file(httpd__conn *c) {
    size_t want = (size_t)HTTPD__MIN(c->file_left, (uint64_t)HTTPD__SENDFILE_MAX);
    ssize_t n;
#ifdef HTTPD_TLS_BEARSSL
    if ((c->flags & HTTPD__F_FILEMEM) && c->tls) {  /* into the output, to be encrypted */
        if (httpd__buf_reserve(&c->w->pool, &c->out, 1) < 0) {
            c->state = HTTPD__S_ABORT;
            return 0;
        }
        n = (ssize_t)HTTPD__MIN(want, (size_t)(c->out.cap - c->out.len));
        memcpy(c->out.data + c->out.len, c->fb.file_mem + c->file_off, (size_t)n);
        c->out.len += (uint32_t)n;
        httpd__conn_file_sent(c, (size_t)n);
        return 1;
    }
#endif
    if (c->flags & HTTPD__F_FILEMEM) {            /* read-only memory: straight out */
        n = httpd__io_send(c->fd, c->fb.file_mem + c->file_off, want, HTTPD__MSG_NOSIGNAL);
        if (n > 0) { httpd__conn_file_sent(c, (size_t)n); return 1; }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->flags |= HTTPD__F_WBLOCKED;
            return 0;
        }
        if (n < 0 && errno == EINTR) return 1;
        c->state = HTTPD__S_ABORT;
        return 0;
    }
    if ((c->flags & HTTPD__F_FILECHECK) && c->fb.file_tag) {
        struct stat st;               /* one fstat per pause, none for a body sent at once */
        c->flags &= (uint16_t)~HTTPD__F_FILECHECK;
        if (fstat(c->file_fd, &st) < 0 || httpd__file_tag(&st) != c->fb.file_tag) {
            c->state = HTTPD__S_ABORT;            /* edited mid-body: cut, never mix */
            return 0;
        }
    }
#ifndef HTTPD_NO_SENDFILE
    if (!(c->flags & HTTPD__F_FILEREAD)) {
        off_t off = (off_t)c->file_off;
        n = sendfile(c->fd, c->file_fd, &off, want);
        if (n > 0) { httpd__conn_file_sent(c, (size_t)n); return 1; }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->flags |= HTTPD__F_WBLOCKED;
            return 0;
        }
        if (n < 0 && errno == EINTR) return 1;
        if (n == 0 || (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)) {
            c->state = HTTPD__S_ABORT;            /* shrunk file, EPIPE, ECONNRESET, EIO */
            return 0;
        }
        c->flags |= HTTPD__F_FILEREAD;            /* not spliceable: read it instead */
    }
#endif
    if (httpd__buf_reserve(&c->w->pool, &c->out, 1) < 0) { c->state = HTTPD__S_ABORT; return 0; }
    n = pread(c->file_fd, c->out.data + c->out.len,
              HTTPD__MIN(want, (size_t)(c->out.cap - c->out.len)), (off_t)c->file_off);
    if (n > 0) {
        c->out.len += (uint32_t)n;
        httpd__conn_file_sent(c, (size_t)n);
        return 1;
    }
    if (n < 0 && errno == EINTR) return 1;
    c->state = HTTPD__S_ABORT;
    return 0;
}

#else  /* HTTPD_NO_FILES: no file body is ever queued (HTTPD__F_FILE stays clear) */
HTTPD__PRIVATE int httpd__conn_pump_file(httpd__conn *c) { (void)c; return 0; }
#endif /* HTTPD_NO_FILES */

/* ===================================================================== >>async
   Work that outlives the handler call: httpd_after (a timer on the worker's wheel),
   httpd_defer (work on the task pool, `done` back on the worker through its mailbox),
   httpd_submit (background work) and httpd_post (a function run on a connection's worker
   from any thread). The mailbox is a mutex-protected list plus the worker's eventfd; it
   is drained by >>worker. Calls: >>conn, >>pool. Owner: the worker, except the mailbox
   push, which any thread may call. */
/* The gate that calls from other threads (httpd_post, httpd_submit, httpd_stop) pass:
   once httpd_wait closed it they fail with HTTPD_ERR_STATE (httpd_stop does nothing),
   and httpd_wait releases workers, mailboxes and pool only when no such call is still
   inside. Two counters with sequentially consistent order (each side writes its own,
   then reads the other's), no lock: httpd_stop stays async-signal-safe. The server
   object itself lives until httpd_destroy, so a late call is safe and says so. */
HTTPD__PRIVATE int httpd__gate_enter(httpd_server *s) {
    HTTPD__ADJ_SC(&s->gate_users, 1);
    if (!HTTPD__LOAD_SC(&s->gate_closed)) return 1;
    HTTPD__ADJ_SC(&s->gate_users, -1);
    return 0;
}
HTTPD__PRIVATE void httpd__gate_leave(httpd_server *s) { HTTPD__ADJ_SC(&s->gate_users, -1); }
HTTPD__PRIVATE void httpd__gate_close(httpd_server *s) {
    HTTPD__STORE_SC(&s->gate_closed, 1);
#ifndef HTTPD_NO_THREADS      /* (one thread: a signal handler inside has returned by now) */
    while (HTTPD__LOAD_SC(&s->gate_users)) sched_yield();    /* calls are short */
#endif
}
HTTPD_API int httpd_after(httpd_request *req, uint32_t ms, httpd_timer_fn fn, void *arg) {
    httpd__req *r = (httpd__req *)req;
    if (!req || !fn) return HTTPD_ERR_INVAL;
    if (r->responded || r->utimer.pprev || r->task || r->wwait || !r->dispatched)
        return HTTPD_ERR_STATE;
    r->ufn = fn;
    r->uarg = arg;
    r->ustatus = r->conn ? 0 : r->timed_out ? HTTPD_ERR_TIMEOUT : HTTPD_ERR_CLOSED;
    httpd__wheel_add(&r->w->wheel, &r->utimer, r->w->now + (r->conn ? ms : 0));
    httpd__req_wait_body(r);
    return 0;
}
/* Pool thread: hand a finished task back to its worker's mailbox and wake the worker. */
HTTPD__PRIVATE void httpd__mbox_push(httpd__worker *w, httpd_task *t) {
    httpd__lock(&w->mbox_mu);
    t->next = NULL;
    if (w->mbox_tail) w->mbox_tail->next = t; else w->mbox = t;
    w->mbox_tail = t;
    httpd__unlock(&w->mbox_mu);
    httpd__wakefd_signal(&w->wake);
}
#ifndef HTTPD_NO_TASKS
HTTPD__PRIVATE void httpd__task_to_worker(httpd_task *t) { httpd__mbox_push(t->w, t); }
HTTPD_API int httpd_defer(httpd_request *req, httpd_work_fn work, httpd_done_fn done, void *arg) {
    httpd__req *r = (httpd__req *)req;
    if (!req || !work || !done) return HTTPD_ERR_INVAL;
    if (r->responded || r->utimer.pprev || r->task || r->wwait || !r->dispatched)
        return HTTPD_ERR_STATE;
    httpd_server *s = r->w->s;
    httpd_task *t = httpd__task_new(&s->pool, HTTPD__TASK_REQ);
    if (!t) return s->pool.store ? HTTPD_ERR_TOOLARGE : HTTPD_ERR_NOMEM;  /* spares used up */
    t->work = work; t->arg = arg; t->done = done; t->req = r; t->w = r->w;
    t->complete = httpd__task_to_worker;
    if (!r->conn) HTTPD__STORE(&t->cancelled, 1);
    int rc = httpd__taskpool_push(&s->pool, t);
    if (rc < 0) { httpd__task_free(t); return rc; }
    r->task = t;
    httpd__req_wait_body(r);
    return 0;
}
HTTPD_API int httpd_submit(httpd_server *s, httpd_work_fn work, void *arg) {
    if (!s || !work) return HTTPD_ERR_INVAL;
    if (!httpd__gate_enter(s)) return HTTPD_ERR_STATE;
    int rc = HTTPD_ERR_NOMEM;
    httpd_task *t = httpd__task_new(&s->pool, HTTPD__TASK_BACKGROUND);
    if (t) {
        t->work = work; t->arg = arg;
        t->complete = httpd__task_free;
        if (HTTPD__LOAD(&s->stop)) HTTPD__STORE(&t->cancelled, 1);
        if ((rc = httpd__taskpool_push(&s->pool, t)) < 0) httpd__task_free(t);
    }
    httpd__gate_leave(s);
    return rc;
}
HTTPD_API int httpd_post(httpd_server *s, httpd_conn_id conn, httpd_post_fn fn, void *arg) {
    if (!s || !fn) return HTTPD_ERR_INVAL;
    uint32_t wi = (uint32_t)(conn.id >> 56);
    if (!httpd__gate_enter(s)) return HTTPD_ERR_STATE;
    int rc = 0;
    httpd_task *t = NULL;
    if ((int)wi >= s->nworkers) rc = HTTPD_ERR_INVAL;
    else if (HTTPD__LOAD(&s->running) == 0) rc = HTTPD_ERR_STATE;      /* workers gone */
    else if (!(t = httpd__task_new(&s->pool, HTTPD__TASK_POST))) rc = HTTPD_ERR_NOMEM;
    if (t) {
        t->post = fn; t->arg = arg; t->conn = conn; t->w = &s->workers[wi];
        httpd__mbox_push(t->w, t);             /* a late one is told CLOSED by httpd_wait */
    }
    httpd__gate_leave(s);
    return rc;
}
#endif /* HTTPD_NO_TASKS */

#ifndef HTTPD_NO_WEBSOCKET
/* ======================================================================== >>ws
   WebSocket connections (RFC 6455) on top of the HTTP core. httpd_ws_upgrade checks the
   handshake and answers 101; when the request is finished (>>machine's conn_finish) the
   connection enters HTTPD__S_WS, keeps its slot, socket, timer and worker, and its input
   is decoded by >>ws_frame: whole messages assembled up to the cap (a single-frame
   message already whole in the input is handed over in place, with no copy), or pieces
   handed out as they arrive (.stream), pings answered, the close handshake done. State
   per WebSocket: one small struct (144 bytes) allocated at the upgrade (preallocate:
   one per slot, made at start); an idle
   WebSocket holds no buffer (input and output blocks go back to the worker's pool when
   empty, as for idle HTTP connections). Heartbeats use the connection's one timer on the
   worker's wheel (httpd__ws_deadline, lazily re-armed): ping when quiet for the interval,
   close when nothing was heard for the timeout. Output goes into the connection's output
   buffer under the HTTP core's water marks: over HTTPD__OUT_HIGH sends say
   HTTPD_WRITE_FULL, then refuse, and input is not read (a peer that does not read cannot
   make us buffer its pongs); on_writable fires below HTTPD__OUT_LOW. Other threads reach
   a WebSocket only through its worker's mailbox: send_to by generation-checked id,
   broadcast as one shared, refcounted frame pushed to every worker. A graceful stop sends
   close 1001 and waits (5 s at most, within the shutdown timeout) for the peers' close.
   Calls: >>conn, >>response, >>async, >>ws_frame, >>sha1. Owner: the connection's worker
   (send_to and broadcast: any thread). Cost per 64-byte message: one unmask, one UTF-8
   pass for text, one copy into the output. */
#define HTTPD__WS_CLOSE_MS 5000u       /* after our close frame, the peer's answer, or drop */
enum { HTTPD__WSS_OPEN, HTTPD__WSS_CLOSE_SENT, HTTPD__WSS_DONE };
struct httpd_ws {
    httpd__wsf   f;                /* the frame decoder                                 */
    httpd__conn *c;
    const httpd_ws_desc *d;
    void        *user;
    struct httpd_ws *prev, *next;  /* the worker's WebSockets (broadcast, stop)         */
    char        *msg;              /* whole messages: the one being assembled; NULL idle */
    size_t       msg_len, msg_cap;
    uint64_t     heard, pinged;    /* ms: bytes last came from the peer; our last ping   */
    uint32_t     ping_ms, timeout_ms;
    uint16_t     code;             /* the close code we sent (0: none)                  */
    uint8_t      state;            /* HTTPD__WSS_*                                       */
    uint8_t      paused, wwait, busy;
};
typedef struct httpd__wsmsg {      /* a message crossing threads; the frame follows it */
    HTTPD__ATOMIC(uint32_t) refs;  /* broadcast: one per worker                         */
    int          cast;             /* 1: broadcast to group; 0: send_to one id          */
    const httpd_ws_desc *group;
    httpd_post_fn done;            /* send_to: told the outcome on the owner's worker   */
    void        *arg;
    void        *alloc_ctx;
    size_t       flen;             /* frame bytes (head + payload)                      */
} httpd__wsmsg;

HTTPD__PRIVATE size_t httpd__ws_pending(const httpd__conn *c) { return c->out.len - c->out.pos; }
/* Appends one unfragmented server frame to the output. 0 or HTTPD_ERR_NOMEM/TOOLARGE. */
HTTPD__PRIVATE int httpd__ws_frame_out(httpd__conn *c, int op, const void *p, size_t n) {
    unsigned char h[10];
    size_t hl = httpd__ws_head(h, op, n);
    if (n > 0x7fffffffu - hl) return HTTPD_ERR_TOOLARGE;
    int rc = httpd__buf_reserve(&c->w->pool, &c->out, hl + n);
    if (rc < 0) return rc;
    memcpy(c->out.data + c->out.len, h, hl);
    if (n) memcpy(c->out.data + c->out.len + hl, p, n);
    c->out.len += (uint32_t)(hl + n);
    return 0;
}
/* Output grew outside the worker's I/O path: have the worker write it this turn. */
HTTPD__PRIVATE void httpd__ws_wake(httpd__conn *c) {
    if (!(c->flags & HTTPD__F_IN_HANDLER)) httpd__conn_queue(c);
}
HTTPD__PRIVATE void httpd__ws_close_frame(httpd__conn *c, int code, const char *reason) {
    unsigned char p[125];
    size_t n = 0;
    if (code) {                    /* 1005: the peer's close had no code, echo none */
        size_t rl = reason ? HTTPD__MIN(strlen(reason), (size_t)123) : 0;
        p[0] = (unsigned char)(code >> 8); p[1] = (unsigned char)code;
        if (rl) memcpy(p + 2, reason, rl);
        n = 2 + rl;
    }
    if (httpd__ws_frame_out(c, HTTPD__WS_CLOSEF, p, n) < 0) c->out.pos = c->out.len;
}
/* Handles and message buffers: allocated, or under desc.preallocate taken from what was
   made at start (a handle per slot; a message being assembled takes a block of the
   worker's pool, so it is capped at one block, and with no block free it closes 1013). */
HTTPD__PRIVATE httpd_ws *httpd__ws_handle_get(httpd__worker *w) {
    if (!w->ws_store) return (httpd_ws *)HTTPD_MALLOC(w->s->desc.alloc_ctx, sizeof(httpd_ws));
    httpd_ws *ws = w->ws_spare;
    if (ws) w->ws_spare = ws->next;
    return ws;
}
HTTPD__PRIVATE void httpd__ws_handle_put(httpd__worker *w, httpd_ws *ws) {
    if (!w->ws_store) { HTTPD_FREE(w->s->desc.alloc_ctx, ws); return; }
    ws->next = w->ws_spare;
    w->ws_spare = ws;
}
HTTPD__PRIVATE void httpd__ws_msg_free(httpd__worker *w, httpd_ws *ws) {
    if (ws->msg && w->pool.fixed) httpd__pool_put(&w->pool, ws->msg, w->pool.block);
    else HTTPD_FREE(w->s->desc.alloc_ctx, ws->msg);
    ws->msg = NULL;
    ws->msg_len = ws->msg_cap = 0;
}
/* desc.preallocate: n handles, made now in one block. */
HTTPD__PRIVATE int httpd__ws_prealloc(httpd__worker *w, uint32_t n) {
    w->ws_store = (httpd_ws *)HTTPD_MALLOC(w->s->desc.alloc_ctx, (size_t)n * sizeof(httpd_ws));
    if (!w->ws_store) return HTTPD_ERR_NOMEM;
    for (uint32_t i = 0; i < n; i++) httpd__ws_handle_put(w, &w->ws_store[i]);
    return 0;
}
/* The WebSocket ends (exactly once): on_close hears why, the handle is freed. From here
   on the connection is an ordinary one that closes. */
HTTPD__PRIVATE void httpd__ws_end(httpd__conn *c, int code, const char *reason, size_t rl) {
    httpd_ws *ws = c->ws;
    if (!ws) return;
    httpd__worker *w = c->w;
    ws->state = HTTPD__WSS_DONE;                     /* sends now say HTTPD_ERR_CLOSED */
    if (ws->prev) ws->prev->next = ws->next; else w->ws_list = ws->next;
    if (ws->next) ws->next->prev = ws->prev;
    w->nws--;
    if (HTTPD__UNLIKELY(HTTPD__OPS(w))) httpd__mw_gauges(w);
    httpd__ws_msg_free(w, ws);
    if (ws->d->on_close) {
        uint16_t in = c->flags & HTTPD__F_IN_HANDLER;
        c->flags |= HTTPD__F_IN_HANDLER;
        ws->d->on_close(ws, code, reason ? reason : "", reason ? rl : 0);
        c->flags = (uint16_t)((c->flags & ~HTTPD__F_IN_HANDLER) | in);
    }
    c->ws = NULL;
    httpd__ws_handle_put(w, ws);
}
/* Fails the WebSocket connection (RFC 6455 §7.1.7): our close frame, then a lingering
   TCP close so that the frame is read before the peer's unread bytes could reset it. */
HTTPD__PRIVATE void httpd__ws_fail(httpd__conn *c, int code) {
    static const char *const why[] = { "protocol error", "invalid UTF-8", "policy",
                                       "message too big", "internal error" };
    int k = code == 1002 ? 0 : code == 1007 ? 1 : code == 1008 ? 2 : code == 1009 ? 3 : 4;
    if (c->ws->state == HTTPD__WSS_OPEN) httpd__ws_close_frame(c, code, why[k]);
    HTTPD__LOG(c->w->s, HTTPD_LOG_DEBUG, code, "websocket failed with %d (%s)", code, why[k]);
    httpd__ws_end(c, code, NULL, 0);
    c->state = HTTPD__S_CLOSING;
    c->flags |= HTTPD__F_LINGER;
    httpd__ws_wake(c);
}
HTTPD__PRIVATE void httpd__ws_deliver(httpd__conn *c, httpd_ws *ws, int type, const void *p,
                                      size_t n, int fin) {
    c->flags |= HTTPD__F_IN_HANDLER;
    ws->d->on_message(ws, type, p, n, fin);
    c->flags &= (uint16_t)~HTTPD__F_IN_HANDLER;
}
/* A piece of a data message. 0: the WebSocket ended. */
HTTPD__PRIVATE int httpd__ws_data(httpd__conn *c, httpd_ws *ws, const httpd__wsev *ev) {
    if (ws->state != HTTPD__WSS_OPEN) return 1;          /* closing: data is dropped */
    if (ws->d->stream || (ev->fin && ev->whole)) {       /* as it comes, or in place */
        httpd__ws_deliver(c, ws, ev->op, ev->p, ev->n, ev->fin);
        return 1;
    }
    if (ev->n) {
        if (!ws->msg && c->w->pool.fixed) {              /* preallocated: one block */
            if (!(ws->msg = httpd__pool_get(&c->w->pool))) { httpd__ws_fail(c, 1013); return 0; }
            ws->msg_cap = c->w->pool.block;
        }
        if (ws->msg_len + ev->n > ws->msg_cap) {         /* within the cap (checked) */
            size_t cap = HTTPD__MAX(HTTPD__MAX(ws->msg_cap * 2, (size_t)4096), ws->msg_len + ev->n);
            if ((uint64_t)cap > ws->f.max_msg) cap = (size_t)ws->f.max_msg;
            char *m = (char *)HTTPD_REALLOC(c->w->s->desc.alloc_ctx, ws->msg, cap);
            if (!m) { httpd__ws_fail(c, 1011); return 0; }
            ws->msg = m; ws->msg_cap = cap;
        }
        memcpy(ws->msg + ws->msg_len, ev->p, ev->n);
        ws->msg_len += ev->n;
    }
    if (ev->fin) {
        httpd__ws_deliver(c, ws, ev->op, ws->msg ? ws->msg : "", ws->msg_len, 1);
        if (c->ws != ws) return 0;
        httpd__ws_msg_free(c->w, ws);                    /* idle: no buffer */
    }
    return 1;
}
/* A control frame (RFC 6455 §5.5). 0: the WebSocket ended. */
HTTPD__PRIVATE int httpd__ws_ctrl(httpd__conn *c, httpd_ws *ws, const httpd__wsev *ev) {
    if (ev->op == HTTPD__WS_PING) {                      /* §5.5.3: same payload back */
        if (ws->state == HTTPD__WSS_OPEN
            && httpd__ws_frame_out(c, HTTPD__WS_PONG, ev->p, ev->n) < 0) {
            httpd__ws_fail(c, 1011);
            return 0;
        }
        return 1;
    }
    if (ev->op == HTTPD__WS_PONG) return 1;               /* heard: that is all */
    int code = 1005;                                      /* §7.1.5: no status code */
    const char *reason = ev->p + 2;
    size_t rl = ev->n > 2 ? ev->n - 2 : 0;
    if (ev->n == 1) { httpd__ws_fail(c, 1002); return 0; }
    if (ev->n >= 2) {
        code = (unsigned char)ev->p[0] << 8 | (unsigned char)ev->p[1];
        if (!httpd__ws_code_ok((unsigned)code)) { httpd__ws_fail(c, 1002); return 0; }
        if (httpd__utf8(0, (const unsigned char *)reason, rl, NULL) != 0) {
            httpd__ws_fail(c, 1007);                      /* §5.5.1: reason is UTF-8 */
            return 0;
        }
    }
    /* §5.5.1: answer with a close (echoing the code), then the server closes TCP first
       (§7.1.1), lingering so that our close frame is read */
    if (ws->state == HTTPD__WSS_OPEN) httpd__ws_close_frame(c, code == 1005 ? 0 : code, NULL);
    httpd__ws_end(c, code, reason, rl);
    c->state = HTTPD__S_CLOSING;
    c->flags |= HTTPD__F_LINGER;
    httpd__ws_wake(c);
    return 0;
}
/* Reading now? Not while paused (except to finish a close) or with the output full. */
HTTPD__PRIVATE int httpd__ws_reading(const httpd__conn *c) {
    const httpd_ws *ws = c->ws;
    return (!ws->paused || ws->state == HTTPD__WSS_CLOSE_SENT)
        && httpd__ws_pending(c) <= HTTPD__OUT_HIGH;
}
/* Decodes what the input holds, as far as reading is allowed (the HTTPD__S_WS state of
   httpd__conn_process). */
HTTPD__PRIVATE void httpd__ws_process(httpd__conn *c) {
    httpd_ws *ws = c->ws;
    if (!ws || ws->busy) return;
    httpd__buf *in = &c->in;
    int starved = 0;
    ws->busy = 1;
    while (httpd__ws_reading(c)) {
        httpd__wsev ev;
        if (in->pos == in->len) { starved = 1; break; }      /* (in->data may be NULL) */
        long rc = httpd__wsf_next(&ws->f, in->data + in->pos, in->len - in->pos, &ev);
        if (rc < 0) { httpd__ws_fail(c, (int)-rc); return; }
        in->pos += (uint32_t)rc;
        if (rc) ws->heard = c->w->now;
        if (ev.kind == HTTPD__WSE_DATA) {
            if (!httpd__ws_data(c, ws, &ev)) return;
        } else if (ev.kind == HTTPD__WSE_CTRL) {
            if (!httpd__ws_ctrl(c, ws, &ev)) return;
        } else if (rc == 0) {
            starved = 1;
            break;
        }
    }
    ws->busy = 0;
    if (in->pos == in->len) httpd__buf_release(&c->w->pool, in);     /* idle: no buffer */
    if (starved && (c->flags & HTTPD__F_EOF)) {          /* gone without a close frame */
        httpd__ws_end(c, ws->state == HTTPD__WSS_CLOSE_SENT ? ws->code : 1006, NULL, 0);
        c->state = HTTPD__S_CLOSING;
    }
}
/* The request that upgraded is finished (>>machine): the connection speaks WebSocket. */
HTTPD__PRIVATE void httpd__ws_start(httpd__conn *c) {
    httpd__req *r = c->req;
    httpd_ws *ws = c->ws;
    c->in.pos += r->in_used;            /* what follows the head is frames (pipelined) */
    c->req = NULL;
    httpd__req_put(r);
    c->state = HTTPD__S_WS;
    ws->heard = ws->pinged = c->w->now;
    if (ws->d->on_open) {
        c->flags |= HTTPD__F_IN_HANDLER;
        ws->d->on_open(ws);
        c->flags &= (uint16_t)~HTTPD__F_IN_HANDLER;
    }
}
/* Output went out: a producer waiting for room hears it; input held back by a full
   output is decoded. */
HTTPD__PRIVATE void httpd__ws_sent(httpd__conn *c) {
    httpd_ws *ws = c->ws;
    if (!ws) return;
    if (ws->wwait && httpd__ws_pending(c) < HTTPD__OUT_LOW && ws->state == HTTPD__WSS_OPEN) {
        ws->wwait = 0;
        if (ws->d->on_writable) {
            c->flags |= HTTPD__F_IN_HANDLER;
            ws->d->on_writable(ws);
            c->flags &= (uint16_t)~HTTPD__F_IN_HANDLER;
        }
    }
    if (c->ws && c->in.len > c->in.pos && httpd__ws_reading(c)) httpd__ws_process(c);
}
/* The connection timer's deadline in HTTPD__S_WS: the close handshake, else the next
   ping or the heartbeat timeout (none while paused: the application holds the peer). */
HTTPD__PRIVATE uint64_t httpd__ws_deadline(const httpd__conn *c) {
    const httpd_ws *ws = c->ws;
    if (ws->state == HTTPD__WSS_CLOSE_SENT) return c->since + HTTPD__WS_CLOSE_MS;
    if (ws->paused) return UINT64_MAX;
    uint64_t dl = UINT64_MAX;
    if (ws->ping_ms != HTTPD_NO_TIMEOUT) dl = HTTPD__MAX(ws->heard, ws->pinged) + ws->ping_ms;
    if (ws->timeout_ms != HTTPD_NO_TIMEOUT) dl = HTTPD__MIN(dl, ws->heard + ws->timeout_ms);
    return dl;
}
HTTPD__PRIVATE void httpd__ws_timeout(httpd__conn *c) {
    httpd_ws *ws = c->ws;
    uint64_t now = c->w->now;
    if (ws->state == HTTPD__WSS_CLOSE_SENT) {            /* no answer to our close: drop */
        httpd__ws_end(c, ws->code, NULL, 0);
        c->state = HTTPD__S_ABORT;
        return;
    }
    if (ws->paused) return;
    if (ws->timeout_ms != HTTPD_NO_TIMEOUT && now >= ws->heard + ws->timeout_ms) {
        /* the peer is gone or stuck (no pong): say so, then close without waiting */
        httpd__ws_close_frame(c, 1001, "heartbeat timeout");
        httpd__ws_end(c, 1001, NULL, 0);
        c->state = HTTPD__S_CLOSING;
        return;
    }
    if (ws->ping_ms != HTTPD_NO_TIMEOUT && now >= HTTPD__MAX(ws->heard, ws->pinged) + ws->ping_ms) {
        if (httpd__ws_frame_out(c, HTTPD__WS_PING, NULL, 0) < 0) {
            httpd__ws_fail(c, 1011);
            return;
        }
        ws->pinged = now;
    }
}
/* Graceful stop: close 1001, then wait for the peer's close (RFC 6455 §7.4.1). */
HTTPD__PRIVATE void httpd__ws_going_away(httpd__conn *c) {
    httpd_ws *ws = c->ws;
    if (!ws || ws->state != HTTPD__WSS_OPEN) return;
    httpd__ws_close_frame(c, 1001, "server stopping");
    ws->state = HTTPD__WSS_CLOSE_SENT;
    ws->code = 1001;
    c->since = c->w->now;
    httpd__conn_queue(c);
}

/* ==================================================================== >>ws_api
   The application's side of WebSockets: the opening handshake (RFC 6455 §4.2: method,
   version, key, Origin, subprotocol; 101 or the refusal's status), sends and closes on
   the worker, and the cross-thread entries (send_to by id, broadcast to a group) that
   reach a WebSocket only through its worker's mailbox. Built on >>ws. */
/* Does some field `name` hold `tok` in its comma-separated list? (cs: case-sensitive) */
HTTPD__PRIVATE int httpd__ws_list_has(const httpd_request *req, const char *name, const char *tok,
                                      int cs) {
    size_t nl = strlen(name), tl = strlen(tok);
    for (int i = 0; i < req->header_count; i++) {
        const httpd_header *h = &req->headers[i];
        if (!httpd__ieq2(h->name.ptr, h->name.len, name, nl)) continue;
        const char *v = h->value.ptr, *e = v + h->value.len;
        while (v < e) {
            while (v < e && (*v == ' ' || *v == '\t' || *v == ',')) v++;
            const char *s = v;
            while (v < e && *v != ',') v++;
            const char *t = v;
            while (t > s && (t[-1] == ' ' || t[-1] == '\t')) t--;
            if ((size_t)(t - s) == tl && (cs ? !memcmp(s, tok, tl) : httpd__ieq2(s, tl, tok, tl)))
                return 1;
        }
    }
    return 0;
}
HTTPD_API int httpd_ws_offers(const httpd_request *req, const char *name) {
    return req && name && *name && httpd__ws_list_has(req, "sec-websocket-protocol", name, 1);
}
/* The only value of field name, or ptr NULL when absent or repeated. */
HTTPD__PRIVATE httpd_str httpd__ws_single(const httpd_request *req, const char *name) {
    httpd_str v = { NULL, 0 };
    size_t nl = strlen(name);
    int n = 0;
    for (int i = 0; i < req->header_count; i++)
        if (httpd__ieq2(req->headers[i].name.ptr, req->headers[i].name.len, name, nl)) {
            v = req->headers[i].value;
            n++;
        }
    if (n != 1) v.ptr = NULL;
    return v;
}
/* Same origin: the Origin's host[:port] (after "scheme://") is the request's Host. */
HTTPD__PRIVATE int httpd__ws_same_origin(httpd_request *req, httpd_str origin) {
    httpd__req *r = (httpd__req *)req;
    const char *p = origin.ptr, *e = p + origin.len;
    const char *s = p;
    while (s + 3 <= e && memcmp(s, "://", 3)) s++;
    if (s + 3 > e) return 0;                              /* "null", opaque origins */
    s += 3;
    return httpd__ieq2(s, (size_t)(e - s), r->head.host.ptr, r->head.host.len);
}
/* 0 if req is a valid opening handshake for desc and protocol, else the status to answer. */
HTTPD__PRIVATE int httpd__ws_check(httpd__req *r, const httpd_ws_desc *d, const char *protocol) {
    httpd_request *req = &r->pub;
    const httpd__head *h = &r->head;
    if (h->method_id != HTTPD__M_GET || h->minor_version < 1) return 400;   /* §4.2.1 1-2 */
    if ((h->flags & HTTPD__H_CHUNKED) || h->content_length) return 400;     /* no body    */
    if (!(h->flags & HTTPD__H_UPGRADE) || !httpd__ws_list_has(req, "upgrade", "websocket", 0))
        return 400;                                                         /* 3-4        */
    httpd_str ver = httpd__ws_single(req, "sec-websocket-version");         /* 6, §4.4    */
    if (!ver.ptr && !httpd_get_header(req, "sec-websocket-version").ptr) return 400;
    if (!ver.ptr || ver.len != 2 || memcmp(ver.ptr, "13", 2)) return 426;
    if (!httpd__ws_key_ok(httpd__ws_single(req, "sec-websocket-key"))) return 400;   /* 5 */
    httpd_str origin = httpd_get_header(req, "origin");                     /* §10.2      */
    if (d->check_origin ? !d->check_origin(req, origin)
                        : origin.ptr && !httpd__ws_same_origin(req, origin))
        return 403;
    if (protocol && (!httpd__is_ctl_free(protocol, 1) || !httpd_ws_offers(req, protocol)))
        return 400;
    return 0;
}
HTTPD_API int httpd_ws_upgrade(httpd_request *req, const httpd_ws_desc *desc,
                               const char *protocol, void *user) {
    httpd__req *r = (httpd__req *)req;
    if (!req || !desc || !desc->on_message) return HTTPD_ERR_STATE;
    if (r->responded || HTTPD__STREAMING(r) || r->utimer.pprev || r->task || r->wwait
        || !r->dispatched)
        return HTTPD_ERR_STATE;
    httpd__conn *c = r->conn;
    if (!c) return httpd__req_drop_orphan(r);
    httpd_server *s = c->w->s;
    int st = httpd__ws_check(r, desc, protocol), rc = HTTPD_ERR_INVAL;
    httpd_ws *ws = NULL;
    if (!st && HTTPD__LOAD(&s->stop)) { st = 503; rc = HTTPD_ERR_CLOSED; }
    if (!st && !(ws = httpd__ws_handle_get(c->w))) {
        st = 503;
        rc = HTTPD_ERR_NOMEM;
    }
    if (st) {
        char body[48];
        int n = snprintf(body, sizeof body, "%d %s\n", st, httpd_reason(st));
        if (st == 426) httpd_add_header(req, "Sec-WebSocket-Version", "13");
        r->keepalive = 0;                  /* frames may follow the head: never parse them */
        int e = httpd_respond(req, st, "text/plain", body, (size_t)n);
        return e < 0 && e != HTTPD_ERR_NOMEM ? e : rc;
    }
    /* 101 Switching Protocols (§4.2.2), with the header fields the handler added (and the
       operations chain's: request id, CORS) */
    size_t queued = c->out.len - c->out.pos;
    if (HTTPD__MWON(r)) httpd__mw_head(r, 101, 0);
    char accept[28];
    httpd__ws_accept(accept, httpd__ws_single(req, "sec-websocket-key"));
    size_t pl = protocol ? strlen(protocol) : 0;
    size_t need = 34 + 37 + r->rh_len + 64 + 50 + (pl ? 26 + pl : 0) + 2;
    if (httpd__buf_reserve(&c->w->pool, &c->out, need) < 0) {
        httpd__ws_handle_put(c->w, ws);
        r->keepalive = 0;
        httpd_respond(req, 503, "text/plain", "503 Service Unavailable\n", 24);
        return HTTPD_ERR_NOMEM;
    }
    char *p = c->out.data + c->out.len;
    memcpy(p, "HTTP/1.1 101 Switching Protocols\r\n", 34); p += 34;
    memcpy(p, c->w->date, 37); p += 37;
    if (r->rh_len) { memcpy(p, r->rh, r->rh_len); p += r->rh_len; }
    static const char up[] = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ";
    memcpy(p, up, sizeof up - 1); p += sizeof up - 1;
    memcpy(p, accept, 28); p += 28;
    *p++ = '\r'; *p++ = '\n';
    if (pl) {
        memcpy(p, "Sec-WebSocket-Protocol: ", 24); p += 24;
        memcpy(p, protocol, pl); p += pl;
        *p++ = '\r'; *p++ = '\n';
    }
    *p++ = '\r'; *p++ = '\n';
    c->out.len = (uint32_t)(p - c->out.data);
    if (HTTPD__MWON(r)) r->bytes_out += c->out.len - c->out.pos - queued;

    memset(ws, 0, sizeof *ws);
    ws->c = c; ws->d = desc; ws->user = user;
    ws->f.max_msg = HTTPD__DEF(desc->max_message_bytes, s->desc.ws_max_message_bytes);
    if (c->w->pool.fixed && !desc->stream && ws->f.max_msg > c->w->pool.block)
        ws->f.max_msg = c->w->pool.block;          /* preallocated: assembled in one block */
    ws->f.max_frame = desc->max_frame_bytes ? desc->max_frame_bytes : UINT64_MAX;
    ws->ping_ms = HTTPD__DEF(desc->ping_interval_ms, s->desc.ws_ping_interval_ms);
    ws->timeout_ms = HTTPD__DEF(desc->timeout_ms, s->desc.ws_timeout_ms);
    ws->next = c->w->ws_list;
    if (ws->next) ws->next->prev = ws;
    c->w->ws_list = ws;
    c->w->nws++;
    if (HTTPD__UNLIKELY(HTTPD__OPS(c->w))) httpd__mw_gauges(c->w);
    c->ws = ws;                            /* conn_finish hands the connection over */
    httpd__req_answered(r, c);
    return 0;
}

/* ---- the application's side ---- */
/* A prebuilt frame (send_to, broadcast) or a message, under the overflow rules. */
HTTPD__PRIVATE int httpd__ws_put(httpd_ws *ws, int type, const void *data, size_t len,
                                 const httpd__wsmsg *m) {
    httpd__conn *c = ws->c;
    if (ws->state != HTTPD__WSS_OPEN) return HTTPD_ERR_CLOSED;
    if (m && httpd__ws_pending(c) > HTTPD__OUT_HIGH && c->fd >= 0
        && !(c->flags & (HTTPD__F_WBLOCKED | HTTPD__F_IN_HANDLER))) {
        /* a burst from the mailbox piled up before the socket was tried: write what it
           takes now, and judge the peer slow only if it does not take enough */
        httpd__conn_drive(c);
        if (c->ws != ws) return HTTPD_ERR_CLOSED;
    }
    if (httpd__ws_pending(c) > HTTPD__OUT_HIGH) {
        ws->wwait = 1;
        if (m && ws->d->overflow == HTTPD_WS_CLOSE) {     /* too slow for this group */
            httpd__ws_fail(c, 1008);
        }
        return HTTPD_ERR_TOOLARGE;
    }
    int rc;
    if (m) {
        rc = httpd__buf_append(&c->w->pool, &c->out, m + 1, m->flen);
    } else {
        rc = httpd__ws_frame_out(c, type, data, len);
    }
    if (rc < 0) return rc;
    httpd__ws_wake(c);
    if (httpd__ws_pending(c) > HTTPD__OUT_HIGH) { ws->wwait = 1; return HTTPD_WRITE_FULL; }
    return 0;
}
HTTPD_API int httpd_ws_send(httpd_ws *ws, int type, const void *data, size_t len) {
    if (!ws || (type != HTTPD_WS_TEXT && type != HTTPD_WS_BINARY) || (len && !data))
        return HTTPD_ERR_INVAL;
    if (ws->state != HTTPD__WSS_OPEN) return HTTPD_ERR_CLOSED;
    if (type == HTTPD_WS_TEXT && httpd__utf8(0, (const unsigned char *)data, len, NULL) != 0)
        return HTTPD_ERR_INVAL;            /* a browser would fail the connection (§8.1) */
    return httpd__ws_put(ws, type, data, len, NULL);
}
HTTPD_API int httpd_ws_close(httpd_ws *ws, int code, const char *reason) {
    if (!ws) return HTTPD_ERR_INVAL;
    if (ws->state != HTTPD__WSS_OPEN) return HTTPD_ERR_CLOSED;
    size_t rl = reason ? strlen(reason) : 0;
    if (!httpd__ws_code_ok((unsigned)code) || rl > 123
        || httpd__utf8(0, (const unsigned char *)(reason ? reason : ""), rl, NULL) != 0)
        return HTTPD_ERR_INVAL;
    httpd__conn *c = ws->c;
    httpd__ws_close_frame(c, code, reason);
    ws->state = HTTPD__WSS_CLOSE_SENT;
    ws->code = (uint16_t)code;
    c->since = c->w->now;
    httpd__ws_wake(c);
    return 0;
}
HTTPD_API void httpd_ws_pause(httpd_ws *ws) { if (ws) ws->paused = 1; }
HTTPD_API void httpd_ws_resume(httpd_ws *ws) {
    if (!ws || !ws->paused) return;
    ws->paused = 0;
    httpd__conn *c = ws->c;
    if (!ws->busy && !(c->flags & HTTPD__F_IN_HANDLER)) httpd__ws_process(c);
    if (c->ws == ws) ws->heard = c->w->now;    /* the pause was ours, not the peer's */
    httpd__conn_queue(c);                      /* read the socket again */
}
HTTPD_API void *httpd_ws_user(const httpd_ws *ws) { return ws ? ws->user : NULL; }
HTTPD_API void httpd_ws_set_user(httpd_ws *ws, void *user) { if (ws) ws->user = user; }
HTTPD_API httpd_server *httpd_ws_server(const httpd_ws *ws) { return ws ? ws->c->w->s : NULL; }
HTTPD_API httpd_conn_id httpd_ws_id(const httpd_ws *ws) {
    httpd_conn_id id = { 0 };
    if (ws) id.id = ((uint64_t)(uint32_t)ws->c->w->index << 56)
                  | ((uint64_t)ws->c->slot << 32) | ws->c->gen;
    return id;
}
HTTPD_API void httpd_ws_heartbeat(httpd_ws *ws, uint32_t ping_interval_ms, uint32_t timeout_ms) {
    if (!ws) return;
    const httpd_desc *d = &ws->c->w->s->desc;
    ws->ping_ms = HTTPD__DEF(ping_interval_ms,
                             HTTPD__DEF(ws->d->ping_interval_ms, d->ws_ping_interval_ms));
    ws->timeout_ms = HTTPD__DEF(timeout_ms, HTTPD__DEF(ws->d->timeout_ms, d->ws_timeout_ms));
    httpd__conn_queue(ws->c);                  /* re-armed when the worker drives it */
}
HTTPD_API httpd_ws *httpd_ws_from_id(httpd_server *s, httpd_conn_id id) {
    uint32_t wi = (uint32_t)(id.id >> 56), slot = (uint32_t)(id.id >> 32) & 0xffffffu;
    if (!s || (int)wi >= s->nworkers) return NULL;
    httpd__worker *w = &s->workers[wi];
    if (slot >= w->nslots) return NULL;
    httpd__conn *c = HTTPD__SLOT(w, slot);
    if (c->gen != (uint32_t)id.id || c->state != HTTPD__S_WS || !c->ws
        || c->ws->state != HTTPD__WSS_OPEN)
        return NULL;
    return c->ws;
}
/* A message for other threads: its frame built once, after the header struct. */
HTTPD__PRIVATE httpd__wsmsg *httpd__wsmsg_new(httpd_server *s, int type, const void *data,
                                              size_t len) {
    if ((type != HTTPD_WS_TEXT && type != HTTPD_WS_BINARY) || (len && !data)
        || len > 0x7fffffffu - 16
        || (type == HTTPD_WS_TEXT && httpd__utf8(0, (const unsigned char *)data, len, NULL)))
        return NULL;
    httpd__wsmsg *m = (httpd__wsmsg *)HTTPD_MALLOC(s->desc.alloc_ctx, sizeof *m + 10 + len);
    if (!m) return NULL;
    memset((void *)m, 0, sizeof *m);
    m->alloc_ctx = s->desc.alloc_ctx;
    unsigned char *f = (unsigned char *)(m + 1);
    size_t hl = httpd__ws_head(f, type, len);
    if (len) memcpy(f + hl, data, len);
    m->flen = hl + len;
    return m;
}
HTTPD__PRIVATE void httpd__wsmsg_unref(httpd__wsmsg *m) {
    if (HTTPD__ADD(&m->refs, (uint32_t)-1) == 1) HTTPD_FREE(m->alloc_ctx, m);
}
/* Both run inside the lifetime gate (>>async), like httpd_post: once httpd_wait closed it
   they fail with HTTPD_ERR_STATE and never touch a released worker. */
HTTPD__PRIVATE int httpd__ws_send_to(httpd_server *s, httpd_conn_id id, int type,
                                     const void *data, size_t len, httpd_post_fn done,
                                     void *arg) {
    uint32_t wi = (uint32_t)(id.id >> 56);
    if ((int)wi >= s->nworkers) return HTTPD_ERR_INVAL;
    if (HTTPD__LOAD(&s->running) == 0) return HTTPD_ERR_STATE;
    httpd__wsmsg *m = httpd__wsmsg_new(s, type, data, len);
    if (!m) return type == HTTPD_WS_TEXT ? HTTPD_ERR_INVAL : HTTPD_ERR_NOMEM;
    httpd_task *t = httpd__task_new(&s->pool, HTTPD__TASK_WS);
    if (!t) { HTTPD_FREE(s->desc.alloc_ctx, m); return HTTPD_ERR_NOMEM; }
    HTTPD__STORE(&m->refs, 1u);
    m->done = done; m->arg = arg;
    t->arg = m; t->conn = id; t->w = &s->workers[wi];
    httpd__mbox_push(t->w, t);             /* a late one is released by httpd_wait */
    return 0;
}
HTTPD_API int httpd_ws_send_to(httpd_server *s, httpd_conn_id id, int type, const void *data,
                               size_t len, httpd_post_fn done, void *arg) {
    if (!s || (type != HTTPD_WS_TEXT && type != HTTPD_WS_BINARY) || (len && !data))
        return HTTPD_ERR_INVAL;
    if (!httpd__gate_enter(s)) return HTTPD_ERR_STATE;
    int rc = httpd__ws_send_to(s, id, type, data, len, done, arg);
    httpd__gate_leave(s);
    return rc;
}
HTTPD__PRIVATE int httpd__ws_broadcast(httpd_server *s, const httpd_ws_desc *group, int type,
                                       const void *data, size_t len) {
    if (HTTPD__LOAD(&s->running) == 0) return HTTPD_ERR_STATE;
    httpd__wsmsg *m = httpd__wsmsg_new(s, type, data, len);
    if (!m) return type == HTTPD_WS_TEXT ? HTTPD_ERR_INVAL : HTTPD_ERR_NOMEM;
    httpd_task *t[256];                   /* all or nothing: allocated before any push */
    int n = s->nworkers;
    for (int i = 0; i < n; i++) {
        if (!(t[i] = httpd__task_new(&s->pool, HTTPD__TASK_WS))) {
            while (i--) httpd__task_free(t[i]);
            HTTPD_FREE(s->desc.alloc_ctx, m);
            return HTTPD_ERR_NOMEM;
        }
    }
    m->cast = 1;
    m->group = group;
    HTTPD__STORE(&m->refs, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        t[i]->arg = m;
        t[i]->w = &s->workers[i];
        httpd__mbox_push(t[i]->w, t[i]);
    }
    return 0;
}
HTTPD_API int httpd_ws_broadcast(httpd_server *s, const httpd_ws_desc *group, int type,
                                 const void *data, size_t len) {
    if (!s || (type != HTTPD_WS_TEXT && type != HTTPD_WS_BINARY) || (len && !data))
        return HTTPD_ERR_INVAL;
    if (!httpd__gate_enter(s)) return HTTPD_ERR_STATE;
    int rc = httpd__ws_broadcast(s, group, type, data, len);
    httpd__gate_leave(s);
    return rc;
}
/* On the worker (>>worker's mailbox): a send_to or a broadcast arrives. alive 0: the
   worker has ended; the message is only released. */
HTTPD__PRIVATE void httpd__ws_mbox(httpd__worker *w, httpd_task *t, int alive) {
    httpd__wsmsg *m = (httpd__wsmsg *)t->arg;
    if (m->cast) {
        for (httpd_ws *ws = alive ? w->ws_list : NULL, *next; ws; ws = next) {
            next = ws->next;               /* a slow peer closed by its policy unlinks */
            if (!m->group || ws->d == m->group) httpd__ws_put(ws, 0, NULL, 0, m);
        }
    } else {
        httpd_ws *ws = alive ? httpd_ws_from_id(w->s, t->conn) : NULL;
        int st = ws ? httpd__ws_put(ws, 0, NULL, 0, m) : HTTPD_ERR_CLOSED;
        if (m->done) m->done(w->s, t->conn, m->arg, st);
    }
    httpd__wsmsg_unref(m);
}
#else /* HTTPD_NO_WEBSOCKET: no connection ever upgrades; the hooks compile to nothing */
HTTPD__PRIVATE void httpd__ws_start(httpd__conn *c) { (void)c; }
HTTPD__PRIVATE void httpd__ws_process(httpd__conn *c) { (void)c; }
HTTPD__PRIVATE int httpd__ws_reading(const httpd__conn *c) { (void)c; return 0; }
HTTPD__PRIVATE void httpd__ws_sent(httpd__conn *c) { (void)c; }
HTTPD__PRIVATE uint64_t httpd__ws_deadline(const httpd__conn *c) { (void)c; return UINT64_MAX; }
HTTPD__PRIVATE void httpd__ws_timeout(httpd__conn *c) { (void)c; }
HTTPD__PRIVATE void httpd__ws_end(httpd__conn *c, int code, const char *r, size_t rl) {
    (void)c; (void)code; (void)r; (void)rl;
}
HTTPD__PRIVATE void httpd__ws_going_away(httpd__conn *c) { (void)c; }
HTTPD__PRIVATE void httpd__ws_mbox(httpd__worker *w, httpd_task *t, int alive) {
    (void)w; (void)t; (void)alive;
}
#endif /* HTTPD_NO_WEBSOCKET */
#ifndef HTTPD_NO_MIDDLEWARE   /* >>metrics, >>accesslog, >>mw, >>ops */
/* ================================================================== >>metrics
   Metrics in the Prometheus text exposition format (version 0.0.4), served by
   httpd_metrics. Each worker counts in its own block, and is the only writer of it
   (HTTPD__BUMP: a plain add, no locked instruction, no shared cache line); a scrape sums
   the blocks with relaxed loads. The watchdog is the one writer of its counts; the task
   pool's are read under the pool's lock; application metrics written from other threads
   go to shared cells with a compare-and-swap. Histograms keep a count per bucket
   (cumulated at the scrape) and a sum in microseconds. Counted: requests by route
   pattern, method and status class, their durations by route, bytes, in-flight requests
   and open connections per worker, refusals by cause, the task pool, each worker's loop
   turns (lag) and stalls, application callbacks by route (durations, those longer than
   blocked_warn_ms, watchdog stalls). Owner: each worker its block; the scrape runs on the
   worker that serves it. Cost: nothing unless metrics are on. */
#define HTTPD__LAT_N 14                  /* request duration buckets, +Inf last        */
#define HTTPD__CB_N 7                    /* callback duration buckets                  */
#define HTTPD__LAG_N 8                   /* loop turn buckets                          */
#define HTTPD__NMETH 8                   /* GET HEAD POST PUT DELETE OPTIONS PATCH other */
/* bucket upper bounds in microseconds (compared per request) and as printed (le) */
static const uint64_t httpd__lat_us[HTTPD__LAT_N - 1] =
    { 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000,
      5000000, 10000000 };
static const uint64_t httpd__cb_us[HTTPD__CB_N - 1] =
    { 100, 1000, 10000, 100000, 1000000, 10000000 };
static const uint64_t httpd__lag_us[HTTPD__LAG_N - 1] =
    { 1000, 5000, 10000, 50000, 100000, 500000, 1000000 };
static const char *const httpd__meth_names[HTTPD__NMETH] =
    { "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "other" };
enum { HTTPD__RJ_400, HTTPD__RJ_408, HTTPD__RJ_413, HTTPD__RJ_414, HTTPD__RJ_431,
       HTTPD__RJ_429, HTTPD__RJ_501, HTTPD__RJ_503, HTTPD__RJ_504, HTTPD__RJ_505,
       HTTPD__RJ_PROXY, HTTPD__RJ_MAXCONN, HTTPD__RJ_EMFILE, HTTPD__RJ_N };
static const char *const httpd__rj_names[HTTPD__RJ_N] = {
    "400", "408", "413", "414", "431", "429", "501", "503", "504", "505",
    "proxy_header", "max_connections", "emfile" };
typedef HTTPD__ATOMIC(uint64_t) httpd__ctr;
typedef struct httpd__mroute {           /* one route's counts on one worker          */
    httpd__ctr req[HTTPD__NMETH][5];     /* method x status class 1xx..5xx            */
    httpd__ctr lat[HTTPD__LAT_N], lat_sum;
    httpd__ctr cb[HTTPD__CB_N], cb_sum, slow;
} httpd__mroute;
typedef struct httpd__wmet {             /* one worker's counts                       */
    httpd__ctr started, done, bytes_in, bytes_out, conns, ws, log_dropped;
    httpd__ctr reject[HTTPD__RJ_N];
    httpd__ctr lag[HTTPD__LAG_N], lag_sum;
    httpd__ctr blocked;                  /* the watchdog's stalls (its one writer)      */
    httpd__ctr *app;                     /* desc.metrics counters, as double bits       */
    httpd__mroute *routes;               /* nroutes + 1: the last for no route          */
} httpd__wmet;
typedef struct httpd__metrics {          /* the server's part                           */
    uint32_t    nroutes;                 /* router routes (+1 slot for "no route")      */
    uint32_t    napp;
    const httpd_metric *app;
    httpd__ctr *shared;                  /* app values from other threads, gauges       */
    httpd__ctr *stalls;                  /* watchdog stalls by route (its one writer)   */
    httpd__wmet *w;                      /* one per worker                              */
} httpd__metrics;
#ifdef HTTPD_NO_THREADS
#  define HTTPD__CAS_RLX(p, e, d) HTTPD__CAS((p), (e), (d))
#elif defined(__cplusplus)
#  define HTTPD__CAS_RLX(p, e, d) __atomic_compare_exchange_n((p), (e), (d), 1, \
                                       __ATOMIC_RELAXED, __ATOMIC_RELAXED)
#else
#  define HTTPD__CAS_RLX(p, e, d) atomic_compare_exchange_weak_explicit((p), (e), (d), \
                                       memory_order_relaxed, memory_order_relaxed)
#endif
HTTPD__PRIVATE double httpd__bits_d(uint64_t u) { double d; memcpy(&d, &u, 8); return d; }
HTTPD__PRIVATE uint64_t httpd__d_bits(double d) { uint64_t u; memcpy(&u, &d, 8); return u; }
HTTPD__PRIVATE uint64_t httpd__now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
HTTPD__PRIVATE int httpd__meth_index(int mid) {
    static const signed char map[HTTPD__M_COUNT] = { 7, 0, 1, 2, 3, 4, 5, 6, 7, 7 };
    return mid >= 0 && mid < HTTPD__M_COUNT ? map[mid] : 7;
}
/* The bucket of a duration (us) among `n - 1` upper bounds, +Inf last. */
HTTPD__PRIVATE int httpd__bucket(const uint64_t *le, int n, uint64_t us) {
    int i = 0;
    while (i < n - 1 && us > le[i]) i++;
    return i;
}
HTTPD__PRIVATE int httpd__metric_name_ok(const char *n) {
    if (!n || !*n || (*n >= '0' && *n <= '9')) return 0;
    for (; *n; n++)
        if (!((*n >= 'a' && *n <= 'z') || (*n >= 'A' && *n <= 'Z') || (*n >= '0' && *n <= '9')
              || *n == '_' || *n == ':')) return 0;
    return 1;
}
HTTPD__PRIVATE void httpd__metrics_free(httpd__metrics *m, int nworkers, void *ctx) {
    if (!m) return;
    for (int i = 0; m->w && i < nworkers; i++) {
        HTTPD_FREE(ctx, (void *)m->w[i].app);
        HTTPD_FREE(ctx, (void *)m->w[i].routes);
    }
    HTTPD_FREE(ctx, m->w);
    HTTPD_FREE(ctx, (void *)m->shared);
    HTTPD_FREE(ctx, (void *)m->stalls);
    HTTPD_FREE(ctx, m);
}
/* 0, HTTPD_ERR_NOMEM, or HTTPD_ERR_INVAL for a bad application metric. */
HTTPD__PRIVATE int httpd__metrics_new(httpd__metrics **out, const httpd_desc *d,
                                      uint32_t nroutes) {
    void *ctx = d->alloc_ctx;
    uint32_t napp = 0;
    for (const httpd_metric *a = d->metrics; a && a->name; a++, napp++) {
        size_t nl = strlen(a->name);
        if (!httpd__metric_name_ok(a->name) || (a->type != HTTPD_COUNTER && a->type != HTTPD_GAUGE)
            || (a->type == HTTPD_COUNTER && (nl < 6 || strcmp(a->name + nl - 6, "_total")))
            || (a->labels && (strchr(a->labels, '\n') || strchr(a->labels, '}'))))
            return HTTPD_ERR_INVAL;
    }
    httpd__metrics *m = (httpd__metrics *)HTTPD_MALLOC(ctx, sizeof *m);
    if (!m) return HTTPD_ERR_NOMEM;
    memset(m, 0, sizeof *m);
    m->nroutes = nroutes;
    m->napp = napp;
    m->app = d->metrics;
    size_t nw = (size_t)d->workers;
    m->w = (httpd__wmet *)HTTPD_MALLOC(ctx, nw * sizeof *m->w);
    m->shared = (httpd__ctr *)HTTPD_MALLOC(ctx, (napp + 1) * sizeof(httpd__ctr));
    m->stalls = (httpd__ctr *)HTTPD_MALLOC(ctx, (nroutes + 1) * sizeof(httpd__ctr));
    if (!m->w || !m->shared || !m->stalls) goto fail;
    memset((void *)m->w, 0, nw * sizeof *m->w);
    memset((void *)m->shared, 0, (napp + 1) * sizeof(httpd__ctr));
    memset((void *)m->stalls, 0, (nroutes + 1) * sizeof(httpd__ctr));
    for (size_t i = 0; i < nw; i++) {
        httpd__wmet *w = &m->w[i];
        w->app = (httpd__ctr *)HTTPD_MALLOC(ctx, (napp + 1) * sizeof(httpd__ctr));
        w->routes = (httpd__mroute *)HTTPD_MALLOC(ctx, (nroutes + 1) * sizeof(httpd__mroute));
        if (!w->app || !w->routes) goto fail;
        memset((void *)w->app, 0, (napp + 1) * sizeof(httpd__ctr));
        memset((void *)w->routes, 0, (nroutes + 1) * sizeof(httpd__mroute));
    }
    *out = m;
    return 0;
fail:
    httpd__metrics_free(m, d->workers, ctx);
    return HTTPD_ERR_NOMEM;
}
HTTPD__PRIVATE void httpd__metrics_reject(httpd__wmet *w, int status) {
    int k = status == 400 ? HTTPD__RJ_400 : status == 408 ? HTTPD__RJ_408
          : status == 413 ? HTTPD__RJ_413 : status == 414 ? HTTPD__RJ_414
          : status == 431 ? HTTPD__RJ_431 : status == 429 ? HTTPD__RJ_429
          : status == 501 ? HTTPD__RJ_501 : status == 503 ? HTTPD__RJ_503
          : status == 504 ? HTTPD__RJ_504 : status == 505 ? HTTPD__RJ_505 : -1;
    if (k >= 0) HTTPD__BUMP(&w->reject[k], 1);
}
/* A request is complete: its counts on its worker. */
HTTPD__PRIVATE void httpd__metrics_request(httpd__wmet *w, uint32_t route, int mid,
                                           const httpd_outcome *o) {
    httpd__mroute *m = &w->routes[route];
    int cls = o->status / 100 - 1;
    if (cls < 0 || cls > 4) cls = 4;
    HTTPD__BUMP(&m->req[httpd__meth_index(mid)][cls], 1);
    HTTPD__BUMP(&m->lat[httpd__bucket(httpd__lat_us, HTTPD__LAT_N, o->duration_us)], 1);
    HTTPD__BUMP(&m->lat_sum, o->duration_us);
    HTTPD__BUMP(&w->done, 1);
    HTTPD__BUMP(&w->bytes_in, o->bytes_in);
    HTTPD__BUMP(&w->bytes_out, o->bytes_out);
    if (o->generated) httpd__metrics_reject(w, o->status);
}
/* An application callback of `route` ran for us microseconds. */
HTTPD__PRIVATE void httpd__metrics_callback(httpd__wmet *w, uint32_t route, uint64_t us,
                                            uint32_t slow_ms) {
    httpd__mroute *m = &w->routes[route];
    HTTPD__BUMP(&m->cb[httpd__bucket(httpd__cb_us, HTTPD__CB_N, us)], 1);
    HTTPD__BUMP(&m->cb_sum, us);
    if (us >= (uint64_t)slow_ms * 1000u) HTTPD__BUMP(&m->slow, 1);
}
HTTPD__PRIVATE void httpd__metrics_turn(httpd__wmet *w, uint64_t us) {
    HTTPD__BUMP(&w->lag[httpd__bucket(httpd__lag_us, HTTPD__LAG_N, us)], 1);
    HTTPD__BUMP(&w->lag_sum, us);
}
/* Application values: this worker's cell when called on a worker of s, else a shared
   one (compare-and-swap: other threads may write it too). */
HTTPD__PRIVATE void httpd__fadd(httpd__ctr *c, double v, int shared) {
    uint64_t old = HTTPD__LOAD_RLX(c);
    if (!shared) { HTTPD__STORE_RLX(c, httpd__d_bits(httpd__bits_d(old) + v)); return; }
    while (!HTTPD__CAS_RLX(c, &old, httpd__d_bits(httpd__bits_d(old) + v))) {}
}

/* ---- the exposition ---- */
typedef struct httpd__sb { char *p; size_t len, cap; int err; void *ctx; } httpd__sb;
HTTPD__PRIVATE void httpd__sb_put(httpd__sb *b, const char *s, size_t n) {
    if (b->err) return;
    if (b->cap - b->len < n) {
        size_t cap = HTTPD__MAX(b->cap * 2, b->len + n + 4096);
        char *p = (char *)HTTPD_REALLOC(b->ctx, b->p, cap);
        if (!p) { b->err = 1; return; }
        b->p = p; b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}
#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 2, 3)))
#endif
HTTPD__PRIVATE void httpd__sb_fmt(httpd__sb *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) httpd__sb_put(b, tmp, HTTPD__MIN((size_t)n, sizeof tmp - 1));
}
HTTPD__PRIVATE void httpd__sb_head(httpd__sb *b, const char *name, const char *type,
                                   const char *help) {
    httpd__sb_fmt(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}
/* A label value (text format: backslash, double quote and newline escaped). */
HTTPD__PRIVATE void httpd__sb_label(httpd__sb *b, const char *s) {
    for (; *s; s++) {
        if (*s == '\\' || *s == '"') { httpd__sb_put(b, "\\", 1); httpd__sb_put(b, s, 1); }
        else if (*s == '\n') httpd__sb_put(b, "\\n", 2);
        else httpd__sb_put(b, s, 1);
    }
}
HTTPD__PRIVATE void httpd__sb_us(httpd__sb *b, uint64_t us) {    /* seconds, exact */
    httpd__sb_fmt(b, "%llu.%06llu", (unsigned long long)(us / 1000000u),
                  (unsigned long long)(us % 1000000u));
}
/* One histogram series: cumulative buckets, sum, count. lbl: its other labels with a
   trailing comma, or "". */
HTTPD__PRIVATE void httpd__sb_hist(httpd__sb *b, const char *name, const char *lbl,
                                   const uint64_t *le, int n, const uint64_t *cnt,
                                   uint64_t sum_us) {
    uint64_t acc = 0;
    for (int i = 0; i < n; i++) {
        acc += cnt[i];
        if (i < n - 1) httpd__sb_fmt(b, "%s_bucket{%sle=\"%g\"} %llu\n", name, lbl,
                                     (double)le[i] / 1e6, (unsigned long long)acc);
        else httpd__sb_fmt(b, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, lbl,
                           (unsigned long long)acc);
    }
    httpd__sb_fmt(b, "%s_sum{%s", name, lbl);
    if (b->len && b->p[b->len - 1] == ',') b->len--;
    httpd__sb_put(b, "} ", 2);
    httpd__sb_us(b, sum_us);
    httpd__sb_fmt(b, "\n%s_count{%s", name, lbl);
    if (b->len && b->p[b->len - 1] == ',') b->len--;
    httpd__sb_fmt(b, "} %llu\n", (unsigned long long)acc);
}
#define HTTPD__SUM(field) do { v = 0; for (int i_ = 0; i_ < nw; i_++) \
    v += HTTPD__LOAD_RLX(&m->w[i_].field); } while (0)
/* The whole exposition into b. */
HTTPD__PRIVATE void httpd__metrics_render(httpd_server *s, const httpd__metrics *m, httpd__sb *b,
                                          int log_on) {
    int nw = s->desc.workers;
    uint32_t nr = m->nroutes + 1;
    uint64_t v, cnt[HTTPD__LAT_N];
    char lbl[600];
    /* route label values: the pattern, "unmatched" for requests no route took */
    #define HTTPD__ROUTE_NAME(i) ((i) < m->nroutes ? s->router.routes[i].pub->pattern : "unmatched")
    httpd__sb_head(b, "httpd_requests_total", "counter",
                   "Requests answered, by route pattern, method and status class.");
    for (uint32_t r = 0; r < nr; r++)
        for (int k = 0; k < HTTPD__NMETH; k++)
            for (int c = 0; c < 5; c++) {
                HTTPD__SUM(routes[r].req[k][c]);
                if (!v) continue;
                httpd__sb_put(b, "httpd_requests_total{route=\"", 28);
                httpd__sb_label(b, HTTPD__ROUTE_NAME(r));
                httpd__sb_fmt(b, "\",method=\"%s\",status=\"%dxx\"} %llu\n", httpd__meth_names[k],
                              c + 1, (unsigned long long)v);
            }
    httpd__sb_head(b, "httpd_request_duration_seconds", "histogram",
                   "Time from a request's arrival to the end of its response, by route.");
    for (uint32_t r = 0; r < nr; r++) {
        uint64_t tot = 0;
        for (int i = 0; i < HTTPD__LAT_N; i++) {
            HTTPD__SUM(routes[r].lat[i]);
            cnt[i] = v;
            tot += v;
        }
        if (!tot) continue;
        HTTPD__SUM(routes[r].lat_sum);
        httpd__sb b2 = { lbl, 0, sizeof lbl, 0, NULL };
        httpd__sb_put(&b2, "route=\"", 7);
        httpd__sb_label(&b2, HTTPD__ROUTE_NAME(r));
        httpd__sb_put(&b2, "\",", 3);
        if (b2.err) continue;                              /* a pattern over 500 bytes */
        lbl[b2.len] = 0;
        httpd__sb_hist(b, "httpd_request_duration_seconds", lbl, httpd__lat_us, HTTPD__LAT_N,
                       cnt, v);
    }
    httpd__sb_head(b, "httpd_callback_duration_seconds", "histogram",
                   "Time the application's callbacks (handlers, timers, task completions, "
                   "body pieces, middleware) held their worker, by route.");
    for (uint32_t r = 0; r < nr; r++) {
        uint64_t tot = 0;
        for (int i = 0; i < HTTPD__CB_N; i++) {
            HTTPD__SUM(routes[r].cb[i]);
            cnt[i] = v;
            tot += v;
        }
        if (!tot) continue;
        HTTPD__SUM(routes[r].cb_sum);
        httpd__sb b2 = { lbl, 0, sizeof lbl, 0, NULL };
        httpd__sb_put(&b2, "route=\"", 7);
        httpd__sb_label(&b2, HTTPD__ROUTE_NAME(r));
        httpd__sb_put(&b2, "\",", 3);
        if (b2.err) continue;
        lbl[b2.len] = 0;
        httpd__sb_hist(b, "httpd_callback_duration_seconds", lbl, httpd__cb_us, HTTPD__CB_N,
                       cnt, v);
    }
    httpd__sb_head(b, "httpd_slow_callbacks_total", "counter",
                   "Callbacks that held their worker longer than blocked_warn_ms, by route.");
    for (uint32_t r = 0; r < nr; r++) {
        HTTPD__SUM(routes[r].slow);
        if (!v) continue;
        httpd__sb_put(b, "httpd_slow_callbacks_total{route=\"", 34);
        httpd__sb_label(b, HTTPD__ROUTE_NAME(r));
        httpd__sb_fmt(b, "\"} %llu\n", (unsigned long long)v);
    }
    httpd__sb_head(b, "httpd_blocked_callbacks_total", "counter",
                   "Worker stalls the watchdog saw, by the route of the callback that held it.");
    for (uint32_t r = 0; r < nr; r++) {
        v = HTTPD__LOAD_RLX(&m->stalls[r]);
        if (!v) continue;
        httpd__sb_put(b, "httpd_blocked_callbacks_total{route=\"", 37);
        httpd__sb_label(b, HTTPD__ROUTE_NAME(r));
        httpd__sb_fmt(b, "\"} %llu\n", (unsigned long long)v);
    }
    #undef HTTPD__ROUTE_NAME
    httpd__sb_head(b, "httpd_requests_in_flight", "gauge",
                   "Requests received and not yet answered, per worker.");
    for (int i = 0; i < nw; i++)
        httpd__sb_fmt(b, "httpd_requests_in_flight{worker=\"%d\"} %llu\n", i,
                      (unsigned long long)(HTTPD__LOAD_RLX(&m->w[i].started)
                                           - HTTPD__LOAD_RLX(&m->w[i].done)));
    httpd__sb_head(b, "httpd_connections_open", "gauge", "Open connections, per worker.");
    for (int i = 0; i < nw; i++)
        httpd__sb_fmt(b, "httpd_connections_open{worker=\"%d\"} %llu\n", i,
                      (unsigned long long)HTTPD__LOAD_RLX(&m->w[i].conns));
    httpd__sb_head(b, "httpd_websockets_open", "gauge", "Open WebSockets, per worker.");
    for (int i = 0; i < nw; i++)
        httpd__sb_fmt(b, "httpd_websockets_open{worker=\"%d\"} %llu\n", i,
                      (unsigned long long)HTTPD__LOAD_RLX(&m->w[i].ws));
    httpd__sb_head(b, "httpd_received_bytes_total", "counter", "Request head and body bytes.");
    HTTPD__SUM(bytes_in);
    httpd__sb_fmt(b, "httpd_received_bytes_total %llu\n", (unsigned long long)v);
    httpd__sb_head(b, "httpd_sent_bytes_total", "counter", "Response head and body bytes.");
    HTTPD__SUM(bytes_out);
    httpd__sb_fmt(b, "httpd_sent_bytes_total %llu\n", (unsigned long long)v);
    httpd__sb_head(b, "httpd_rejections_total", "counter",
                   "Answers and refusals of the server itself, by cause: a status, a bad "
                   "PROXY header, accepts paused at max_connections or out of descriptors.");
    for (int k = 0; k < HTTPD__RJ_N; k++) {
        HTTPD__SUM(reject[k]);
        httpd__sb_fmt(b, "httpd_rejections_total{cause=\"%s\"} %llu\n", httpd__rj_names[k],
                      (unsigned long long)v);
    }
    uint32_t queued;
    uint64_t shed;
    httpd__lock(&s->pool.mu);
    queued = s->pool.queued;
    shed = s->pool.shed;
    httpd__unlock(&s->pool.mu);
    httpd__sb_head(b, "httpd_tasks_queued", "gauge", "Blocking tasks waiting for a pool thread.");
    httpd__sb_fmt(b, "httpd_tasks_queued %u\n", queued);
    httpd__sb_head(b, "httpd_tasks_running", "gauge", "Blocking tasks running on the pool.");
    httpd__sb_fmt(b, "httpd_tasks_running %u\n", (unsigned)HTTPD__LOAD(&s->pool.running));
    httpd__sb_head(b, "httpd_tasks_shed_total", "counter",
                   "Tasks refused because the queue was full (httpd_defer failed).");
    httpd__sb_fmt(b, "httpd_tasks_shed_total %llu\n", (unsigned long long)shed);
    httpd__sb_head(b, "httpd_worker_loop_lag_seconds", "histogram",
                   "Length of each worker loop turn: how long new events wait, at most.");
    for (int i = 0; i < nw; i++) {
        for (int k = 0; k < HTTPD__LAG_N; k++) cnt[k] = HTTPD__LOAD_RLX(&m->w[i].lag[k]);
        snprintf(lbl, sizeof lbl, "worker=\"%d\",", i);
        httpd__sb_hist(b, "httpd_worker_loop_lag_seconds", lbl, httpd__lag_us, HTTPD__LAG_N, cnt,
                       HTTPD__LOAD_RLX(&m->w[i].lag_sum));
    }
    httpd__sb_head(b, "httpd_worker_blocked_total", "counter",
                   "Stalls the watchdog saw: a worker away from its loop over blocked_warn_ms.");
    for (int i = 0; i < nw; i++)
        httpd__sb_fmt(b, "httpd_worker_blocked_total{worker=\"%d\"} %llu\n", i,
                      (unsigned long long)HTTPD__LOAD_RLX(&m->w[i].blocked));
    if (log_on) {
        httpd__sb_head(b, "httpd_access_log_dropped_total", "counter",
                       "Access log lines dropped: every buffer was waiting for the disk.");
        HTTPD__SUM(log_dropped);
        httpd__sb_fmt(b, "httpd_access_log_dropped_total %llu\n", (unsigned long long)v);
    }
    for (uint32_t k = 0; k < m->napp; k++) {       /* the application's */
        const httpd_metric *a = &m->app[k];
        double d;
        if (a->read) d = a->read(a->arg);
        else {
            d = httpd__bits_d(HTTPD__LOAD_RLX(&m->shared[k]));
            for (int i = 0; i < nw; i++) d += httpd__bits_d(HTTPD__LOAD_RLX(&m->w[i].app[k]));
        }
        if (k == 0 || strcmp(m->app[k - 1].name, a->name))
            httpd__sb_head(b, a->name, a->type == HTTPD_COUNTER ? "counter" : "gauge",
                           a->help ? a->help : a->name);
        if (a->labels && *a->labels) httpd__sb_fmt(b, "%s{%s} %.17g\n", a->name, a->labels, d);
        else httpd__sb_fmt(b, "%s %.17g\n", a->name, d);
    }
}
#undef HTTPD__SUM

/* =============================================================== >>accesslog
   The access log: one JSON line per request, formatted on the request's worker into that
   worker's buffer; full buffers (or one whose first line is flush_ms old) go to a queue
   that one log thread writes to the file, stderr or the application's function. A worker
   takes the queue's lock once per buffer (a few hundred lines), never waits for the disk:
   when its buffers are all queued, a line is dropped and counted. The log thread reopens
   the file when asked (SIGHUP, httpd_log_reopen), for logrotate. A line is always one
   line of ASCII JSON: every string is escaped (control bytes, quotes, backslashes and
   bytes over 0x7e as \u00XX) and cut to a bounded length. Owner: each worker its current
   buffer; the queue under its mutex; the file under the log thread. */
#define HTTPD__LOG_LINE_MAX 8192         /* room a line may need, at most                */
#define HTTPD__LOG_BUFS 16               /* buffers per worker at most (made on demand):
                                            ~40 ms of lines at 100,000 requests/s        */
#define HTTPD__LOG_FIELDS 16             /* request fields a line may carry             */
typedef struct httpd__logbuf {
    struct httpd__logbuf *next;
    uint32_t len;                        /* its bytes follow the struct                 */
} httpd__logbuf;
typedef struct httpd__logw {             /* the writer, one per server                  */
    httpd__mutex mu;
    httpd__cond  cv;
    httpd__logbuf  *head, *tail;         /* full, oldest first                          */
    httpd__logbuf  *spare;               /* written, to be reused                       */
    uint32_t        nbufs, maxbufs, cap;
    int             fd, own_fd, stop, started;
    HTTPD__ATOMIC(int) reopen;
    httpd_access_log cfg;
    void           *ctx;
    httpd__thread       th;
    uint32_t        nfields;             /* cfg.headers, compiled:                      */
    struct { char lower[64]; size_t len; int redact; } field[HTTPD__LOG_FIELDS];
} httpd__logw;

/* The first byte of [p, end) a JSON string must escape (a control byte, '"', '\\', or a
   byte over 0x7e), or end. 16 bytes a step: most of a line needs no escape at all. */
HTTPD__HOT const char *httpd__json_plain(const char *p, const char *end) {
#if HTTPD__SSE2
    const __m128i flip = _mm_set1_epi8((char)0x80), lo = _mm_set1_epi8((char)(0x20 ^ 0x80));
    const __m128i hi = _mm_set1_epi8((char)(0x7e ^ 0x80));
    const __m128i q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\');
    for (; HTTPD__VECTOR && end - p >= 16; p += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i x = _mm_xor_si128(v, flip);                 /* unsigned order, signed compare */
        __m128i bad = _mm_or_si128(_mm_cmplt_epi8(x, lo), _mm_cmpgt_epi8(x, hi));
        bad = _mm_or_si128(bad, _mm_or_si128(_mm_cmpeq_epi8(v, q), _mm_cmpeq_epi8(v, bs)));
        int m = _mm_movemask_epi8(bad);
        if (m) return p + httpd__ctz64((uint64_t)(unsigned)m);
    }
#endif
    while (p < end && (unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f && *p != '"'
           && *p != '\\')
        p++;
    return p;
}
/* s[0..n) as a JSON string (RFC 8259 §7), cut after max source bytes ("..." marks a
   cut). Writes at most 6 x max + 5 bytes. */
HTTPD__PRIVATE char *httpd__json_str(char *p, const char *s, size_t n, size_t max) {
    static const char hex[] = "0123456789abcdef";
    const char *end = s + HTTPD__MIN(n, max);
    *p++ = '"';
    for (;;) {
        const char *run = httpd__json_plain(s, end);
        memcpy(p, s, (size_t)(run - s));
        p += run - s;
        if ((s = run) == end) break;
        unsigned char ch = (unsigned char)*s++;
        if (ch == '"' || ch == '\\') { *p++ = '\\'; *p++ = (char)ch; continue; }
        memcpy(p, "\\u00", 4);
        p[4] = hex[ch >> 4]; p[5] = hex[ch & 15];
        p += 6;
    }
    if (n > max) { memcpy(p, "...", 3); p += 3; }
    *p++ = '"';
    return p;
}
/* RFC 3339 UTC time with milliseconds, "2006-01-02T15:04:05.000Z" (24 bytes). */
HTTPD__PRIVATE void httpd__rfc3339(char out[24], uint64_t unix_ms) {
    time_t t = (time_t)(unix_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    unsigned v[7] = { (unsigned)(tm.tm_year + 1900) % 10000u, (unsigned)tm.tm_mon + 1,
                      (unsigned)tm.tm_mday, (unsigned)tm.tm_hour, (unsigned)tm.tm_min,
                      (unsigned)tm.tm_sec, (unsigned)(unix_ms % 1000) };
    static const char sep[7] = { '-', '-', 'T', ':', ':', '.', 'Z' };
    char *p = out;
    for (int i = 0; i < 7; i++) {
        unsigned w = i == 0 ? 4 : i == 6 ? 3 : 2;
        for (unsigned k = w; k--;) { p[k] = (char)('0' + v[i] % 10); v[i] /= 10; }
        p += w;
        *p++ = sep[i];
    }
}
HTTPD__PRIVATE int httpd__logw_open(httpd__logw *l) {
    if (!l->cfg.path) return 0;
    if (!strcmp(l->cfg.path, "-")) { l->fd = 2; l->own_fd = 0; return 0; }
    int fd = open(l->cfg.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return HTTPD_ERR_SYS;
    if (l->own_fd) close(l->fd);
    l->fd = fd;
    l->own_fd = 1;
    return 0;
}
HTTPD__PRIVATE void httpd__logw_write(httpd__logw *l, const char *p, size_t n) {
    if (l->cfg.fn) { l->cfg.fn(l->cfg.user_data, p, n); return; }
    while (n) {
        ssize_t k = write(l->fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return;                          /* a full disk: the lines are lost */
        p += k;
        n -= (size_t)k;
    }
}
HTTPD__PRIVATE void *httpd__logw_main(void *arg) {
    httpd__logw *l = (httpd__logw *)arg;
    httpd__lock(&l->mu);
    for (;;) {
        while (!l->head && !l->stop && !HTTPD__LOAD(&l->reopen)) {
            struct timespec ts;                 /* a reopen asked from a signal handler
                                                   cannot signal: look once a second */
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            httpd__cond_timedwait(&l->cv, &l->mu, &ts);
        }
        httpd__logbuf *b = l->head;
        l->head = l->tail = NULL;
        int stop = l->stop;
        httpd__unlock(&l->mu);
        if (HTTPD__LOAD(&l->reopen)) {
            HTTPD__STORE(&l->reopen, 0);
            httpd__logw_open(l);                   /* on failure the old file stays */
        }
        httpd__logbuf *last = NULL;
        for (httpd__logbuf *x = b; x; x = x->next) {
            httpd__logw_write(l, (const char *)(x + 1), x->len);
            x->len = 0;
            last = x;
        }
        httpd__lock(&l->mu);
        if (last) { last->next = l->spare; l->spare = b; }
        if (stop && !l->head) break;
    }
    httpd__unlock(&l->mu);
    return NULL;
}
/* 0, HTTPD_ERR_SYS (cannot open the file), HTTPD_ERR_NOMEM. */
HTTPD__PRIVATE int httpd__logw_start(httpd__logw **out, const httpd_desc *d) {
    httpd__logw *l = (httpd__logw *)HTTPD_MALLOC(d->alloc_ctx, sizeof *l);
    if (!l) return HTTPD_ERR_NOMEM;
    memset((void *)l, 0, sizeof *l);
    l->cfg = d->access_log;
    l->ctx = d->alloc_ctx;
    l->cap = HTTPD__MAX(HTTPD__DEF(l->cfg.buffer_bytes, 65536u), 2u * HTTPD__LOG_LINE_MAX);
    l->maxbufs = HTTPD__LOG_BUFS * (uint32_t)d->workers;
    l->fd = -1;
    static const char *const dflt[] = { "authorization", "proxy-authorization", "cookie", NULL };
    const char *const *redact = l->cfg.redact ? l->cfg.redact : dflt;
    for (const char *const *n = l->cfg.headers; n && *n; n++) {
        size_t nl = strlen(*n);
        if (!nl || nl >= sizeof l->field[0].lower || !httpd__is_ctl_free(*n, 1)
            || l->nfields == HTTPD__LOG_FIELDS) {
            HTTPD_FREE(d->alloc_ctx, l);
            return HTTPD_ERR_INVAL;                 /* a field name is a token, 1-63 bytes */
        }
        for (size_t i = 0; i <= nl; i++)
            l->field[l->nfields].lower[i] = (char)httpd__lower((unsigned char)(*n)[i]);
        l->field[l->nfields].len = nl;
        for (const char *const *rr = redact; *rr; rr++)
            l->field[l->nfields].redact |= httpd__ieq2(*rr, strlen(*rr), *n, nl);
        l->nfields++;
    }
    int rc = httpd__logw_open(l);
    if (rc < 0) { HTTPD_FREE(d->alloc_ctx, l); return rc; }
    httpd__mutex_init(&l->mu);
    httpd__cond_init(&l->cv);
    *out = l;
    return 0;
}
/* The thread starts with the others (signals blocked). */
HTTPD__PRIVATE void httpd__logw_run(httpd__logw *l) {
    l->started = !httpd__thread_start(&l->th, httpd__logw_main, l);
}
/* Writes what is queued and ends the thread; frees everything. */
HTTPD__PRIVATE void httpd__logw_stop(httpd__logw *l) {
    if (!l) return;
    if (l->started) {
        httpd__lock(&l->mu);
        l->stop = 1;
        httpd__cond_signal(&l->cv);
        httpd__unlock(&l->mu);
        httpd__thread_join(l->th);
    }
    for (httpd__logbuf *x = l->head; x; x = x->next)      /* never started: write here */
        httpd__logw_write(l, (const char *)(x + 1), x->len);
    for (int k = 0; k < 2; k++) {
        httpd__logbuf *x = k ? l->spare : l->head;
        while (x) { httpd__logbuf *n = x->next; HTTPD_FREE(l->ctx, x); x = n; }
    }
    if (l->own_fd) close(l->fd);
    httpd__mutex_destroy(&l->mu);
    httpd__cond_destroy(&l->cv);
    HTTPD_FREE(l->ctx, l);
}
/* Hands a worker's buffer to the log thread (NULL or empty: nothing). */
HTTPD__PRIVATE void httpd__logw_push(httpd__logw *l, httpd__logbuf *b) {
    if (!b) return;
    httpd__lock(&l->mu);
    if (!b->len) { b->next = l->spare; l->spare = b; }
    else {
        b->next = NULL;
        if (l->tail) l->tail->next = b; else l->head = b;
        l->tail = b;
        httpd__cond_signal(&l->cv);
    }
    httpd__unlock(&l->mu);
}
/* An empty buffer for a worker: a spare one, a new one while there are fewer than
   maxbufs, else NULL (every buffer is waiting: the line is dropped). */
HTTPD__PRIVATE httpd__logbuf *httpd__logw_take(httpd__logw *l) {
    httpd__lock(&l->mu);
    httpd__logbuf *b = l->spare;
    if (b) l->spare = b->next;
    else if (l->nbufs < l->maxbufs
             && (b = (httpd__logbuf *)HTTPD_MALLOC(l->ctx, sizeof *b + l->cap)) != NULL)
        l->nbufs++;
    httpd__unlock(&l->mu);
    if (b) { b->next = NULL; b->len = 0; }
    return b;
}

/* ======================================================================= >>mw
   The operations chain around every request, in one defined order:
       access log and metrics (they observe the whole) -> request id -> CORS ->
       the application's middleware (desc's, then the route's: auth goes here) ->
       rate limit -> handler -> error bodies (desc.on_error)
   httpd__mw_begin runs the request side once a request is routed (for a 404, 405 or the
   OPTIONS answer too: the router's answer stands where the handler would); a preflight,
   a middleware or the rate limit may answer there and end it. httpd__mw_head adds the
   response side to every head the request gets, the server's own answers included
   (request id, CORS fields, the application's `response` hooks). httpd__mw_done reports
   its completion exactly once (metrics, access log, `complete` hooks), whatever ended
   it: a response, an error, a timeout, the client leaving. A request refused before its
   head was even parsed (400, 414, 431, the header timeout's 408) is made from what the
   head holds (httpd__mw_salvage), so it too is logged, counted, request-id'd, and CORS'd
   when its Origin could be read. With nothing configured s->mw is NULL and each hook on
   the request path is one null check. Calls: >>conn, >>response, >>proxyproto,
   >>ratelimit, >>metrics, >>accesslog. Owner: the connection's worker (the
   configuration is read-only once started). */
#define HTTPD__RID_MAX 64                /* longest X-Request-Id taken from a client   */
typedef struct httpd__limiter {          /* one httpd_rate_limit in use                 */
    const httpd_rate_limit *pub;
    uint64_t T, tau;                     /* us between requests, burst tolerance        */
    uint32_t sets;                       /* table size per worker, x HTTPD__RL_WAYS     */
} httpd__limiter;
typedef struct httpd__mwroute {          /* a route's chain (the last one: no route)    */
    const httpd_middleware *mw[2];       /* desc's, the route's                         */
    const httpd_cors *cors;
    const httpd__limiter *rl;
    uint32_t index;                      /* its metrics slot                             */
    uint8_t  quiet;
} httpd__mwroute;
typedef struct httpd__mw {
    httpd__mwroute *routes;              /* router routes + 1                           */
    httpd__limiter *limiters;
    uint32_t        nlimiters, ntrusted;
    httpd__cidr    *trusted;
    int             request_id;
    httpd__metrics *met;                 /* NULL: metrics off                            */
    httpd__logw    *log;                 /* NULL: access log off                         */
    uint64_t        boot;                /* random per start: ids differ across restarts */
} httpd__mw;
typedef struct httpd__wops {             /* a worker's part                             */
    httpd__wmet    *met;
    httpd__rl_table *rl;                 /* one per limiter, filled on first use        */
    httpd__logbuf  *lcur;                /* the access log buffer being filled          */
    httpd__timer    ltimer;              /* flush_ms after its first line               */
    uint64_t        cb_t0;               /* us: the running callback's start            */
    uint32_t        cb_depth;            /* callbacks running, nested                   */
    uint64_t        turn_t0;             /* us: the loop turn's start (metrics)         */
    time_t          tsec;                /* the second tstr holds                       */
    char            tstr[32];
    char            rid[32];             /* the next generated request id: an odometer  */
    int             dropped;             /* a drop was reported                          */
} httpd__wops;
#if defined(__GNUC__) || defined(__clang__)
static __thread httpd__worker *httpd__tls_worker;   /* the worker running this thread */
#elif defined(__cplusplus)
static thread_local httpd__worker *httpd__tls_worker;
#else
static _Thread_local httpd__worker *httpd__tls_worker;
#endif

HTTPD__PRIVATE uint64_t httpd__fnv(const char *p, size_t n, uint64_t h) {
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 0x100000001b3ull;
    return h;
}
/* 64 random bits for request ids (the kernel's, else time, pid and an address). */
HTTPD__PRIVATE uint64_t httpd__random64(void) {
    uint64_t v = 0;
#ifdef SYS_getrandom
    if (syscall(SYS_getrandom, &v, sizeof v, 0) == (long)sizeof v) return v;
#endif
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return httpd__mix64((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)getpid()
                        ^ (uint64_t)(uintptr_t)&v);
}
/* A client's X-Request-Id is kept when it is 1 to 64 of [A-Za-z0-9._:+/=@-]: safe in a
   header, a log line and a URL, and long enough for UUIDs, ULIDs and trace ids. */
HTTPD__PRIVATE int httpd__rid_ok(httpd_str v) {
    if (!v.len || v.len > HTTPD__RID_MAX) return 0;
    for (size_t i = 0; i < v.len; i++) {
        char ch = v.ptr[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')
              || strchr("-_.:+/=@", ch)))
            return 0;
    }
    return 1;
}
/* Generated ids: 32 hex digits, 16 random per start, 2 for the worker, 14 counting up:
   unique across workers and restarts, and a copy and an increment each. */
HTTPD__PRIVATE void httpd__rid_init(httpd__wops *o, uint64_t boot, int worker) {
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) o->rid[i] = hex[(boot >> (60 - 4 * i)) & 15];
    o->rid[16] = hex[(worker >> 4) & 15];
    o->rid[17] = hex[worker & 15];
    memset(o->rid + 18, '0', 14);
}
HTTPD__PRIVATE void httpd__rid_next(httpd__wops *o, char *out) {
    memcpy(out, o->rid, 32);
    for (int i = 31; i >= 18; i--) {
        char ch = o->rid[i];
        if (ch == '9') { o->rid[i] = 'a'; return; }
        if (ch != 'f') { o->rid[i] = (char)(ch + 1); return; }
        o->rid[i] = '0';
    }
}
/* A middleware list goes on to the first entry without any hook. */
HTTPD__HOT int httpd__mw_live(const httpd_middleware *m) {
    return m && (m->request || m->response || m->complete);
}
/* Is `tok` in the list ("GET, POST" or "Content-Type, X-Token")? */
HTTPD__PRIVATE int httpd__list_has(const char *list, const char *tok, size_t n, int nocase) {
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '\t') p++;
        const char *s = p;
        while (*p && *p != ',' && *p != ' ' && *p != '\t') p++;
        if ((size_t)(p - s) == n && n
            && (nocase ? httpd__ieq2(s, n, tok, n) : !memcmp(s, tok, n))) return 1;
    }
    return 0;
}
/* Origin matching: exact (case-insensitive), "https://" "*.suffix" (one or more labels
   before the suffix, any scheme), or "*". */
HTTPD__PRIVATE int httpd__cors_match(const httpd_cors *c, httpd_str o) {
    for (const char *const *pp = c->origins; pp && *pp; pp++) {
        const char *pat = *pp, *star = strstr(pat, "://*.");
        size_t pl = strlen(pat);
        if (pl == 1 && pat[0] == '*') return 1;
        if (!star) {
            if (httpd__ieq2(o.ptr, o.len, pat, pl)) return 1;
            continue;
        }
        size_t sch = (size_t)(star - pat) + 3, suf = pl - sch - 1;   /* "https://", ".x.com" */
        if (o.len <= sch + suf || !httpd__ieq2(o.ptr, sch, pat, sch)
            || !httpd__ieq2(o.ptr + o.len - suf, suf, pat + sch + 1, suf))
            continue;
        size_t i = sch;
        for (; i < o.len - suf; i++)
            if (!HTTPD__IS(o.ptr[i], HTTPD__C_TCHAR) || o.ptr[i] == ':' || o.ptr[i] == '/') break;
        if (i == o.len - suf && o.ptr[sch] != '.') return 1;
    }
    return 0;
}
HTTPD__PRIVATE int httpd__cors_headers_ok(const httpd_cors *c, httpd_str asked) {
    if (c->headers && !strcmp(c->headers, "*")) return 1;
    const char *p = asked.ptr, *end = p ? p + asked.len : NULL;
    while (p && p < end) {
        while (p < end && (*p == ' ' || *p == ',' || *p == '\t')) p++;
        const char *s = p;
        while (p < end && *p != ',' && *p != ' ' && *p != '\t') p++;
        if (p > s && (!c->headers || !httpd__list_has(c->headers, s, (size_t)(p - s), 1)))
            return 0;
    }
    return 1;
}

/* ---- the request side ---- */
/* The request's operations record: start time, client address (trusted proxies), request
   id, CORS origin. Runs once per request, before anything can answer it. */
HTTPD__PRIVATE void httpd__mw_adopt(httpd__conn *c, httpd__req *r) {
    httpd__worker *w = c->w;
    const httpd_server *s = w->s;
    const httpd__mw *m = s->mw;
    httpd_request *p = &r->pub;
    httpd_str rid = { NULL, 0 };
    r->mwon = 1;
    r->mr = &m->routes[r->route ? (size_t)(r->route - s->router.routes) : s->router.nroutes];
    uint64_t now = httpd__now_us(), waited = w->now > c->since ? (w->now - c->since) * 1000u : 0;
    r->t0_us = now > waited ? now - waited : now;       /* from the head's first byte */
    r->bytes_out = 0;
    r->why = NULL;
    r->status = 0;
    r->generated = r->mwdone = r->cors_ok = 0;
    r->origin.ptr = NULL; r->origin.len = 0;
    memcpy(r->addr, c->addr, 16);
    for (int i = 0; i < p->header_count; i++) {
        const httpd_header *h = &p->headers[i];
        if (h->name.len == 6 && httpd__ieq(h->name.ptr, "origin", 6)) r->origin = h->value;
        else if (h->name.len == 12 && httpd__ieq(h->name.ptr, "x-request-id", 12)) rid = h->value;
    }
    if (m->ntrusted) httpd__realip(m->trusted, m->ntrusted, p->headers, p->header_count, r->addr);
    if (m->request_id) {
        size_t n = 32;
        if (httpd__rid_ok(rid)) memcpy(r->rid, rid.ptr, n = rid.len);
        else httpd__rid_next(w->ops, r->rid);
        p->request_id.ptr = r->rid;
        p->request_id.len = n;
    }
    if (r->mr->cors && r->origin.ptr)
        r->cors_ok = (uint8_t)httpd__cors_match(r->mr->cors, r->origin);
    if (w->ops->met) HTTPD__BUMP(&w->ops->met->started, 1);
}
/* A request the server refuses before one was parsed (r fresh from httpd__req_get, or
   with its head unparsed): method, target, path and fields from what the input holds,
   as far as they are well-formed, for the answer's fields and its log line. */
HTTPD__PRIVATE void httpd__mw_salvage(httpd__conn *c, httpd__req *r) {
    const httpd_server *s = c->w->s;
    const httpd__buf *in = &c->in;
    size_t avail = in->data ? in->len - in->pos : 0;
    const char *b = in->data ? in->data + in->pos : "";
    const char *end = b + HTTPD__MIN(avail, (size_t)s->lim.max_header_bytes), *q = b;
    httpd_request *p = &r->pub;
    r->conn = c;
    r->head_len = (uint32_t)(end - b);
    r->head.minor_version = 1;
    while (q < end && q - b < 32 && HTTPD__IS(*q, HTTPD__C_TCHAR)) q++;
    if (q > b && q < end && *q == ' ') {
        p->method.ptr = b; p->method.len = (size_t)(q - b);
        r->head.method_id = httpd__method_id(b, p->method.len);
        const char *t = ++q;
        while (q < end && *q != ' ' && *q != '\r' && *q != '\n') q++;
        p->target.ptr = t; p->target.len = (size_t)(q - t);
        const char *qm = (const char *)memchr(t, '?', p->target.len);
        p->path.ptr = t; p->path.len = qm ? (size_t)(qm - t) : p->target.len;
    }
    const char *lf = (const char *)memchr(b, '\n', (size_t)(end - b));
    uint32_t cap = HTTPD__MIN(s->lim.max_headers, 64u), n = 0;
    httpd_header *hs = lf ? (httpd_header *)httpd__arena_alloc(r, cap * sizeof *hs) : NULL;
    for (q = lf ? lf + 1 : end; hs && n < cap && end - q >= 2 && q[0] != '\r';)
        if (httpd__field_line(&q, end, &hs[n]) == 0) n++; else break;
    p->headers = hs;
    p->header_count = (int)n;
    p->conn.id = ((uint64_t)(uint32_t)c->w->index << 56) | ((uint64_t)c->slot << 32) | c->gen;
}
/* The server's own answer from the chain (preflight, refusal, 429): queued like the
   router's, keep-alive when the request allows it. */
HTTPD__PRIVATE void httpd__mw_answer(httpd__conn *c, httpd__req *r, int status,
                                     const char *extra, size_t n, const char *body) {
    r->keepalive = (uint8_t)httpd__keepalive(c, r);
    if (httpd__conn_reply(c, r, status, *body ? "text/plain" : NULL, extra, n, body,
                          strlen(body), r->keepalive) < 0) {
        httpd__conn_error(c, 503);
        return;
    }
    r->responded = 1;
    c->state = HTTPD__S_HANDLER;
}
/* A CORS preflight (WHATWG Fetch §4.8): 204 with what may be sent, or 403 without any
   CORS field when the origin, the method or a field is not allowed. */
HTTPD__PRIVATE void httpd__mw_preflight(httpd__conn *c, httpd__req *r, httpd_str acrm) {
    const httpd_cors *cors = r->mr->cors;
    httpd_str acrh = httpd_get_header(&r->pub, "Access-Control-Request-Headers");
    const char *methods = cors->methods ? cors->methods : "GET, HEAD, POST";
    int any = !strcmp(methods, "*");
    int ok = r->cors_ok && (any || httpd__list_has(methods, acrm.ptr, acrm.len, 0))
             && httpd__cors_headers_ok(cors, acrh);
    r->cors_ok = (uint8_t)(ok ? 2 : 0);
    if (!ok) { httpd__mw_answer(c, r, 403, NULL, 0, "403 Forbidden (CORS preflight)\n"); return; }
    char age[24];
    size_t an = httpd__utoa(age, HTTPD__DEF(cors->max_age, 600u));
    if (httpd__rh_put(r, HTTPD__LIT("Access-Control-Allow-Methods"), any ? acrm.ptr : methods,
                      any ? acrm.len : strlen(methods)) < 0
        || (acrh.len && httpd__rh_put(r, HTTPD__LIT("Access-Control-Allow-Headers"), acrh.ptr,
                                      acrh.len) < 0)
        || httpd__rh_put(r, HTTPD__LIT("Access-Control-Max-Age"), age, an) < 0) {
        httpd__conn_error(c, 503);
        return;
    }
    httpd__mw_answer(c, r, 204, NULL, 0, "");
}
/* A limiter's table on this worker: made at its first use, or at start (preallocate). */
HTTPD__PRIVATE int httpd__rl_table_make(httpd__worker *w, httpd__rl_table *t,
                                        const httpd__limiter *l) {
    size_t n = (size_t)l->sets * HTTPD__RL_WAYS * sizeof *t->slot;
    t->slot = (httpd__rl_slot *)HTTPD_MALLOC(w->s->desc.alloc_ctx, n);
    if (!t->slot) return HTTPD_ERR_NOMEM;
    memset(t->slot, 0, n);
    t->sets = l->sets;
    return 0;
}
/* The rate limit: 1 when the request is over it (429 queued). */
HTTPD__PRIVATE int httpd__mw_limit(httpd__conn *c, httpd__req *r) {
    httpd__worker *w = c->w;
    const httpd__limiter *l = r->mr->rl;
    httpd__rl_table *t = &w->ops->rl[l - w->s->mw->limiters];
    uint64_t k0, k1, retry;
    uint32_t k2 = l->pub->per_route ? r->mr->index + 1 : 0;
    if (!t->slot && httpd__rl_table_make(w, t, l) < 0)
        return 0;                                  /* no memory: fail open, once more later */
    httpd_str key = { NULL, 0 };
    if (l->pub->key) {
        httpd__cb_enter(w, r->route);
        key = l->pub->key(&r->pub, l->pub->key_arg);
        httpd__cb_leave(w, r->route);
    }
    if (key.ptr) {
        k0 = httpd__fnv(key.ptr, key.len, 0xcbf29ce484222325ull);
        k1 = httpd__fnv(key.ptr, key.len, 0x84222325cbf29ce4ull ^ key.len);
        k2 |= 1u << 31;
    } else {
        memcpy(&k0, r->addr, 8);
        memcpy(&k1, r->addr + 8, 8);
    }
    if (httpd__rl_take(t, k0, k1, k2, w->now * 1000u + 1, l->T, l->tau, &retry)) return 0;
    char extra[48];
    size_t n = 13;
    memcpy(extra, "Retry-After: ", 13);
    n += httpd__utoa(extra + n, (retry + 999999u) / 1000000u);
    extra[n++] = '\r'; extra[n++] = '\n';
    httpd__mw_answer(c, r, 429, extra, n, "429 Too Many Requests\n");
    return 1;
}
/* The request side, once routed. 1: the chain answered (the handler is skipped). */
HTTPD__COLD int httpd__mw_begin(httpd__conn *c, httpd__req *r) {
    httpd__worker *w = c->w;
    const httpd_server *s = w->s;
    if (!r->route && r->head.method_id == HTTPD__M_OPTIONS && s->router.nroutes) {
        /* a preflight where no OPTIONS route exists belongs to the route of the method it
           asks for: that route's CORS answers it, its counts and log line name it */
        httpd_str m = httpd_get_header(&r->pub, "Access-Control-Request-Method");
        unsigned allow;
        int np, ri = m.ptr ? httpd__router_find(&s->router, httpd__method_id(m.ptr, m.len), m.ptr,
                                                m.len, r->pub.path.ptr, r->pub.path.len,
                                                r->params, &np, &allow) : -1;
        if (ri >= 0) { r->route = &s->router.routes[ri]; r->nparams = np; }
    }
    httpd__mw_adopt(c, r);
    const httpd__mwroute *mr = r->mr;
    if (mr->cors && r->origin.ptr && r->head.method_id == HTTPD__M_OPTIONS) {
        httpd_str acrm = httpd_get_header(&r->pub, "Access-Control-Request-Method");
        if (acrm.ptr) { httpd__mw_preflight(c, r, acrm); return 1; }
    }
    for (int k = 0; k < 2; k++)
        for (const httpd_middleware *m = mr->mw[k]; httpd__mw_live(m); m++) {
            if (!m->request) continue;
            c->flags |= HTTPD__F_IN_HANDLER;
            httpd__cb_enter(w, r->route);
            int rc = m->request(&r->pub, m->arg);
            httpd__cb_leave(w, r->route);
            c->flags &= (uint16_t)~HTTPD__F_IN_HANDLER;
            if (r->responded) { c->state = HTTPD__S_HANDLER; return 1; }
            if (rc) {                   /* stopped the chain without answering: a bug */
                HTTPD__LOG(w->s, HTTPD_LOG_ERROR, 500, "a middleware stopped the chain "
                           "without answering: 500");
                httpd__mw_answer(c, r, 500, NULL, 0, "500 Internal Server Error\n");
                return 1;
            }
        }
    return mr->rl && httpd__mw_limit(c, r);
}

/* ---- the response side ---- */
/* Before a head goes out for r: request id, CORS fields, the application's hooks. */
HTTPD__COLD void httpd__mw_head(httpd__req *r, int status, int generated) {
    const httpd__mwroute *mr = r->mr;
    const httpd_cors *cors = mr->cors;
    r->status = status;
    r->generated = (uint8_t)generated;
    if (r->pub.request_id.ptr)
        httpd__rh_put(r, HTTPD__LIT("X-Request-Id"), r->pub.request_id.ptr, r->pub.request_id.len);
    if (cors) {
        int star = !cors->credentials && cors->origins && cors->origins[0]
                   && !strcmp(cors->origins[0], "*") && !cors->origins[1];
        if (r->cors_ok) {
            if (star) httpd__rh_put(r, HTTPD__LIT("Access-Control-Allow-Origin"), "*", 1);
            else httpd__rh_put(r, HTTPD__LIT("Access-Control-Allow-Origin"), r->origin.ptr,
                               r->origin.len);
            if (cors->credentials)
                httpd__rh_put(r, HTTPD__LIT("Access-Control-Allow-Credentials"), "true", 4);
            if (r->cors_ok == 1 && (cors->expose || r->pub.request_id.ptr)) {
                char ex[512];
                int n = snprintf(ex, sizeof ex, "%s%s%s", cors->expose ? cors->expose : "",
                                 cors->expose && r->pub.request_id.ptr ? ", " : "",
                                 r->pub.request_id.ptr ? "X-Request-Id" : "");
                if (n > 0 && (size_t)n < sizeof ex)
                    httpd__rh_put(r, HTTPD__LIT("Access-Control-Expose-Headers"), ex, (size_t)n);
            }
        }
        if (!star) httpd__rh_put(r, HTTPD__LIT("Vary"), "Origin", 6);   /* caches: per origin */
    }
    for (int k = 0; k < 2; k++)
        for (const httpd_middleware *m = mr->mw[k]; httpd__mw_live(m); m++)
            if (m->response) m->response(&r->pub, status, m->arg);
}
/* A string known to need no JSON escape (validated, a token, a constant), quoted. */
HTTPD__HOT char *httpd__json_raw(char *p, const char *s, size_t n) {
    *p++ = '"';
    memcpy(p, s, n);
    p[n] = '"';
    return p + n + 1;
}
/* The access log line for r. */
HTTPD__PRIVATE void httpd__mw_log(httpd__worker *w, httpd__req *r, const httpd_outcome *o) {
    httpd__wops *ops = w->ops;
    httpd__logw *l = w->s->mw->log;
    if (!ops->lcur || l->cap - ops->lcur->len < HTTPD__LOG_LINE_MAX) {
        httpd__logw_push(l, ops->lcur);
        if (!(ops->lcur = httpd__logw_take(l))) {
            if (ops->met) HTTPD__BUMP(&ops->met->log_dropped, 1);
            if (!ops->dropped++)
                HTTPD__LOG(w->s, HTTPD_LOG_WARN, 0, "access log: the log thread is behind, "
                           "lines are dropped (httpd_access_log_dropped_total)");
            return;
        }
    }
    if (!ops->lcur->len)
        httpd__wheel_add(&w->wheel, &ops->ltimer, w->now + HTTPD__DEF(l->cfg.flush_ms, 1000u));
    char *start = (char *)(ops->lcur + 1) + ops->lcur->len, *p = start;
    const httpd_request *q = &r->pub;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != ops->tsec) {
        httpd__rfc3339(ops->tstr, (uint64_t)ts.tv_sec * 1000u);
        ops->tsec = ts.tv_sec;
    }
    unsigned ms = (unsigned)(ts.tv_nsec / 1000000);
    ops->tstr[20] = (char)('0' + ms / 100); ops->tstr[21] = (char)('0' + ms / 10 % 10);
    ops->tstr[22] = (char)('0' + ms % 10);
    memcpy(p, "{\"time\":\"", 9); p += 9;
    memcpy(p, ops->tstr, 24); p += 24;
    memcpy(p, "\",\"id\":", 7); p += 7;
    if (q->request_id.ptr) p = httpd__json_raw(p, q->request_id.ptr, q->request_id.len);
    else { memcpy(p, "null", 4); p += 4; }
    memcpy(p, ",\"client\":", 10); p += 10;
    if (httpd__addr_known(r->addr)) {
        *p++ = '"';
        p += httpd__addr_format(r->addr, p);
        *p++ = '"';
    } else { memcpy(p, "null", 4); p += 4; }
    memcpy(p, ",\"method\":", 10); p += 10;
    p = httpd__json_str(p, q->method.ptr ? q->method.ptr : "", q->method.len, 32);
    memcpy(p, ",\"path\":", 8); p += 8;
    p = httpd__json_str(p, q->path.ptr ? q->path.ptr : "", q->path.len, 512);
    memcpy(p, ",\"route\":", 9); p += 9;
    if (r->route && r->route->plen <= 256 && httpd__json_plain(r->route->pub->pattern,
            r->route->pub->pattern + r->route->plen) == r->route->pub->pattern + r->route->plen)
        p = httpd__json_raw(p, r->route->pub->pattern, r->route->plen);
    else if (r->route) p = httpd__json_str(p, r->route->pub->pattern, r->route->plen, 256);
    else { memcpy(p, "null", 4); p += 4; }
    memcpy(p, ",\"status\":", 10); p += 10;
    p += httpd__utoa3(p, (unsigned)o->status);
    memcpy(p, ",\"in\":", 6); p += 6;
    p += httpd__utoa(p, o->bytes_in);
    memcpy(p, ",\"out\":", 7); p += 7;
    p += httpd__utoa(p, o->bytes_out);
    memcpy(p, ",\"us\":", 6); p += 6;
    p += httpd__utoa(p, o->duration_us);
    memcpy(p, ",\"worker\":", 10); p += 10;
    p += httpd__utoa3(p, (unsigned)w->index);
    memcpy(p, ",\"close\":", 9); p += 9;
    if (o->close) p = httpd__json_str(p, o->close, strlen(o->close), 32);  /* ours or hooks' */
    else { memcpy(p, "null", 4); p += 4; }
    if (o->generated) { memcpy(p, ",\"generated\":true", 17); p += 17; }
    if (l->nfields) {               /* the chosen request fields, the first of each name */
        char *lim = start + HTTPD__LOG_LINE_MAX - 8;
        const char *got[HTTPD__LOG_FIELDS];
        size_t glen[HTTPD__LOG_FIELDS];
        for (uint32_t k = 0; k < l->nfields; k++) got[k] = NULL;
        for (int i = 0; i < q->header_count; i++) {
            const httpd_header *h = &q->headers[i];
            for (uint32_t k = 0; k < l->nfields; k++)
                if (!got[k] && h->name.len == l->field[k].len
                    && httpd__ieq(h->name.ptr, l->field[k].lower, h->name.len)) {
                    got[k] = h->value.ptr ? h->value.ptr : "";
                    glen[k] = h->value.len;
                }
        }
        memcpy(p, ",\"headers\":{", 12); p += 12;
        int first = 1;
        for (uint32_t k = 0; k < l->nfields; k++) {
            size_t nl = l->field[k].len;
            if (!got[k] || lim - p < (ptrdiff_t)(nl + 6 * 256 + 16)) continue;
            if (!first) *p++ = ',';
            first = 0;
            *p++ = '"';
            memcpy(p, l->field[k].lower, nl); p += nl;       /* a token: nothing to escape */
            *p++ = '"'; *p++ = ':';
            if (l->field[k].redact) { memcpy(p, "\"[redacted]\"", 12); p += 12; }
            else p = httpd__json_str(p, got[k], glen[k], 256);
        }
        *p++ = '}';
    }
    *p++ = '}';
    *p++ = '\n';
    ops->lcur->len += (uint32_t)(p - start);
}
/* r is finished (or abandoned): report it once. why: NULL while the connection stays
   open, else the close reason. */
HTTPD__COLD void httpd__mw_done(httpd__req *r, const char *why) {
    if (r->mwdone) return;
    r->mwdone = 1;
    httpd__worker *w = r->w;
    const httpd__mwroute *mr = r->mr;
    httpd_outcome o;
    uint64_t now = httpd__now_us();
    o.status = r->status ? r->status : 499;
    o.generated = r->generated;
    o.bytes_in = (uint64_t)r->head_len + r->body_len;
    o.bytes_out = r->bytes_out;
    o.duration_us = now > r->t0_us ? now - r->t0_us : 0;
    o.close = why ? why : r->why;
    for (int k = 0; k < 2; k++)
        for (const httpd_middleware *m = mr->mw[k]; httpd__mw_live(m); m++)
            if (m->complete) m->complete(&r->pub, &o, m->arg);
    if (w->ops->met) httpd__metrics_request(w->ops->met, mr->index, r->head.method_id, &o);
    if (w->s->mw->log && !mr->quiet) httpd__mw_log(w, r, &o);
}
/* The server's error answer for r is coming: r gets its record first (salvaged when its
   head was never parsed). */
HTTPD__COLD void httpd__mw_error(httpd__conn *c, httpd__req *r) {
    if (HTTPD__MWON(r)) return;
    if (!r->pub.method.ptr) httpd__mw_salvage(c, r);
    httpd__mw_adopt(c, r);
}
/* Why a finished request's connection closes (the server's view). */
HTTPD__COLD const char *httpd__mw_why(const httpd__conn *c, const httpd__req *r) {
    const httpd__head *h = &r->head;
    if (HTTPD__LOAD(&c->w->s->stop)) return "stopping";
    if (!r->body_done) return "unread_body";
    if ((h->minor_version == 1 ? (h->flags & HTTPD__H_CLOSE) != 0
                               : !(h->flags & HTTPD__H_KEEPALIVE) || (h->flags & HTTPD__H_CLOSE))
        || (c->flags & HTTPD__F_EOF))
        return "client_close";
    return r->generated ? "error" : "app";
}
/* A callback begins (end 0) or ends (1): its duration, with metrics on. */
HTTPD__COLD void httpd__cb_timed(httpd__worker *w, const httpd__route *rt, int end) {
    httpd__wops *o = w->ops;
    if (!o->met || (end ? --o->cb_depth : o->cb_depth++)) return;   /* the outermost */
    uint64_t now = httpd__now_us();
    if (!end) { o->cb_t0 = now; return; }
    const httpd_server *s = w->s;
    httpd__metrics_callback(o->met, rt ? (uint32_t)(rt - s->router.routes) : s->router.nroutes,
                            now - o->cb_t0, s->desc.blocked_warn_ms);
}
/* A worker loop turn begins (end 0: w->now is set) or ends: with metrics, its length. */
HTTPD__COLD void httpd__mw_turn(httpd__worker *w, int end) {
    httpd__wops *o = w->ops;
    uint64_t now = o->met ? httpd__now_us() : 0;
    if (!end) {
        w->now = o->met ? now / 1000u : httpd__now_ms();
        o->turn_t0 = now;
    } else if (o->met) {
        httpd__metrics_turn(o->met, now - o->turn_t0);
    }
}
/* The worker's open connections or WebSockets changed: the gauges follow. */
HTTPD__COLD void httpd__mw_gauges(httpd__worker *w) {
    if (!w->ops->met) return;
    HTTPD__STORE_RLX(&w->ops->met->conns, (uint64_t)w->nconns);
    HTTPD__STORE_RLX(&w->ops->met->ws, (uint64_t)w->nws);
}
HTTPD__PRIVATE void httpd__mw_flush(httpd__timer *t, void *ctx) {
    httpd__worker *w = (httpd__worker *)ctx;
    (void)t;
    httpd__logw_push(w->s->mw->log, w->ops->lcur);
    w->ops->lcur = NULL;
}

/* ======================================================================= >>ops
   The operations' setup and public calls: httpd__mw_init compiles the configuration at
   start (routes' chains, limiters, trusted CIDRs, metrics, the log writer) into s->mw, or
   leaves it NULL when nothing is on; each worker gets its part (httpd__wops); the public
   functions (httpd_metrics, httpd_metric_add/_set, httpd_client_addr, httpd_log_reopen,
   httpd_task_request_id). Calls: >>mw, >>metrics, >>accesslog, >>proxyproto, >>async's
   gate. Owner: httpd_start/httpd_wait for setup; the public calls say their threads. */
HTTPD__PRIVATE void httpd__mw_free(httpd_server *s) {
    httpd__mw *m = s->mw;
    void *ctx = s->desc.alloc_ctx;
    if (!m) return;
    httpd__logw_stop(m->log);
    httpd__metrics_free(m->met, s->desc.workers, ctx);
    HTTPD_FREE(ctx, m->routes);
    HTTPD_FREE(ctx, m->limiters);
    HTTPD_FREE(ctx, m->trusted);
    HTTPD_FREE(ctx, m);
    s->mw = NULL;
}
HTTPD__PRIVATE const httpd__limiter *httpd__mw_limiter(httpd__mw *m, const httpd_rate_limit *rl,
                                                        int workers) {
    if (!rl || !(rl->rate > 0)) return NULL;
    for (uint32_t i = 0; i < m->nlimiters; i++)
        if (m->limiters[i].pub == rl) return &m->limiters[i];
    httpd__limiter *l = &m->limiters[m->nlimiters++];
    double burst = rl->burst ? (double)rl->burst : (rl->rate < 1 ? 1.0 : rl->rate);
    double rate = rl->rate;
    if (rl->split) { rate /= workers; burst = burst / workers < 1 ? 1 : burst / workers; }
    l->pub = rl;
    l->T = rate >= 1e6 ? 1 : (uint64_t)(1e6 / rate + 0.5);
    l->tau = (uint64_t)((uint64_t)burst - 1) * l->T;
    uint32_t want = HTTPD__DEF(rl->max_clients, 4096u) / HTTPD__RL_WAYS;
    for (l->sets = 1; l->sets < want && l->sets < (1u << 24); l->sets <<= 1) {}
    return l;
}
/* Compiles the operations configuration (after the router). 0 when none is on (s->mw
   stays NULL), HTTPD_ERR_INVAL (a bad CIDR, metric, server name), HTTPD_ERR_SYS (the
   access log file cannot be opened), HTTPD_ERR_NOMEM. */
HTTPD__PRIVATE int httpd__mw_init(httpd_server *s) {
    const httpd_desc *d = &s->desc;
    void *ctx = d->alloc_ctx;
    uint32_t nr = s->router.nroutes, nt = 0;
    int any = d->middleware || d->request_id || d->cors || d->rate_limit || d->metrics
              || d->access_log.path || d->access_log.fn || d->on_error || d->trusted_proxies;
    int metrics = d->metrics != NULL;
    for (uint32_t i = 0; i < nr; i++) {
        const httpd_route *rt = s->router.routes[i].pub;
        any |= rt->middleware || rt->cors || rt->rate_limit || rt->handler == httpd_metrics;
        metrics |= rt->handler == httpd_metrics;
    }
    if (!any) return 0;
    httpd__mw *m = (httpd__mw *)HTTPD_MALLOC(ctx, sizeof *m);
    if (!m) return HTTPD_ERR_NOMEM;
    memset(m, 0, sizeof *m);
    s->mw = m;
    for (const char *const *t = d->trusted_proxies; t && *t; t++) nt++;
    m->routes = (httpd__mwroute *)HTTPD_MALLOC(ctx, (nr + 1) * sizeof *m->routes);
    m->limiters = (httpd__limiter *)HTTPD_MALLOC(ctx, (nr + 1) * sizeof *m->limiters);
    m->trusted = (httpd__cidr *)HTTPD_MALLOC(ctx, (nt + 1) * sizeof *m->trusted);
    if (!m->routes || !m->limiters || !m->trusted) return HTTPD_ERR_NOMEM;
    for (uint32_t i = 0; i < nt; i++)
        if (httpd__cidr_parse(d->trusted_proxies[i], &m->trusted[i]) < 0) {
            HTTPD__LOG(s, HTTPD_LOG_ERROR, HTTPD_ERR_INVAL, "trusted_proxies: \"%s\" is not an "
                       "address or CIDR", d->trusted_proxies[i]);
            return HTTPD_ERR_INVAL;
        }
    m->ntrusted = nt;
    m->request_id = d->request_id;
    m->boot = httpd__random64();
    for (uint32_t i = 0; i <= nr; i++) {
        const httpd_route *rt = i < nr ? s->router.routes[i].pub : NULL;
        httpd__mwroute *mr = &m->routes[i];
        const httpd_cors *cors = rt && rt->cors ? rt->cors : d->cors;
        mr->mw[0] = d->middleware;
        mr->mw[1] = rt ? rt->middleware : NULL;
        mr->cors = cors && cors->origins && cors->origins[0] ? cors : NULL;
        mr->rl = httpd__mw_limiter(m, rt && rt->rate_limit ? rt->rate_limit : d->rate_limit,
                                   d->workers);
        mr->index = i;
        mr->quiet = (uint8_t)(rt && rt->quiet);
    }
    int rc;
    if (metrics && (rc = httpd__metrics_new(&m->met, d, nr)) < 0) {
        if (rc == HTTPD_ERR_INVAL)
            HTTPD__LOG(s, HTTPD_LOG_ERROR, rc, "desc.metrics: a bad name (counters end in "
                       "_total), type or labels");
        return rc;
    }
    if ((d->access_log.path || d->access_log.fn) && (rc = httpd__logw_start(&m->log, d)) < 0) {
        if (rc == HTTPD_ERR_INVAL)
            HTTPD__LOG(s, HTTPD_LOG_ERROR, rc, "access_log.headers: at most %d names, each a "
                       "token of 1 to 63 bytes", HTTPD__LOG_FIELDS);
        else
            HTTPD__LOG(s, HTTPD_LOG_ERROR, rc, "access log %s: %s", d->access_log.path,
                       strerror(errno));
        return rc;
    }
    return 0;
}
HTTPD__PRIVATE void httpd__mw_worker_free(httpd__worker *w) {
    httpd__wops *o = w->ops;
    if (!o) return;
    void *ctx = w->s->desc.alloc_ctx;
    if (w->s->mw->log) httpd__logw_push(w->s->mw->log, o->lcur);   /* the rest, written */
    for (uint32_t i = 0; o->rl && i < w->s->mw->nlimiters; i++) HTTPD_FREE(ctx, o->rl[i].slot);
    HTTPD_FREE(ctx, o->rl);
    HTTPD_FREE(ctx, o);
    w->ops = NULL;
}
HTTPD__PRIVATE int httpd__mw_worker_init(httpd__worker *w) {
    const httpd__mw *m = w->s->mw;
    void *ctx = w->s->desc.alloc_ctx;
    if (!m) return 0;
    httpd__wops *o = (httpd__wops *)HTTPD_MALLOC(ctx, sizeof *o);
    if (!o) return HTTPD_ERR_NOMEM;
    memset(o, 0, sizeof *o);
    w->ops = o;
    o->met = m->met ? &m->met->w[w->index] : NULL;
    o->rl = (httpd__rl_table *)HTTPD_MALLOC(ctx, (m->nlimiters + 1) * sizeof *o->rl);
    if (!o->rl) return HTTPD_ERR_NOMEM;
    memset(o->rl, 0, (m->nlimiters + 1) * sizeof *o->rl);
    for (uint32_t i = 0; w->s->desc.preallocate && i < m->nlimiters; i++)
        if (httpd__rl_table_make(w, &o->rl[i], &m->limiters[i]) < 0) return HTTPD_ERR_NOMEM;
    o->ltimer.fire = httpd__mw_flush;
    httpd__rid_init(o, m->boot, w->index);
    return 0;
}

/* ---- public ---- */
HTTPD_API void httpd_metrics(httpd_request *req) {
    httpd_server *s = req->server;
    if (!s->mw || !s->mw->met) {
        httpd_respond(req, 404, "text/plain", "metrics are off\n", 16);
        return;
    }
    httpd__sb b = { NULL, 0, 0, 0, s->desc.alloc_ctx };
    httpd__metrics_render(s, s->mw->met, &b, s->mw->log != NULL);
    if (b.err) httpd_respond(req, 503, "text/plain", "out of memory\n", 14);
    else httpd_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", b.p, b.len);
    HTTPD_FREE(s->desc.alloc_ctx, b.p);
}
HTTPD__PRIVATE int httpd__metric_op(httpd_server *s, int i, double v, int set) {
    if (!s) return HTTPD_ERR_INVAL;
    httpd__worker *w = httpd__tls_worker;
    int mine = w && w->s == s;                  /* a worker of s: it is alive, no gate */
    if (!mine && !httpd__gate_enter(s)) return HTTPD_ERR_STATE;
    int rc = HTTPD_ERR_INVAL;
    const httpd__metrics *m = s->mw ? s->mw->met : NULL;
    if (m && i >= 0 && (uint32_t)i < m->napp && !m->app[i].read
        && (!set || m->app[i].type == HTTPD_GAUGE)) {
        if (set) HTTPD__STORE_RLX(&m->shared[i], httpd__d_bits(v));
        else if (mine && m->app[i].type == HTTPD_COUNTER) httpd__fadd(&m->w[w->index].app[i], v, 0);
        else httpd__fadd(&m->shared[i], v, 1);
        rc = 0;
    }
    if (!mine) httpd__gate_leave(s);
    return rc;
}
HTTPD_API int httpd_metric_add(httpd_server *s, int i, double v) {
    return httpd__metric_op(s, i, v, 0);
}
HTTPD_API int httpd_metric_set(httpd_server *s, int i, double v) {
    return httpd__metric_op(s, i, v, 1);
}
HTTPD_API int httpd_client_addr(const httpd_request *req, char *buf, size_t cap) {
    const httpd__req *r = (const httpd__req *)req;
    uint8_t a[16];
    char t[48];
    if (!req || !buf) return HTTPD_ERR_INVAL;
    if (HTTPD__MWON(r)) memcpy(a, r->addr, 16);
    else if (!r->conn) return HTTPD_ERR_CLOSED;
    else if (httpd__addr_known(r->conn->addr)) memcpy(a, r->conn->addr, 16);
    else {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        if (getpeername(r->conn->fd, (struct sockaddr *)&ss, &sl) < 0) return HTTPD_ERR_SYS;
        httpd__addr_from(a, (struct sockaddr *)&ss);
    }
    size_t n = httpd__addr_format(a, t);
    if (n >= cap) return HTTPD_ERR_TOOLARGE;
    memcpy(buf, t, n + 1);
    return (int)n;
}
HTTPD_API void httpd_log_reopen(httpd_server *s) {
    if (!s || !httpd__gate_enter(s)) return;       /* after httpd_wait: nothing to reopen */
    if (s->mw && s->mw->log) HTTPD__STORE(&s->mw->log->reopen, 1);
    httpd__gate_leave(s);
}
HTTPD_API httpd_str httpd_task_request_id(const httpd_task *t) {
    httpd_str none = { NULL, 0 };
    return t && t->kind == HTTPD__TASK_REQ && t->req ? t->req->pub.request_id : none;
}

#define HTTPD__REJECT(w, kind) do { if ((w)->ops && (w)->ops->met) \
    HTTPD__BUMP(&(w)->ops->met->reject[kind], 1); } while (0)   /* refusals by cause */
#else  /* HTTPD_NO_MIDDLEWARE: s->mw, w->ops and r->mwon stay NULL/0; the hooks do nothing
          and a desc that asks for an operation fails httpd_start with HTTPD_ERR_INVAL */
#define HTTPD__REJECT(w, kind) ((void)(w))
HTTPD__COLD void httpd__mw_head(httpd__req *r, int status, int generated) {
    (void)r; (void)status; (void)generated;
}
HTTPD__COLD void httpd__mw_done(httpd__req *r, const char *why) { (void)r; (void)why; }
HTTPD__COLD void httpd__mw_error(httpd__conn *c, httpd__req *r) { (void)c; (void)r; }
HTTPD__COLD void httpd__cb_timed(httpd__worker *w, const httpd__route *rt, int end) {
    (void)w; (void)rt; (void)end;
}
HTTPD__COLD void httpd__mw_gauges(httpd__worker *w) { (void)w; }
HTTPD__COLD int httpd__mw_begin(httpd__conn *c, httpd__req *r) { (void)c; (void)r; return 0; }
HTTPD__COLD const char *httpd__mw_why(const httpd__conn *c, const httpd__req *r) {
    (void)c; (void)r;
    return NULL;
}
HTTPD__COLD void httpd__mw_turn(httpd__worker *w, int end) { (void)w; (void)end; }
HTTPD__PRIVATE void httpd__mw_free(httpd_server *s) { (void)s; }
HTTPD__PRIVATE void httpd__mw_worker_free(httpd__worker *w) { (void)w; }
HTTPD__PRIVATE int httpd__mw_worker_init(httpd__worker *w) { (void)w; return 0; }
HTTPD__PRIVATE int httpd__mw_init(httpd_server *s) {
    const httpd_desc *d = &s->desc;
    /* one OR of the fields, one test (none is set in the usual case) */
    uintptr_t any = (uintptr_t)d->middleware | (uintptr_t)(unsigned)d->request_id
                    | (uintptr_t)d->cors | (uintptr_t)d->rate_limit | (uintptr_t)d->metrics
                    | (uintptr_t)d->access_log.path | (uintptr_t)d->access_log.fn
                    | (uintptr_t)d->on_error | (uintptr_t)d->trusted_proxies
                    | (uintptr_t)(unsigned)d->proxy_protocol;
    for (uint32_t i = 0; i < s->router.nroutes; i++) {
        const httpd_route *rt = s->router.routes[i].pub;
        any |= (uintptr_t)rt->middleware | (uintptr_t)rt->cors | (uintptr_t)rt->rate_limit;
    }
    if (!any) return 0;
    HTTPD__LOG(s, HTTPD_LOG_ERROR, HTTPD_ERR_INVAL, "operations (middleware, CORS, metrics, "
               "...): HTTPD_NO_MIDDLEWARE");
    return HTTPD_ERR_INVAL;
}
#endif /* HTTPD_NO_MIDDLEWARE */

/* =================================================================== >>machine
   The per-connection state machine (HEAD -> BODY -> HANDLER -> HEAD | CLOSING, see
   >>conn): find and parse a head, route it, refuse what must be refused before the body
   is read, collect or hand out the body, run the handler, release the request when it is
   answered; deadlines for every state. Its sans-I/O surface is what the worker (or a
   test, or a fuzzer) drives: rbuf/recv/eof for input, obuf/sent for output, deadline/
   timeout for time. Calls: every section above. Owner: the connection's worker thread. */
HTTPD__PRIVATE void httpd__conn_dispatch(httpd__conn *c) {
    httpd__req *r = c->req;
    if (!HTTPD__SBODY(r)) r->body_done = 1;
    if (r->body) { r->pub.body.ptr = r->body; r->pub.body.len = r->body_len; }
#ifndef HTTPD_NO_SHED
    if ((c->w->s->desc.max_inflight || (r->route && r->route->pub->max_concurrent))
        && httpd__conn_shed(c, r))
        return;
#endif
    c->state = r->body_done ? HTTPD__S_HANDLER : HTTPD__S_BODY;  /* streamed: body to come */
    c->since = c->w->now;                             /* the request deadline starts */
    c->flags |= HTTPD__F_IN_HANDLER;
    r->dispatched = 1;
    c->w->held++;
    const httpd__route *rt = r->route;
    httpd__worker *w = c->w;
    HTTPD__STORE_RLX(&w->cb_route, (uintptr_t)rt | 1u);         /* httpd__cb_enter */
    if (HTTPD__UNLIKELY(HTTPD__OPS(w))) {                       /* timed (metrics) */
        httpd__cb_timed(w, rt, 0);
        r->handler(&r->pub);
        httpd__cb_timed(w, rt, 1);
    } else {
        r->handler(&r->pub);                 /* the fast path: one store more than bare */
    }
    c->flags &= (uint16_t)~HTTPD__F_IN_HANDLER;
}
HTTPD__PRIVATE int httpd__custom_method_used(const httpd_server *s, httpd_str m) {
    for (uint32_t i = 0; i < s->router.nroutes; i++) {
        const httpd__route *rt = &s->router.routes[i];
        if (!rt->method || (rt->method_len == m.len && !memcmp(rt->method, m.ptr, m.len)))
            return 1;
    }
    return 0;
}
/* No '%' and no '.' in the path: nothing to decode (a loop for the usual short path). */
HTTPD__PRIVATE int httpd__path_plain(const char *p, size_t n) {
    if (n >= 32) return !memchr(p, '%', n) && !memchr(p, '.', n);
    for (size_t i = 0; i < n; i++)
        if (p[i] == '%' || p[i] == '.') return 0;
    return 1;
}
/* HEAD state: find, parse and route the next request. Returns 1 to go on, 0 to stop. */
/* PROXY state: a connection from the PROXY listener sends that header before any request
   (>>proxyproto). 1: read, the client's address taken, on to HEAD; 0: wait, or it was
   bad (closed without an answer: the peer is a proxy, not a browser). */
HTTPD__COLD int httpd__conn_proxy(httpd__conn *c) {
    httpd__buf *in = &c->in;
    int got = 0, n = httpd__proxy_parse(in->data ? in->data + in->pos : "", in->len - in->pos,
                                        c->addr, &got);
    if (n > 0) {
        in->pos += (uint32_t)n;
        c->state = HTTPD__S_HEAD;
        return 1;
    }
    if (n < 0 || (c->flags & HTTPD__F_EOF)) {
        HTTPD__REJECT(c->w, HTTPD__RJ_PROXY);
        HTTPD__LOG(c->w->s, HTTPD_LOG_DEBUG, 400, "bad PROXY protocol header: closed");
        c->state = HTTPD__S_CLOSING;
        c->flags |= HTTPD__F_LINGER;
    }
    return 0;
}
HTTPD__PRIVATE int httpd__conn_start(httpd__conn *c) {
    httpd__worker *w = c->w;
    const httpd_server *s = w->s;
    httpd__buf *in = &c->in;
    if (!(c->flags & HTTPD__F_HEADSTART)) {
        /* RFC 9112 §2.2: a server SHOULD ignore empty lines before the request-line */
        while (in->len - in->pos >= 2 && in->data[in->pos] == '\r'
               && in->data[in->pos + 1] == '\n')
            in->pos += 2;
        size_t avail = in->len - in->pos;
        if (avail == 0 || (avail == 1 && in->data[in->pos] == '\r')) {
            if (avail == 0 && in->data) httpd__buf_release(&w->pool, in);  /* idle: no buffer */
            if (c->flags & HTTPD__F_EOF) c->state = HTTPD__S_CLOSING;
            return 0;
        }
        c->flags |= HTTPD__F_HEADSTART;
        if (!(c->flags & HTTPD__F_FIRST)) c->since = w->now;   /* first: since arrival */
        memset(&c->scan, 0, sizeof c->scan);
    }
    /* one pass when the whole head came in the first read (nearly always); otherwise, and
       for every bad head, the incremental scanner decides, then the parser runs once */
    const char *hb = in->data + in->pos;
    size_t avail = in->len - in->pos;
    int hl = 0, parsed = c->scan.pos == 0 && (hl = httpd__parse_head(&w->head, hb, avail, &s->lim)) > 0;
    if (!parsed) {
        hl = httpd__scan_head(&c->scan, hb, avail, &s->lim);
        if (hl == 0) {
            if (c->flags & HTTPD__F_EOF) c->state = HTTPD__S_CLOSING;  /* truncated head */
            return 0;
        }
        if (hl < 0) { httpd__conn_error(c, -hl); return 0; }
    }
    c->flags &= (uint16_t)~(HTTPD__F_HEADSTART | HTTPD__F_FIRST);
    if (in->pos && in->cap - (in->pos + (uint32_t)hl) < HTTPD__BODY_ROOM) {
        /* the head is about to be pinned: leave room after it for body bytes */
        memmove(in->data, in->data + in->pos, in->len - in->pos);
        in->len -= in->pos;
        in->pos = 0;
        parsed = 0;                                  /* its pointers moved: parse again */
    }
    w->requests++;

    httpd__req *r = httpd__req_get(w);
    if (!r) { httpd__conn_error(c, 503); return 0; }
    c->req = r;
    r->conn = c;
    r->head_len = r->in_used = (uint32_t)hl;
    if (parsed) {
        r->head = w->head;
    } else {
        int st = httpd__parse_exact(&r->head, in->data + in->pos, (size_t)hl, &s->lim);
        if (st) { httpd__conn_error(c, st); return 0; }
    }
    if (r->head.nheaders) {            /* from the worker's scratch into the request */
        size_t n = r->head.nheaders * sizeof(httpd_header);
        httpd_header *hs = (httpd_header *)httpd__arena_alloc(r, n);
        if (!hs) { httpd__conn_error(c, 503); return 0; }
        memcpy(hs, r->head.headers, n);
        r->head.headers = hs;
    }
    httpd__head *h = &r->head;
    httpd_request *p = &r->pub;
    p->method = h->method; p->target = h->target; p->query = h->query;
    p->minor_version = h->minor_version;
    p->content_length = (h->flags & HTTPD__H_CL) && h->content_length <= INT64_MAX
                      ? (int64_t)h->content_length : -1;
    p->headers = h->headers; p->header_count = (int)h->nheaders;
    p->conn.id = ((uint64_t)(uint32_t)w->index << 56) | ((uint64_t)c->slot << 32) | c->gen;
    p->path = h->path;
    if (!(h->flags & HTTPD__H_ASTERISK)
        && !httpd__path_plain(h->path.ptr, h->path.len)) {
        char *d = (char *)httpd__arena_alloc(r, h->path.len);
        if (!d) { httpd__conn_error(c, 503); return 0; }
        long n = httpd__path_decode(h->path.ptr, h->path.len, d);
        if (n < 0) { httpd__conn_error(c, 400); return 0; }
        p->path.ptr = d; p->path.len = (size_t)n;
    }
    r->keepalive = (uint8_t)(h->minor_version == 1 ? !(h->flags & HTTPD__H_CLOSE)
                   : (h->flags & HTTPD__H_KEEPALIVE) && !(h->flags & HTTPD__H_CLOSE));
    int chunked = (h->flags & HTTPD__H_CHUNKED) != 0;
    r->body_left = chunked ? 0 : h->content_length;
    r->body_done = !(chunked || r->body_left);

    /* routing */
    if (h->flags & HTTPD__H_ASTERISK) {                   /* OPTIONS * (RFC 9110 §9.3.7) */
        httpd__conn_auto(c, 200, s->used_methods);
        return 1;
    }
    unsigned allow = 0;
    int ri = s->router.nroutes
           ? httpd__router_find(&s->router, h->method_id, h->method.ptr, h->method.len,
                                p->path.ptr, p->path.len, r->params, &r->nparams, &allow)
           : -1;
    if (ri >= 0) {
        const httpd__route *rt = &s->router.routes[ri];
        r->route = rt;
        r->handler = rt->pub->handler;
        p->user_data = rt->pub->user_data ? rt->pub->user_data : s->desc.user_data;
        r->max_body = rt->max_body;
        r->timeout_ms = HTTPD__DEF(rt->pub->timeout_ms, s->desc.request_timeout_ms);
    } else if (h->method_id == HTTPD__M_OTHER && !httpd__custom_method_used(s, h->method)) {
        httpd__conn_error(c, 501);
        return 0;
    } else if (allow == 0 && s->desc.on_request) {
        r->handler = s->desc.on_request;
        p->user_data = s->desc.user_data;
        r->max_body = s->desc.max_body_bytes;
        r->timeout_ms = s->desc.request_timeout_ms;
    } else {
        httpd__conn_auto(c, allow == 0 ? 404 : h->method_id == HTTPD__M_OPTIONS ? 200 : 405,
                         allow);
        return 1;
    }
    /* the operations chain (>>mw): request id, CORS, middleware, rate limit; for the
       router's own answers it runs in httpd__conn_auto */
    if (HTTPD__UNLIKELY(HTTPD__MW(s)) && httpd__mw_begin(c, r)) return 1;

    /* body: refuse before reading a byte of it (RFC 9110 §15.5.14) */
    if (r->route && HTTPD__SBODY(r->route->pub)) r->stream_body = 1;   /* even when empty */
    if (!r->body_done) {
        if (!chunked && r->body_left > r->max_body) { httpd__conn_error(c, 413); return 0; }
        if (r->route && HTTPD__SBODY(r->route->pub)) {      /* the handler reads it itself */
            r->stream_body = 1;
            r->rate_start = w->now;
            httpd__conn_dispatch(c);
            return 1;
        }
        if ((h->flags & HTTPD__H_EXPECT) && in->len == in->pos + (uint32_t)hl) {
            if (httpd__buf_append(&w->pool, &c->out, HTTPD__LIT("HTTP/1.1 100 Continue\r\n\r\n")))
                { httpd__conn_error(c, 503); return 0; }
        }
        if (!chunked) {
            if (r->body_left <= (uint64_t)(in->cap - in->pos - (uint32_t)hl)) {
                r->body_in_place = 1;                 /* small body: stays in the input */
                r->body = in->data + in->pos + hl;
            } else if (s->desc.preallocate) {      /* buffered bodies stay in the input */
                httpd__conn_error(c, 413);
                return 0;
            } else if (!(r->body = (char *)HTTPD_MALLOC(s->desc.alloc_ctx,
                                                        (size_t)r->body_left))) {
                httpd__conn_error(c, 503);
                return 0;
            }
            r->body_cap = (size_t)r->body_left;
        }
        c->state = HTTPD__S_BODY;
        c->since = w->now;
        r->rate_start = w->now;
        return 1;
    }
    httpd__conn_dispatch(c);
    return 1;
}
/* The body failed (status 400/408/413/503) or the client left (status 0). A buffered
   body's request is the server's: answer and close. A streamed body's request is the
   application's: its body callback hears why, and it keeps the request until it answers
   (httpd_respond/httpd_end then return the error and free it). */
HTTPD__PRIVATE void httpd__conn_body_fail(httpd__conn *c, int status) {
    httpd__req *r = c->req;
    if (!HTTPD__SBODY(r)) {
        if (status) { httpd__conn_error(c, status); return; }
        httpd__req_put(r);
        c->req = NULL;
        c->state = HTTPD__S_CLOSING;
        return;
    }
    int err = status == 413 ? HTTPD_ERR_TOOLARGE : status == 408 ? HTTPD_ERR_TIMEOUT
            : status == 400 ? HTTPD_ERR_INVAL : status ? HTTPD_ERR_NOMEM : HTTPD_ERR_CLOSED;
    httpd_body_fn fn = r->bfn;
    int started = HTTPD__STREAMING(r) || r->responded;
    r->err = err;
    if (status && started)                /* the status cannot be sent any more */
        HTTPD__LOG(c->w->s, HTTPD_LOG_INFO, status, "request body failed (%d) after the "
                   "response began: connection closed", status);
    /* exactly one callback hears why: a pending task's done or timer, else the body's */
    if (r->task || r->utimer.pprev || r->wwait) fn = NULL;
    c->req = NULL;
    r->bfn = NULL;
    r->timed_out = status == 408;
    if (status && !started) httpd__conn_fail(c, r, status, 0);   /* answered for r */
    else c->state = HTTPD__S_CLOSING;
    if (HTTPD__MWON(r) && status) r->why = status == 408 ? "timeout" : "error";
    httpd__req_orphan(r, status == 408 ? HTTPD_ERR_TIMEOUT : HTTPD_ERR_CLOSED);
    if (fn) {                                         /* may answer: that frees r */
        const httpd__route *rt = r->route;
        httpd__cb_enter(c->w, rt);
        fn(&r->pub, r->barg, NULL, 0, err);
        httpd__cb_leave(c->w, rt);
    }
}
/* Hands a piece of a streamed body to the application. */
HTTPD__PRIVATE void httpd__conn_deliver(httpd__conn *c, const char *p, size_t n, int status) {
    httpd__req *r = c->req;
    const httpd__route *rt = r->route;
    c->flags |= HTTPD__F_IN_HANDLER;
    httpd__cb_enter(c->w, rt);
    r->bfn(&r->pub, r->barg, p, n, status);
    httpd__cb_leave(c->w, rt);
    c->flags &= (uint16_t)~HTTPD__F_IN_HANDLER;
}
/* BODY state: take what the input holds, into the body buffer or to the application.
   Returns 1 to go on, 0 to wait. */
HTTPD__PRIVATE int httpd__conn_body(httpd__conn *c) {
    httpd__req *r = c->req;
    httpd__buf *in = &c->in;
    const httpd_server *s = c->w->s;
    int stream = HTTPD__SBODY(r);
    if (stream) {
        if (r->responded) { c->state = HTTPD__S_HANDLER; return 1; }  /* answered: stop */
        if (!r->bfn || r->paused) {
            if (c->flags & HTTPD__F_EOF) { httpd__conn_body_fail(c, 0); return 0; }
            return 0;                                     /* not reading now */
        }
    }
    uint32_t start = in->pos + r->in_used;
    if (r->held) {                        /* the last piece was kept while paused */
        memmove(in->data + start, in->data + start + r->held, in->len - start - r->held);
        in->len -= r->held;
        r->held = 0;
    }
    size_t have = in->len - start, got = 0, used = 0;
    int done = 0;
    if (!(r->head.flags & HTTPD__H_CHUNKED)) {
        got = used = (size_t)HTTPD__MIN((uint64_t)have, r->body_left);
        r->body_left -= got;
        done = r->body_left == 0;
    } else {
        if (have) {
            long u = httpd__chunked_decode(&r->chunked, in->data + start, have, &got,
                                           s->lim.max_header_bytes);
            if (u < 0) { httpd__conn_body_fail(c, 400); return 0; }
            used = (size_t)u;
        }
        done = r->chunked.state == HTTPD__CH_DONE;
    }
    /* a chunk that announces more than the cap allows is refused at its size line */
    uint64_t pending = r->chunked.state == HTTPD__CH_DATA ? r->chunked.remaining : 0;
    if (r->body_len + got + pending > r->max_body) { httpd__conn_body_fail(c, 413); return 0; }
    if (used) {
        c->since = c->w->now;
        r->rate_bytes += used;
    }
    if (stream) {
        r->body_len += got;
        if (got) httpd__conn_deliver(c, in->data + start, got, 0);
        if (c->req != r) return 1;                           /* cannot happen; be safe */
    } else if (r->body_in_place) {
        r->in_used += (uint32_t)used;                        /* it stays where it is */
        r->body_len += got;
        used = 0;
    } else if (got) {
        if (r->body_len + got > r->body_cap) {               /* chunked: grow to the cap */
            size_t cap = HTTPD__MAX(r->body_cap * 2, r->body_len + got);
            if (cap < 4096) cap = 4096;
            if (cap > r->max_body) cap = (size_t)r->max_body;
            if (s->desc.preallocate) { httpd__conn_body_fail(c, 413); return 0; }
            char *b = (char *)HTTPD_REALLOC(s->desc.alloc_ctx, r->body, cap);
            if (!b) { httpd__conn_body_fail(c, 503); return 0; }
            r->body = b; r->body_cap = cap;
        }
        memcpy(r->body + r->body_len, in->data + start, got);
        r->body_len += got;
    }
    if (used && stream && r->paused && c->req == r) {
        r->held = (uint32_t)used;          /* paused: the piece stays valid until resume */
    } else if (used) {                                       /* drop what was consumed */
        memmove(in->data + start, in->data + start + used, have - used);
        in->len -= (uint32_t)used;
    }
    if (stream && (r->paused || r->responded)) return r->responded;  /* END waits for resume */
    if (done) {
        if (!stream) { httpd__conn_dispatch(c); return 1; }
        r->body_done = 1;
        c->state = HTTPD__S_HANDLER;
        httpd_body_fn fn = r->bfn;
        const httpd__route *rt = r->route;
        r->bfn = NULL;
        c->flags |= HTTPD__F_IN_HANDLER;
        httpd__cb_enter(c->w, rt);
        fn(&r->pub, r->barg, NULL, 0, HTTPD_BODY_END);
        httpd__cb_leave(c->w, rt);
        c->flags &= (uint16_t)~HTTPD__F_IN_HANDLER;
        return 1;
    }
    if (c->flags & HTTPD__F_EOF) { httpd__conn_body_fail(c, 0); return 0; }  /* gone mid-body */
    return stream && !r->paused && in->len > in->pos + r->in_used && r->bfn ? 1 : 0;
}
/* HANDLER state with the response queued: release the request, go on or close. */
HTTPD__PRIVATE void httpd__conn_finish(httpd__conn *c) {
    httpd__req *r = c->req;
    httpd__buf *in = &c->in;
    if (c->ws) {                                        /* upgraded: frames from here */
        if (HTTPD__UNLIKELY(HTTPD__MWON(r))) httpd__mw_done(r, "upgrade");   /* logged at the 101 */
        httpd__ws_start(c);
        return;
    }
    /* a response whose head went out before a stop began (a stream) still ends the
       connection once the server is stopping: idle connections must not linger */
    int keep = r->keepalive && r->body_done && HTTPD__LOAD(&c->w->s->stop) == 0;
    if (HTTPD__UNLIKELY(HTTPD__MWON(r))) httpd__mw_done(r, keep ? NULL : httpd__mw_why(c, r));
    in->pos += r->in_used;
    if (!r->body_done) c->flags |= HTTPD__F_LINGER;     /* its body is still coming */
    c->req = NULL;
    httpd__req_put(r);
    if (in->pos == in->len) in->pos = in->len = 0;
    if (!keep) {
        if (in->len > in->pos || (c->flags & HTTPD__F_READABLE)) c->flags |= HTTPD__F_LINGER;
        c->state = HTTPD__S_CLOSING;
        return;
    }
    c->state = HTTPD__S_HEAD;
    c->since = c->w->now;
}
/* Runs the state machine as far as the buffered input allows. */
HTTPD__PRIVATE void httpd__conn_process(httpd__conn *c) {
    for (;;) {
        switch (c->state) {
        case HTTPD__S_HEAD:
            if (c->out.len - c->out.pos > c->w->out_high || (c->flags & HTTPD__F_FILE))
                return;                                               /* flush first */
            if (!httpd__conn_start(c)) return;
            break;
        case HTTPD__S_BODY:
            if (!httpd__conn_body(c)) return;
            break;
        case HTTPD__S_HANDLER:
            if (!c->req->responded) return;                          /* asynchronous */
            httpd__conn_finish(c);
            break;
        case HTTPD__S_WS:
            httpd__ws_process(c);
            return;
        default:                      /* the PROXY header, once; nothing to run otherwise */
            if (!HTTPD__PROXYPROTO || c->state != HTTPD__S_PROXY || !httpd__conn_proxy(c))
                return;
            break;
        }
    }
}

/* ---- the sans-I/O surface ---- (inlined: the worker's drive and TLS's both call these per
   read and write, and a call here costs the plaintext path 2 % of its instructions) */
/* Where the next read should land, and how much fits; NULL/0: do not read now. */
HTTPD__HOT char *httpd__conn_rbuf(httpd__conn *c, size_t *n) {
    httpd__buf *in = &c->in;
    httpd__req *r = c->req;
    *n = 0;
    c->flags &= (uint16_t)~HTTPD__F_RDIRECT;
    switch (c->state) {
    case HTTPD__S_LINGER:
        *n = sizeof c->w->scratch;
        return c->w->scratch;
    case HTTPD__S_BODY:
        if (HTTPD__SBODY(r) && (!r->bfn || r->paused || r->responded)) return NULL;
        if (r->body && !r->body_in_place && !(r->head.flags & HTTPD__H_CHUNKED)
            && in->len == in->pos + r->in_used) {             /* large body: read in place */
            c->flags |= HTTPD__F_RDIRECT;
            *n = (size_t)HTTPD__MIN(r->body_left, (uint64_t)1 << 30);
            return r->body + r->body_len;
        }
        break;
    case HTTPD__S_HEAD: case HTTPD__S_HANDLER: case HTTPD__S_PROXY:
        break;
    case HTTPD__S_WS:
        if (!httpd__ws_reading(c)) return NULL;
        break;
    default:
        return NULL;
    }
    if (!in->data) {
        if (httpd__buf_reserve(&c->w->pool, in, 1) < 0) {
            c->state = HTTPD__S_ABORT;                      /* out of memory: drop it */
            return NULL;
        }
    } else if (in->len == in->cap && in->pos && !r) {
        memmove(in->data, in->data + in->pos, in->len - in->pos);   /* keep a partial head */
        in->len -= in->pos; in->pos = 0;
    }
    *n = in->cap - in->len;
    if (c->state == HTTPD__S_BODY && HTTPD__SBODY(r) && !(r->head.flags & HTTPD__H_CHUNKED)
        && *n > r->body_left)
        *n = (size_t)r->body_left;              /* never read past a streamed body */
    return *n ? in->data + in->len : NULL;
}
/* n bytes were read into the space httpd__conn_rbuf gave. */
HTTPD__HOT void httpd__conn_recv(httpd__conn *c, size_t n) {
    if (c->state == HTTPD__S_LINGER) {
        c->linger_bytes += (uint32_t)HTTPD__MIN(n, (size_t)HTTPD__LINGER_BYTES);
        if (c->linger_bytes >= HTTPD__LINGER_BYTES) c->state = HTTPD__S_ABORT;
        return;
    }
    if (c->flags & HTTPD__F_RDIRECT) {
        httpd__req *r = c->req;
        r->body_len += n;
        r->body_left -= n;
        r->rate_bytes += n;
        c->since = c->w->now;
        if (r->body_left == 0) httpd__conn_dispatch(c);
    } else {
        c->in.len += (uint32_t)n;
    }
    httpd__conn_process(c);
}
/* The peer closed its sending side (read returned 0). That is a half-close, which a
   client may do once its request is sent (RFC 9112 §9.6): a request the application
   holds is still answered (then the connection closes). A client that is really gone
   is noticed when the answer is written, or at once when it reset the connection. */
HTTPD__PRIVATE void httpd__conn_eof(httpd__conn *c) {
    c->flags |= HTTPD__F_EOF;
    if (c->state == HTTPD__S_LINGER) { c->state = HTTPD__S_ABORT; return; }
    httpd__conn_process(c);
}
/* Output waiting to be sent. */
HTTPD__HOT size_t httpd__conn_obuf(const httpd__conn *c, const char **p) {
    *p = c->out.data ? c->out.data + c->out.pos : "";
    return c->out.len - c->out.pos;
}
/* All output is out: an idle connection's keep-alive time starts now, and pipelined
   requests held back by the output may be parsed. */
HTTPD__PRIVATE void httpd__conn_out_done(httpd__conn *c) {
    if (c->state != HTTPD__S_HEAD || (c->flags & HTTPD__F_FILE)) return;
    if (!c->req && !(c->flags & HTTPD__F_HEADSTART)) {
        c->since = c->w->now;
        if (HTTPD__LOAD(&c->w->s->stop)) {          /* stopping: no next request */
            if (c->in.len > c->in.pos || (c->flags & HTTPD__F_READABLE))
                c->flags |= HTTPD__F_LINGER;         /* unread input: no RST on close */
            c->state = HTTPD__S_CLOSING;
            return;
        }
    }
    httpd__conn_process(c);
}
HTTPD__HOT void httpd__conn_sent(httpd__conn *c, size_t n) {
    c->out.pos += (uint32_t)n;
    c->wsince = c->w->now;
    if (c->req && c->req->wwait) httpd__conn_writable(c);
    if (c->ws) httpd__ws_sent(c);
    if (c->out.pos == c->out.len) {
        httpd__buf_release(&c->w->pool, &c->out);
        httpd__conn_out_done(c);
    }
}
/* ================================================================== >>deadline
   Time for the state machine: the one deadline of each state (head, idle keep-alive,
   body, request/handler, lingering close, stop), what happens when it passes (408, 504,
   a close), the connection's wheel timer, and setting up and releasing a connection.
   Calls: >>machine, >>response, >>async. Owner: the connection's worker thread. */
/* Accepted, and nothing of its first request has arrived yet. When a stop begins such a
   connection is not idle (its client connected to send a request, which may be on its
   way): it gets HTTPD__STOP_GRACE_MS for it instead of being closed with the idle ones. */
HTTPD__PRIVATE int httpd__conn_fresh(const httpd__conn *c) {
    return c->state == HTTPD__S_PROXY
           || (c->state == HTTPD__S_HEAD && !c->req
               && (c->flags & (HTTPD__F_FIRST | HTTPD__F_HEADSTART)) == HTTPD__F_FIRST);
}
/* The absolute time (ms) at which this connection times out in its current state. */
HTTPD__PRIVATE uint64_t httpd__conn_deadline(const httpd__conn *c) {
    const httpd_desc *d = &c->w->s->desc;
    uint32_t t = HTTPD_NO_TIMEOUT;
    uint64_t dl = UINT64_MAX;
    if (HTTPD__UNLIKELY(c->w->stop_at) && httpd__conn_fresh(c))
        dl = c->w->stop_at + HTTPD__STOP_GRACE_MS;
#ifdef HTTPD_TLS_BEARSSL
    if (c->tls && !c->tls->ready) {                /* the handshake has its own deadline */
        t = c->tls->conf->desc.handshake_timeout_ms;
        return t == HTTPD_NO_TIMEOUT ? dl : HTTPD__MIN(dl, c->since + t);
    }
#endif
    switch (c->state) {
    case HTTPD__S_HEAD:
        t = (c->flags & (HTTPD__F_HEADSTART | HTTPD__F_FIRST)) || c->req ? d->header_timeout_ms
            : (c->out.pos == c->out.len && !(c->flags & HTTPD__F_FILE))
              || d->write_timeout_ms == HTTPD_NO_TIMEOUT ? d->keepalive_timeout_ms
            : HTTPD_NO_TIMEOUT;                /* still sending: the write timeout rules */
        break;
    case HTTPD__S_BODY:
        if (HTTPD__SBODY(c->req) && (!c->req->bfn || c->req->paused))
            t = c->req->responded || HTTPD__STREAMING(c->req) ? HTTPD_NO_TIMEOUT
                                                               : c->req->timeout_ms;
        else t = d->body_timeout_ms;
        break;
    case HTTPD__S_LINGER: t = HTTPD__LINGER_MS; break;
#ifndef HTTPD_NO_WEBSOCKET
    case HTTPD__S_WS: dl = httpd__ws_deadline(c); break;
#endif
#ifndef HTTPD_NO_MIDDLEWARE
    case HTTPD__S_PROXY: t = HTTPD__MIN(d->proxy_timeout_ms, d->header_timeout_ms); break;
#endif
    case HTTPD__S_HANDLER:
        if (!c->req->responded && !HTTPD__STREAMING(c->req)) t = c->req->timeout_ms;
        break;
    default: break;
    }
    if (t != HTTPD_NO_TIMEOUT) dl = HTTPD__MIN(dl, c->since + t);
    if (c->state == HTTPD__S_BODY && d->body_min_rate != HTTPD_NO_TIMEOUT
        && !(HTTPD__SBODY(c->req) && (!c->req->bfn || c->req->paused)))
        dl = HTTPD__MIN(dl, c->req->rate_start + HTTPD__RATE_WINDOW_MS);
    if ((c->flags & HTTPD__F_WBLOCKED) && d->write_timeout_ms != HTTPD_NO_TIMEOUT)
        dl = HTTPD__MIN(dl, c->wsince + d->write_timeout_ms);
    return dl;
}
/* The request deadline passed while the application holds the request: answer 504 (unless
   it began a response) and orphan the request, whose later answer then just frees it. */
HTTPD__PRIVATE void httpd__conn_504(httpd__conn *c) {
    httpd__req *r = c->req;
    if (r->responded || HTTPD__STREAMING(r)) return;
    c->req = NULL;
    r->timed_out = 1;
    httpd__conn_fail(c, r, 504, 0);                  /* answered for r, which stays held */
    httpd__req_orphan(r, HTTPD_ERR_TIMEOUT);
}
/* The deadline passed (the caller checked it against w->now). */
HTTPD__PRIVATE void httpd__conn_timeout(httpd__conn *c) {
#ifdef HTTPD_TLS_BEARSSL
    if (c->tls && !c->tls->ready) { c->state = HTTPD__S_ABORT; return; }   /* handshake */
#endif
    if ((c->flags & HTTPD__F_WBLOCKED)
        && c->wsince + c->w->s->desc.write_timeout_ms <= c->w->now) {
        c->state = HTTPD__S_ABORT;                 /* not reading its response: drop it */
        return;
    }
    switch (c->state) {
    case HTTPD__S_HEAD:
        if (c->flags & HTTPD__F_HEADSTART) httpd__conn_error(c, 408);
        else c->state = HTTPD__S_CLOSING;          /* idle keep-alive: close silently */
        break;
#ifndef HTTPD_NO_MIDDLEWARE
    case HTTPD__S_PROXY:                           /* no PROXY header in time: a bad peer */
        if (!c->w->stop_at) HTTPD__REJECT(c->w, HTTPD__RJ_PROXY);  /* (not: a stop's grace) */
        c->state = HTTPD__S_ABORT;
        break;
#endif
    case HTTPD__S_BODY: {
        httpd__req *r = c->req;
        const httpd_desc *d = &c->w->s->desc;
        if (HTTPD__SBODY(r) && (!r->bfn || r->paused)) {
            /* the application holds it and is not reading: its request deadline */
            httpd__conn_504(c);
            break;
        }
        if (c->since + d->body_timeout_ms > c->w->now && d->body_min_rate != HTTPD_NO_TIMEOUT) {
            /* a window ended: slower than the minimum rate is a slow drip -> 408 */
            uint64_t need = (uint64_t)d->body_min_rate * (HTTPD__RATE_WINDOW_MS / 1000); /* s */
            if (r->rate_bytes >= need) {
                r->rate_start = c->w->now;
                r->rate_bytes = 0;
                break;
            }
        }
        httpd__conn_body_fail(c, 408);
        break;
    }
    case HTTPD__S_HANDLER:                    /* the handler did not answer in time */
        httpd__conn_504(c);
        break;
#ifndef HTTPD_NO_WEBSOCKET
    case HTTPD__S_WS:                         /* ping, heartbeat timeout, close wait */
        httpd__ws_timeout(c);
        break;
#endif
    case HTTPD__S_LINGER:
        c->state = HTTPD__S_ABORT;
        break;
    default:
        break;
    }
}
HTTPD__PRIVATE void httpd__conn_drive(httpd__conn *c);
HTTPD__PRIVATE void httpd__conn_arm(httpd__conn *c);
/* The connection's timer fired: it may be early (lazy re-arm), so check the deadline. */
HTTPD__PRIVATE void httpd__conn_on_timer(httpd__timer *t, void *ctx) {
    httpd__conn *c = HTTPD__CONTAINER(t, httpd__conn, timer);
    (void)ctx;
    if (httpd__conn_deadline(c) > c->w->now) { httpd__conn_arm(c); return; }
    httpd__conn_timeout(c);
    if (c->fd >= 0) httpd__conn_drive(c);
}
/* Sets up a fresh connection (fd -1 for in-memory use). */
HTTPD__PRIVATE void httpd__conn_init(httpd__conn *c, httpd__worker *w, int fd) {
    uint32_t slot = c->slot, gen = c->gen;
    HTTPD_ASSERT(!(c->flags & HTTPD__F_QUEUED) && !c->timer.pprev);   /* nothing reaches it */
    memset(c, 0, sizeof *c);
    c->slot = slot; c->gen = gen;
    c->w = w;
    c->fd = fd;
    c->timer.fire = httpd__conn_on_timer;
    c->state = HTTPD__S_HEAD;
    c->flags = HTTPD__F_FIRST;
    c->since = c->wsince = w->now;
}
/* Frees what the connection holds; a request in the handler's hands is orphaned (its
   httpd_respond will get HTTPD_ERR_CLOSED and free it). */
HTTPD__PRIVATE void httpd__conn_release(httpd__conn *c) {
    httpd__worker *w = c->w;
    if (c->ws) httpd__ws_end(c, 1006, NULL, 0);        /* dropped: no close handshake */
    if (c->req) {
        if (c->req->dispatched && !c->req->responded) httpd__req_orphan(c->req, HTTPD_ERR_CLOSED);
        else httpd__req_put(c->req);
        c->req = NULL;
    }
    httpd__buf_release(&w->pool, &c->in);
    httpd__buf_release(&w->pool, &c->out);
#ifdef HTTPD_TLS_BEARSSL
    httpd__tls_detach(c);
#endif
    if ((c->flags & HTTPD__F_FILE) && !(c->flags & HTTPD__F_FILEMEM)) close(c->file_fd);
    c->flags &= (uint16_t)~(HTTPD__F_FILE | HTTPD__F_FILEREAD | HTTPD__F_FILEMEM
                            | HTTPD__F_FILECHECK);
    httpd__wheel_del(&w->wheel, &c->timer);
    c->state = HTTPD__S_DEAD;
}

#ifdef HTTPD_TLS_BEARSSL
/* ======================================================================= >>tls
   TLS records between the socket and the sans-I/O core (HTTPD_TLS_BEARSSL only). The
   worker's drive hands a TLS connection to httpd__tls_drive, which moves bytes four ways
   until nothing moves: socket -> engine (records), engine -> core (plaintext, through
   httpd__conn_rbuf/recv), core -> engine (httpd__conn_obuf/sent, file bodies read with
   pread by >>file's pump: never sendfile, the bytes must be encrypted), engine -> socket.
   The handshake is just the engine's first records: non-blocking, on the worker, under
   its own deadline (httpd_tls_desc.handshake_timeout_ms from the accept; then the header
   timeout starts). Closing sends close_notify (RFC 5246 §7.2.1) before the FIN, on every
   orderly close (end of keep-alive, Connection: close, errors, graceful stop); an abort
   (reset, timeout of a writer, immediate stop) does not.
   Syscalls: BearSSL takes the bytes of one record at a time (its 5-byte header, then the
   rest), so reading straight into it costs two or three reads per record. Instead one
   readv fills what the current record still needs and, past it, a small in-stage; the
   next records are fed from there. Records we produce go out through a small out-stage
   when they fit (a whole handshake flight, a small response: one write), straight from
   the engine's buffer when they do not (bulk data, no copy).
   Memory per connection: the engine's state (httpd__tls, about 4.2 KB) for the whole
   connection; while busy also one block (httpd_tls_desc: a 16.7 KB input record buffer,
   a 16.5 KB output one unless half duplex, two 4 KB stages: 41 KB by default, 25 KB half
   duplex, 2.4 KB with max_record 512, 1.9 KB half duplex). An idle connection gives the
   block back ("parking"): between records BearSSL keeps nothing in its buffers (a record
   boundary in, nothing accumulated or unsent out), so the block can be returned to the worker's
   pool and another one given when the connection wakes up. That swap writes the two
   buffer pointers of the engine, the one place where BearSSL's structure is used beyond
   its functions (both fields are declared in bearssl_ssl.h); the tests check it.
   Owner: the connection's worker thread. */
#include <sys/uio.h>

HTTPD__PRIVATE ssize_t httpd__tls_readv(int fd, struct iovec *iov, int n) {
#ifdef SYS_readv
    return (ssize_t)syscall(SYS_readv, fd, iov, n);    /* as httpd__io_read: no libc */
#else
    return readv(fd, iov, n);
#endif
}
HTTPD__PRIVATE unsigned char *httpd__tls_istage(const httpd__tls *t) {
    return t->buf + t->conf->rec_in + t->conf->rec_out;
}
HTTPD__PRIVATE unsigned char *httpd__tls_ostage(const httpd__tls *t) {
    return t->buf + t->conf->rec_in + t->conf->rec_out + t->conf->stage;
}
/* A TLS connection starts: its engine and a buffer block. 0 or HTTPD_ERR_NOMEM. */
HTTPD__PRIVATE int httpd__tls_attach(httpd__conn *c) {
    httpd__worker *w = c->w;
    int fresh = w->tls_mem.free_list == NULL;          /* else a configured engine */
    httpd__tls *t = (httpd__tls *)httpd__pool_get(&w->tls_mem);
    if (!t) return HTTPD_ERR_NOMEM;
    if (fresh) t->magic = 0;
    if (!(t->buf = (unsigned char *)httpd__pool_get(&w->tls_buf))) {
        httpd__pool_put(&w->tls_mem, (char *)t, w->tls_mem.block);
        return HTTPD_ERR_NOMEM;
    }
    t->ipos = t->ilen = t->opos = t->olen = 0;
    t->ready = t->chose = t->closing = t->eof = 0;
    if (httpd__tls_engine_init(t, w->s->tls) < 0) {
        httpd__pool_put(&w->tls_buf, (char *)t->buf, w->tls_buf.block);
        httpd__pool_put(&w->tls_mem, (char *)t, w->tls_mem.block);
        return HTTPD_ERR_NOMEM;
    }
    c->tls = t;
    return 0;
}
/* The connection is closing (or lingers without TLS): the engine and its keys go. */
HTTPD__PRIVATE void httpd__tls_detach(httpd__conn *c) {
    httpd__tls *t = c->tls;
    httpd__worker *w = c->w;
    if (!t) return;
    if (t->buf) httpd__pool_put(&w->tls_buf, (char *)t->buf, w->tls_buf.block);
    /* the engine goes back to the pool as it is, to be reset for the next connection;
       its keys are wiped when the pool gives the memory back to the C library */
    httpd__pool_put(&w->tls_mem, (char *)t, w->tls_mem.block);
    c->tls = NULL;
}
/* Parking (see the banner): only between records, with nothing staged either way. */
HTTPD__PRIVATE void httpd__tls_park(httpd__conn *c) {
    httpd__tls *t = c->tls;
    br_ssl_engine_context *e = &t->sc.eng;
    size_t n;
    if (!t->buf || !t->ready || t->closing || t->ilen || t->olen) return;
    if (br_ssl_engine_current_state(e) & (BR_SSL_SENDREC | BR_SSL_RECVAPP | BR_SSL_CLOSED)) return;
    if (br_ssl_engine_recvrec_buf(e, &n) != t->buf || n != 5) return;   /* mid-record */
    httpd__pool_put(&c->w->tls_buf, (char *)t->buf, c->w->tls_buf.block);
    t->buf = NULL;
}
HTTPD__PRIVATE int httpd__tls_unpark(httpd__conn *c) {
    httpd__tls *t = c->tls;
    unsigned char *b = (unsigned char *)httpd__pool_get(&c->w->tls_buf);
    if (!b) return HTTPD_ERR_NOMEM;
    t->buf = b;
    t->sc.eng.ibuf = b;                                 /* the same offsets as before */
    t->sc.eng.obuf = t->conf->rec_out ? b + t->conf->rec_in : b;
    return 0;
}
/* Records from the socket, through the in-stage, into the engine. */
HTTPD__PRIVATE int httpd__tls_read(httpd__conn *c, httpd__tls *t) {
    br_ssl_engine_context *e = &t->sc.eng;
    unsigned char *p, *stage = httpd__tls_istage(t);
    size_t n;
    int moved = 0;
    while (t->ipos < t->ilen && (p = br_ssl_engine_recvrec_buf(e, &n)) != NULL) {
        size_t k = HTTPD__MIN(n, (size_t)(t->ilen - t->ipos));
        memcpy(p, stage + t->ipos, k);
        t->ipos += (uint32_t)k;
        br_ssl_engine_recvrec_ack(e, k);
        moved = 1;
    }
    if (t->ipos == t->ilen) t->ipos = t->ilen = 0;
    if (t->ilen || t->eof || !(c->flags & HTTPD__F_READABLE)
        || (p = br_ssl_engine_recvrec_buf(e, &n)) == NULL)
        return moved;
    struct iovec iov[2];
    iov[0].iov_base = p; iov[0].iov_len = n;
    iov[1].iov_base = stage; iov[1].iov_len = t->conf->stage;
    ssize_t r = httpd__tls_readv(c->fd, iov, 2);
    if (r > 0) {
        size_t k = HTTPD__MIN((size_t)r, n);
        /* short: drained until the next edge (but a FIN raises none: read on) */
        if ((size_t)r < n + t->conf->stage && !(c->flags & HTTPD__F_RDHUP))
            c->flags &= (uint16_t)~HTTPD__F_READABLE;
        t->ilen = (uint32_t)((size_t)r - k);
        br_ssl_engine_recvrec_ack(e, k);
        return 1;
    }
    if (r == 0) {
        c->flags &= (uint16_t)~HTTPD__F_READABLE;
        t->eof = 1;
        return 1;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) c->flags &= (uint16_t)~HTTPD__F_READABLE;
    else if (errno != EINTR) c->state = HTTPD__S_ABORT;               /* ECONNRESET */
    return moved;
}
/* Plaintext from the core (and file bodies) into records. */
HTTPD__PRIVATE int httpd__tls_push(httpd__conn *c, httpd__tls *t) {
    br_ssl_engine_context *e = &t->sc.eng;
    int moved = 0;
    for (;;) {
        const char *o;
        size_t n = httpd__conn_obuf(c, &o), room;
        unsigned char *p = br_ssl_engine_sendapp_buf(e, &room);
        if (!p || c->state == HTTPD__S_ABORT) break;
        if (!n) {
            if (!(c->flags & HTTPD__F_FILE) || !httpd__conn_pump_file(c)) break;
            continue;                                  /* read into c->out: encrypt it */
        }
        n = HTTPD__MIN(n, room);
        memcpy(p, o, n);
        br_ssl_engine_sendapp_ack(e, n);               /* a full record is sealed here */
        moved = 1;
        httpd__conn_sent(c, n);
    }
    if (moved) br_ssl_engine_flush(e, 0);              /* and the rest now */
    return moved;
}
/* Records to the socket: small ones gathered in the out-stage (one write for several),
   large ones straight from the engine. */
HTTPD__PRIVATE int httpd__tls_write(httpd__conn *c, httpd__tls *t) {
    br_ssl_engine_context *e = &t->sc.eng;
    unsigned char *stage = httpd__tls_ostage(t);
    int moved = 0;
    while (!(c->flags & HTTPD__F_WBLOCKED) && c->state != HTTPD__S_ABORT) {
        size_t n, len;
        unsigned char *p = br_ssl_engine_sendrec_buf(e, &n);
        if (p && n <= t->conf->stage - t->olen) {
            memcpy(stage + t->olen, p, n);
            t->olen += (uint32_t)n;
            br_ssl_engine_sendrec_ack(e, n);           /* the engine may make the next */
            moved = 1;
            continue;
        }
        const unsigned char *src;
        int staged = t->olen > t->opos;
        if (staged) { src = stage + t->opos; len = t->olen - t->opos; }
        else if (p) { src = p; len = n; }
        else break;
        ssize_t r = httpd__io_send(c->fd, src, len, HTTPD__MSG_NOSIGNAL);
        if (r > 0) {
            moved = 1;
            c->wsince = c->w->now;
            if (!staged) br_ssl_engine_sendrec_ack(e, (size_t)r);
            else if ((t->opos += (uint32_t)r) == t->olen) t->opos = t->olen = 0;
            if ((size_t)r < len) c->flags |= HTTPD__F_WBLOCKED;
        } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->flags |= HTTPD__F_WBLOCKED;
        } else if (r < 0 && errno != EINTR) {
            c->state = HTTPD__S_ABORT;                  /* EPIPE, ECONNRESET */
        }
    }
    return moved;
}
/* Drives a TLS connection (httpd__conn_drive's part for it). 1: done (the connection may
   be closed); 0: TLS was dropped for a lingering close, the plaintext drive goes on. */
HTTPD__OUTLINE int httpd__tls_drive(httpd__conn *c) {
    httpd__tls *t = c->tls;
    br_ssl_engine_context *e = &t->sc.eng;
    int round = 0;
    if (!t->buf) {                                     /* parked: anything to do? */
        const char *o;
        if (!(c->flags & (HTTPD__F_READABLE | HTTPD__F_FILE)) && !httpd__conn_obuf(c, &o)
            && c->state != HTTPD__S_CLOSING && c->state != HTTPD__S_ABORT)
            goto end;
        if (c->state != HTTPD__S_ABORT && httpd__tls_unpark(c) < 0) c->state = HTTPD__S_ABORT;
    }
    for (; round < HTTPD__DRIVE_ROUNDS && c->state != HTTPD__S_ABORT; round++) {
        unsigned st = br_ssl_engine_current_state(e);
        int moved = 0;
        size_t n, room;
        unsigned char *p;
        if (st & BR_SSL_CLOSED) {          /* failed, or the peer's close_notify answered */
            int err = br_ssl_engine_last_error(e);
            if (err) HTTPD__LOG(c->w->s, HTTPD_LOG_DEBUG, HTTPD_ERR_CLOSED, "TLS %s failed: "
                                "BearSSL error %d", t->ready ? "connection" : "handshake", err);
            c->state = HTTPD__S_ABORT;
            break;
        }
        if (!t->ready && (st & (BR_SSL_SENDAPP | BR_SSL_RECVAPP))) {
            t->ready = 1;                  /* the handshake is done: the header timeout */
            c->since = c->w->now;          /* of the first request starts now            */
        }
        /* plaintext that arrived goes to the core while it takes it */
        while ((p = br_ssl_engine_recvapp_buf(e, &n)) != NULL) {
            char *d = httpd__conn_rbuf(c, &room);
            if (!d) break;
            n = HTTPD__MIN(n, room);
            memcpy(d, p, n);
            br_ssl_engine_recvapp_ack(e, n);
            httpd__conn_recv(c, n);
            moved = 1;
        }
        moved |= httpd__tls_read(c, t);
        if (t->eof == 1 && !t->ilen && !br_ssl_engine_recvapp_buf(e, &n)) {
            t->eof = 2;                    /* everything before the FIN was delivered */
            httpd__conn_eof(c);
            moved = 1;
        }
        moved |= httpd__tls_push(c, t);
        moved |= httpd__tls_write(c, t);
        if (c->state == HTTPD__S_CLOSING && c->out.pos == c->out.len
            && !(c->flags & HTTPD__F_FILE)) {
            if (!t->closing) {
                t->closing = 1;
                if (t->ready) {            /* close_notify, then the FIN */
                    br_ssl_engine_close(e);
                    continue;
                }
            }
            if (t->olen == t->opos && !br_ssl_engine_sendrec_buf(e, &n)) {
                httpd__conn_close(c);      /* lingering: TLS is dropped there */
                return c->state != HTTPD__S_LINGER;
            }
        }
        if (!moved) break;
    }
    if (c->state == HTTPD__S_ABORT) { httpd__conn_close(c); return 1; }
    if (c->tls->conf->rec_out == 0 && round < HTTPD__DRIVE_ROUNDS
        && (br_ssl_engine_current_state(e) & BR_SSL_RECVAPP) && c->out.len > c->out.pos) {
        /* half duplex and stuck: the buffer holds a request the core cannot take until
           its output is out, and output cannot go out while the buffer holds it (a
           client pipelining past the read buffer). Nothing would ever move again. */
        HTTPD__LOG(c->w->s, HTTPD_LOG_DEBUG, 0, "TLS half duplex: pipelined input blocks "
                   "the output; connection closed");
        c->state = HTTPD__S_ABORT;
        httpd__conn_close(c);
        return 1;
    }
    httpd__tls_park(c);
end:
    if (round == HTTPD__DRIVE_ROUNDS) httpd__conn_queue(c);     /* more to do: next turn */
    else if (c->req && c->req->wwait) httpd__conn_writable(c);
    httpd__conn_arm(c);
    httpd__conn_interest(c);
    return 1;
}
/* OpenSSL's names for our suites (what nginx logs and curl -v prints). */
HTTPD__PRIVATE const char *httpd__tls_suite_name(unsigned s) {
    switch (s) {
    case BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: return "ECDHE-ECDSA-AES128-GCM-SHA256";
    case BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: return "ECDHE-RSA-AES128-GCM-SHA256";
    case BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: return "ECDHE-ECDSA-AES256-GCM-SHA384";
    case BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: return "ECDHE-RSA-AES256-GCM-SHA384";
    case BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: return "ECDHE-ECDSA-CHACHA20-POLY1305";
    case BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: return "ECDHE-RSA-CHACHA20-POLY1305";
    default: return "?";
    }
}
#endif /* HTTPD_TLS_BEARSSL */

/* ===================================================================== >>drive
   The real I/O of one connection: reads into the buffer the state machine offers, runs it,
   writes what it queued (or hands the connection to >>tls), waits for readiness through
   the event backend (>>poll), closes or lingers, and accepts new connections. Connections
   are driven right away on accept (TCP_DEFER_ACCEPT means the request is usually there
   already), so a connection-per-request client costs accept, read, write, close and no
   interest change. Reads stop when a read comes back short (edge-triggered backends: a new
   edge will come), so keep-alive costs one read and one write per request. Connections
   closed during an event batch are recycled after it. Owner: the connection's worker. */
#define HTTPD__EVENTS 256
#define HTTPD__ACCEPT_BURST 64

/* epoll user data for non-connections: the listeners (indexed by HTTPD__L_*) and the
   wake-up eventfd */
enum { HTTPD__L_MAIN, HTTPD__L_PROXY, HTTPD__L_TLS, HTTPD__L_KINDS };
static char httpd__tag_listen[HTTPD__L_KINDS], httpd__tag_wake;

HTTPD__PRIVATE httpd__conn *httpd__conn_new(httpd__worker *w) {
    httpd__conn *c = w->free_conns;
    if (c) { w->free_conns = c->dnext; return c; }
    if (w->max_slots && w->nslots == w->max_slots) return NULL;   /* preallocated: full */
    if ((w->nslots >> w->cbits) == w->nchunks) {                   /* a new chunk */
        if (w->nchunks == w->max_chunks) return NULL;
        httpd__conn *chunk = (httpd__conn *)HTTPD_MALLOC(w->s->desc.alloc_ctx,
                                                         ((size_t)1 << w->cbits) * sizeof *chunk);
        if (!chunk) return NULL;
        w->chunks[w->nchunks++] = chunk;
    }
    uint32_t slot = w->nslots++;
    c = HTTPD__SLOT(w, slot);
    memset(c, 0, sizeof *c);
    c->slot = slot;
    c->state = HTTPD__S_DEAD;
    return c;
}
/* A level-triggered poller (>>poll_poll) waits only for what the connection would act on:
   reading while it has not seen its socket readable (and no EOF yet), writing while a
   write is blocked. Nothing at all for the edge-triggered ones. */
HTTPD__PRIVATE void httpd__conn_interest(httpd__conn *c) {
    if (!HTTPD__POLL_LEVEL || !(c->flags & HTTPD__F_POLLED) || c->state == HTTPD__S_DEAD) return;
    unsigned want = 0;
    if (!(c->flags & (HTTPD__F_READABLE | HTTPD__F_EOF)) && c->state <= HTTPD__S_LINGER)
        want |= HTTPD__IO_R;
    if (c->flags & HTTPD__F_WBLOCKED) want |= HTTPD__IO_W;
    httpd__poll_want(&c->w->poll, c->fd, want);
}
HTTPD__PRIVATE void httpd__conn_arm(httpd__conn *c) {
    uint64_t dl = httpd__conn_deadline(c);
    /* lazy: an earlier timer stays; when it fires the deadline is checked again */
    if (dl != UINT64_MAX && (!c->timer.pprev || c->timer.due > dl))
        httpd__wheel_add(&c->w->wheel, &c->timer, dl);
}
/* The PROXY protocol listener on or off for this worker (its own cap, or with the main). */
HTTPD__PRIVATE void httpd__worker_listen_proxy(httpd__worker *w, int on) {
    httpd_server *s = w->s;
    if (!HTTPD__PROXYPROTO || on == w->paccepting || s->proxy_fd < 0) return;
    if (on) {
        if (httpd__poll_add(&w->poll, s->proxy_fd, &httpd__tag_listen[1], HTTPD__PK_LISTEN) == 0)
            w->paccepting = 1;
    } else {
        httpd__poll_del(&w->poll, s->proxy_fd);
        w->paccepting = 0;
    }
}
HTTPD__PRIVATE void httpd__worker_listen(httpd__worker *w, int on) {
    httpd_server *s = w->s;
    httpd__worker_listen_proxy(w, on);
    if (on == w->accepting) return;
    if (on) {
        int ok = s->listen_fd < 0
                 || httpd__poll_add(&w->poll, s->listen_fd, &httpd__tag_listen[HTTPD__L_MAIN],
                                    HTTPD__PK_LISTEN) == 0;
#ifdef HTTPD_TLS_BEARSSL
        if (ok && s->tls_fd >= 0
            && httpd__poll_add(&w->poll, s->tls_fd, &httpd__tag_listen[HTTPD__L_TLS],
                               HTTPD__PK_LISTEN) < 0) {
            if (s->listen_fd >= 0) httpd__poll_del(&w->poll, s->listen_fd);
            ok = 0;
        }
#endif
        w->accepting = ok;
    } else {
        if (s->listen_fd >= 0) httpd__poll_del(&w->poll, s->listen_fd);
#ifdef HTTPD_TLS_BEARSSL
        if (s->tls_fd >= 0) httpd__poll_del(&w->poll, s->tls_fd);
#endif
        w->accepting = 0;
    }
}
/* Closes the socket (or starts a lingering close) and recycles the slot after the batch. */
HTTPD__PRIVATE void httpd__conn_close(httpd__conn *c) {
    httpd__worker *w = c->w;
    if (c->state == HTTPD__S_CLOSING && (c->flags & HTTPD__F_LINGER)
        && !(c->flags & HTTPD__F_EOF) && c->fd >= 0) {
        /* lingering close: send FIN, read and drop what the client still sends, so our
           response is not destroyed by a RST from unread data (as nginx's lingering_close);
           TLS has said close_notify by now, what comes is dropped unread */
#ifdef HTTPD_TLS_BEARSSL
        httpd__tls_detach(c);
#endif
        shutdown(c->fd, SHUT_WR);
        httpd__buf_release(&w->pool, &c->in);
        httpd__buf_release(&w->pool, &c->out);
        c->state = HTTPD__S_LINGER;
        c->since = w->now;
        c->flags |= HTTPD__F_READABLE;
        return;
    }
    httpd__conn_release(c);
    if (HTTPD__POLL_LEVEL && (c->flags & HTTPD__F_POLLED)) httpd__poll_forget(&w->poll, c->fd);
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->gen++;
    c->dnext = w->dead;
    w->dead = c;
    w->nconns--;
    HTTPD__ADJ(&w->s->nconns, (uint32_t)-1);
    if (HTTPD__PROXYPROTO && HTTPD__UNLIKELY(c->proxied)) {
        HTTPD__ADJ(&w->s->proxy_nconns, (uint32_t)-1);
        if (w->accepting && !w->stopping) httpd__worker_listen_proxy(w, 1);  /* room again */
    }
    if (HTTPD__UNLIKELY(HTTPD__OPS(w))) httpd__mw_gauges(w);
}
/* Reads, runs the state machine, writes, until nothing moves (bounded, for fairness). */
HTTPD__PRIVATE void httpd__conn_drive(httpd__conn *c) {
    int round;
    if ((c->flags & HTTPD__F_RESUME) && !(c->flags & HTTPD__F_IN_HANDLER)) {
        c->flags &= (uint16_t)~HTTPD__F_RESUME;     /* a body resumed: buffered bytes first */
        if (c->state <= HTTPD__S_HANDLER) httpd__conn_process(c);
    }
#ifdef HTTPD_TLS_BEARSSL
    if (c->tls && httpd__tls_drive(c)) return;       /* records between socket and core */
#endif
    for (round = 0; round < HTTPD__DRIVE_ROUNDS; round++) {
        int moved = 0;
        if ((c->flags & HTTPD__F_READABLE) && c->state <= HTTPD__S_LINGER) {
            size_t n;
            char *p = httpd__conn_rbuf(c, &n);
            if (p) {
                ssize_t r = httpd__io_read(c->fd, p, n);
                if (r > 0) {
                    /* short read: drained, and the next edge will say when there is more;
                       but a FIN that came with this data raises no new edge: read on */
                    if ((size_t)r < n && !(c->flags & HTTPD__F_RDHUP))
                        c->flags &= (uint16_t)~HTTPD__F_READABLE;
                    httpd__conn_recv(c, (size_t)r);
                    moved = 1;
                } else if (r == 0) {
                    c->flags &= (uint16_t)~HTTPD__F_READABLE;
                    httpd__conn_eof(c);
                    moved = 1;
                } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    c->flags &= (uint16_t)~HTTPD__F_READABLE;
                    if (((c->state == HTTPD__S_HEAD && !c->req) || c->state == HTTPD__S_WS)
                        && c->in.len == c->in.pos)
                        httpd__buf_release(&c->w->pool, &c->in);     /* idle: no buffer */
                } else if (errno != EINTR) {
                    c->state = HTTPD__S_ABORT;                 /* ECONNRESET and co. */
                }
            }
        }
        const char *out;
        size_t n = httpd__conn_obuf(c, &out);
        if (n && !(c->flags & HTTPD__F_WBLOCKED) && c->state != HTTPD__S_ABORT) {
            /* the last bytes before a plain close: MSG_MORE holds the segment so that
               close()'s FIN rides on it (one segment and one ACK fewer per connection);
               likewise a head that a sendfile body of at most 64 KiB follows (one
               segment with it; a corked head before a larger body cost 15-30 % more
               server CPU per response on loopback, bench/static.sh) */
            int more = (c->state == HTTPD__S_CLOSING && !(c->flags & HTTPD__F_LINGER))
                       || ((c->flags & HTTPD__F_FILE) && !(c->flags & HTTPD__F_FILEREAD)
                           && c->file_left <= 65536);
            ssize_t r = httpd__io_send(c->fd, out, n,
                                       HTTPD__MSG_NOSIGNAL | (more ? HTTPD__MSG_MORE : 0));
            if (r > 0) {
                if ((size_t)r < n) c->flags |= HTTPD__F_WBLOCKED;
                httpd__conn_sent(c, (size_t)r);
                moved = 1;
            } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                c->flags |= HTTPD__F_WBLOCKED;
            } else if (r < 0 && errno != EINTR) {
                c->state = HTTPD__S_ABORT;                     /* EPIPE, ECONNRESET */
            }
        } else if (!n && (c->flags & HTTPD__F_FILE) && !(c->flags & HTTPD__F_WBLOCKED)
                   && c->state != HTTPD__S_ABORT) {
            moved |= httpd__conn_pump_file(c);
        }
        if (c->state == HTTPD__S_ABORT) { httpd__conn_close(c); return; }
        if (c->state == HTTPD__S_CLOSING && c->out.pos == c->out.len
            && !(c->flags & HTTPD__F_FILE)) {
            httpd__conn_close(c);
            if (c->state != HTTPD__S_LINGER) return;
            moved = 1;
        }
        if (!moved) break;
    }
    if (round == HTTPD__DRIVE_ROUNDS) httpd__conn_queue(c);  /* more to do: next turn */
    else if (c->req && c->req->wwait) httpd__conn_writable(c);
    httpd__conn_arm(c);
    httpd__conn_interest(c);
}
/* A new connection on fd (non-blocking) joins this worker: it is driven at once (with
   deferred accept the request is likely there already), then registered with the poller.
   The caller counted it in s->nconns (and s->proxy_nconns when proxied). addr: the peer
   (NULL: not needed); proxied: from the PROXY listener (the connection starts in the
   PROXY state); tls: from the TLS listener (its handshake starts with the first drive).
   NULL when no slot is left (fd closed). */
HTTPD__PRIVATE httpd__conn *httpd__worker_adopt_from(httpd__worker *w, int fd,
                                                     const uint8_t *addr, int proxied, int tls) {
    httpd__conn *c = httpd__conn_new(w);
    if (!c) {
        close(fd);
        HTTPD__ADJ(&w->s->nconns, (uint32_t)-1);
        if (HTTPD__PROXYPROTO && proxied) HTTPD__ADJ(&w->s->proxy_nconns, (uint32_t)-1);
        return NULL;
    }
    httpd__conn_init(c, w, fd);
    if (addr) memcpy(c->addr, addr, 16);
    if (HTTPD__PROXYPROTO && proxied) { c->proxied = 1; c->state = HTTPD__S_PROXY; }
    w->nconns++;
    if (HTTPD__UNLIKELY(HTTPD__OPS(w))) httpd__mw_gauges(w);
#ifdef HTTPD_TLS_BEARSSL
    if (tls && httpd__tls_attach(c) < 0) {
        c->state = HTTPD__S_ABORT;                     /* out of memory: drop it */
        httpd__conn_close(c);
        return c;
    }
#else
    (void)tls;
#endif
    c->flags |= HTTPD__F_READABLE;
    httpd__conn_drive(c);
    if (c->state == HTTPD__S_DEAD) return c;
    if (httpd__poll_add(&w->poll, fd, c, HTTPD__PK_CONN) < 0) {
        c->state = HTTPD__S_ABORT;
        httpd__conn_close(c);
        return c;
    }
    c->flags |= HTTPD__F_POLLED;
    httpd__conn_interest(c);
    return c;
}
HTTPD__PRIVATE httpd__conn *httpd__worker_adopt(httpd__worker *w, int fd, int tls) {
    return httpd__worker_adopt_from(w, fd, NULL, 0, tls);
}
/* accept4 where it exists (one call); elsewhere accept, then the flags one at a time.
   Without MSG_NOSIGNAL, SO_NOSIGPIPE keeps a write to a reset peer from raising SIGPIPE
   (where neither exists the workers' blocked signal mask holds it pending). */
HTTPD__PRIVATE int httpd__accept(int lfd, struct sockaddr *sa, socklen_t *sl) {
#if HTTPD__LINUX
    return accept4(lfd, sa, sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
    int fd = accept(lfd, sa, sl);
    if (fd < 0) return -1;
    if (httpd__cloexec_nonblock(fd) < 0) {
        int e = errno;
        close(fd);
        errno = e == EAGAIN ? ENOBUFS : e;     /* never "try again": the socket is gone */
        return -1;
    }
#  ifdef SO_NOSIGPIPE
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#  endif
    return fd;
#endif
}
/* A graceful stop begins: the listeners stop deferring accepts. With TCP_DEFER_ACCEPT the
   kernel holds a connection whose handshake is done but whose request has not arrived out
   of the accept queue, and closing the listener would reset it although its client
   believes it connected. Without it, such connections reach the queue and are accepted
   before the listener closes, HTTPD__STOP_SETTLE_MS (or the drain delay) later. */
#if HTTPD__LINUX
#define HTTPD__STOP_SETTLE_MS 200u
HTTPD__PRIVATE void httpd__nodefer(int fd) {
    int off = 0;
    if (fd >= 0) setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &off, sizeof off);
}
HTTPD__PRIVATE void httpd__listen_nodefer(httpd_server *s) {
    httpd__nodefer(s->listen_fd);
    if (HTTPD__PROXYPROTO) httpd__nodefer(s->proxy_fd);
#ifdef HTTPD_TLS_BEARSSL
    httpd__nodefer(s->tls_fd);
#endif
}
#else
#define HTTPD__STOP_SETTLE_MS 0u
#define httpd__listen_nodefer(s) ((void)(s))
#endif
/* Accepts from one listener: HTTPD__L_MAIN, HTTPD__L_PROXY or HTTPD__L_TLS. Returns 1 when
   it stopped because the burst was used up (more may be queued), else 0. */
HTTPD__PRIVATE int httpd__worker_accept(httpd__worker *w, int kind) {
    httpd_server *s = w->s;
    uint32_t pmax = s->desc.proxy_max_connections;
    int proxy = HTTPD__PROXYPROTO && kind == HTTPD__L_PROXY;
    int want = HTTPD__MW(s) || proxy;             /* the peer's address is needed */
#ifdef HTTPD_TLS_BEARSSL
    int lfd = kind == HTTPD__L_TLS ? s->tls_fd : proxy ? s->proxy_fd : s->listen_fd;
#else
    int lfd = proxy ? s->proxy_fd : s->listen_fd;
#endif
    for (int i = 0; i < HTTPD__ACCEPT_BURST && lfd >= 0; i++) {
        if (w->max_slots && w->nconns >= w->max_slots) {    /* preallocated slots all used */
            httpd__worker_listen(w, 0);
            HTTPD__REJECT(w, HTTPD__RJ_MAXCONN);
            return 0;
        }
        /* no slot until the batch's closed ones are recycled (slots follow max_connections):
           the listener is level-triggered, the next turn accepts */
        if (!w->free_conns
            && w->nslots >= (w->max_slots ? w->max_slots : w->max_chunks << w->cbits))
            return 0;
        /* a place is reserved before the accept, so that workers accepting at once never
           pass max_connections together */
        if (HTTPD__ADD(&s->nconns, 1u) >= s->desc.max_connections) {
            HTTPD__ADJ(&s->nconns, (uint32_t)-1);
            httpd__worker_listen(w, 0);     /* the kernel backlog holds the rest */
            HTTPD__REJECT(w, HTTPD__RJ_MAXCONN);
            return 0;
        }
        if (proxy && HTTPD__ADD(&s->proxy_nconns, 1u) >= (pmax ? pmax : UINT32_MAX)) {
            HTTPD__ADJ(&s->proxy_nconns, (uint32_t)-1);
            HTTPD__ADJ(&s->nconns, (uint32_t)-1);
            httpd__worker_listen_proxy(w, 0);   /* its own cap */
            HTTPD__REJECT(w, HTTPD__RJ_MAXCONN);
            return 0;
        }
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = httpd__accept(lfd, want ? (struct sockaddr *)&ss : NULL, want ? &sl : NULL);
        if (fd < 0) {
            HTTPD__ADJ(&s->nconns, (uint32_t)-1);
            if (proxy) HTTPD__ADJ(&s->proxy_nconns, (uint32_t)-1);
            if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* out of descriptors: pause (no spinning), keep serving, retry soon */
                HTTPD__LOG(s, HTTPD_LOG_WARN, HTTPD_ERR_SYS,
                           "accept: %s; pausing accepts for 100 ms", strerror(errno));
                httpd__worker_listen(w, 0);
                httpd__wheel_add(&w->wheel, &w->accept_timer, w->now + 100);
                HTTPD__REJECT(w, HTTPD__RJ_EMFILE);
                return 0;
            }
            HTTPD__LOG(s, HTTPD_LOG_ERROR, HTTPD_ERR_SYS, "accept: %s", strerror(errno));
            return 0;
        }
        uint8_t a[16];
        if (want) httpd__addr_from(a, (struct sockaddr *)&ss);
        httpd__worker_adopt_from(w, fd, want ? a : NULL, proxy, kind == HTTPD__L_TLS);
    }
    return lfd >= 0;
}
/* ==================================================================== >>worker
   One thread per worker: an event loop (>>poll) over the shared listener (with epoll,
   EPOLLEXCLUSIVE: one accept queue, so nothing the kernel queued is lost to a per-worker
   queue closing, and one wake-up per connection instead of a thundering herd), its
   connections, its timer wheel, its mailbox and a wake-up for stop. Also: the date cache,
   graceful and hard stop, memory trimming after bursts, the watchdog, setup and teardown.
   Calls: >>drive and everything above. Owner: the worker thread (the watchdog only reads). */
HTTPD__PRIVATE void httpd__worker_tick_date(httpd__worker *w) {
    struct timespec ts;
    clock_gettime(HTTPD__CLOCK_COARSE, &ts);
    if (ts.tv_sec == w->date_sec) return;
    w->date_sec = ts.tv_sec;
    memcpy(w->date, "Date: ", 6);
    httpd__http_date(w->date + 6, ts.tv_sec);
    memcpy(w->date + 35, "\r\n", 2);
}
/* Stop, on this worker. Graceful: after the drain delay (accepting goes on, readiness
   already fails), take what the kernel has queued, stop accepting, close idle connections
   and let the others finish (their responses say Connection: close) until the shutdown
   timeout. Not graceful (or at the timeout): close everything now. */
/* The listening sockets close (by the last worker to stop, or at the release). */
HTTPD__PRIVATE void httpd__close_listeners(httpd_server *s) {
    if (s->listen_fd >= 0) close(s->listen_fd);
    if (HTTPD__PROXYPROTO && s->proxy_fd >= 0) close(s->proxy_fd);
    s->listen_fd = s->proxy_fd = -1;
#ifdef HTTPD_TLS_BEARSSL
    if (s->tls_fd >= 0) close(s->tls_fd);
    s->tls_fd = -1;
#endif
}
HTTPD__PRIVATE void httpd__worker_begin_stop(httpd__worker *w, int graceful) {
    httpd_server *s = w->s;
    if (graceful && w->draining && !w->stopping && w->drain_timer.pprev) return;  /* draining */
    uint32_t dd = s->desc.drain_delay_ms == HTTPD_NO_TIMEOUT ? 0 : s->desc.drain_delay_ms;
    if (graceful && !w->stopping && !w->draining && HTTPD__MAX(dd, HTTPD__STOP_SETTLE_MS)) {
        w->draining = 1;
        httpd__listen_nodefer(s);
        httpd__wheel_add(&w->wheel, &w->drain_timer,
                         w->now + HTTPD__MAX(dd, HTTPD__STOP_SETTLE_MS));
        return;
    }
    if (!w->stopping) {
        w->stopping = 1;
        w->stop_at = w->now ? w->now : 1;
        httpd__wheel_del(&w->wheel, &w->drain_timer);
        /* what the kernel queued was promised an answer: accept all of it (bounded) */
        for (int i = 0; graceful && w->accepting && i < 64; i++) {
            int more = httpd__worker_accept(w, HTTPD__L_MAIN);
#ifdef HTTPD_TLS_BEARSSL
            more |= httpd__worker_accept(w, HTTPD__L_TLS);
#endif
            if (!more) break;
        }
        for (int i = 0; HTTPD__PROXYPROTO && graceful && w->paccepting && i < 64; i++)
            if (!httpd__worker_accept(w, HTTPD__L_PROXY)) break;
        httpd__worker_listen(w, 0);
        if (HTTPD__ADD(&s->listeners_left, -1) == 1)
            httpd__close_listeners(s);                  /* the last worker out */
        uint32_t t = s->desc.shutdown_timeout_ms;
        if (graceful && t != HTTPD_NO_TIMEOUT)
            httpd__wheel_add(&w->wheel, &w->stop_timer, w->now + t);
    }
    if (!graceful && !w->forced) { w->forced = 1; w->forced_at = w->now; }
    for (uint32_t i = 0; i < w->nslots; i++) {
        httpd__conn *c = HTTPD__SLOT(w, i);
        if (c->state == HTTPD__S_DEAD || c->fd < 0) continue;
        httpd__req *r = c->req;
        if (graceful && r && HTTPD__STREAMING(r) && !r->responded && r->utimer.pprev) {
            /* a stream sleeping between events (SSE ticks) wakes now, sees
               httpd_stopping() and can end, instead of holding the stop until its tick */
            httpd__wheel_del(&w->wheel, &r->utimer);
            httpd__wheel_add(&w->wheel, &r->utimer, w->now);
        }
        int idle = (c->state == HTTPD__S_HEAD || c->state == HTTPD__S_PROXY) && !c->req
                   && !(c->flags & (HTTPD__F_HEADSTART | HTTPD__F_FILE))
                   && c->out.pos == c->out.len && !(graceful && httpd__conn_fresh(c));
        if (graceful && !idle && httpd__conn_fresh(c)) httpd__conn_arm(c);   /* its grace */
        if (!graceful || idle || c->state == HTTPD__S_LINGER) {
#ifdef HTTPD_TLS_BEARSSL
            if (graceful && idle && c->tls && c->tls->ready) {
                c->state = HTTPD__S_CLOSING;       /* close_notify first */
                httpd__conn_drive(c);
                continue;
            }
#endif
            c->state = HTTPD__S_ABORT;
            httpd__conn_close(c);
        } else if (c->state == HTTPD__S_WS) {
            httpd__ws_going_away(c);           /* close 1001, wait for the peer's close */
        }
    }
}
/* Runs what came back from other threads: task completions (done on this worker, with
   the reason if the client left or the deadline passed) and posted functions. */
HTTPD__PRIVATE void httpd__worker_mbox(httpd__worker *w, int alive) {
#if defined(HTTPD_NO_TASKS) && defined(HTTPD_NO_WEBSOCKET)
    (void)w; (void)alive;                  /* nothing ever comes: no task, post or frame */
#else
    httpd__lock(&w->mbox_mu);
    httpd_task *t = w->mbox;
    w->mbox = w->mbox_tail = NULL;
    httpd__unlock(&w->mbox_mu);
    while (t) {
        httpd_task *next = t->next;
        if (t->kind == HTTPD__TASK_REQ) {
            httpd__req *r = t->req;
            const httpd__route *rt = r->route;
            r->task = NULL;
            int st = r->conn ? 0 : r->timed_out ? HTTPD_ERR_TIMEOUT : HTTPD_ERR_CLOSED;
            httpd__body_release(r, 2, 1);
            httpd__cb_enter(w, rt);
            t->done(&r->pub, t->arg, st);                  /* may free r */
            httpd__cb_leave(w, rt);
        } else if (t->kind == HTTPD__TASK_WS) {
            httpd__ws_mbox(w, t, alive);
        } else {
            uint32_t slot = (uint32_t)(t->conn.id >> 32) & 0xffffffu;
            uint32_t gen = (uint32_t)t->conn.id;
            int st = HTTPD_ERR_CLOSED;
            if (alive && slot < w->nslots) {
                httpd__conn *c = HTTPD__SLOT(w, slot);
                if (c->gen == gen && c->state != HTTPD__S_DEAD) st = 0;
            }
            httpd__cb_enter(w, NULL);
            t->post(w->s, t->conn, t->arg, st);
            httpd__cb_leave(w, NULL);
        }
        httpd__task_free(t);
        t = next;
    }
#endif
}
HTTPD__PRIVATE void httpd__worker_wake(httpd__worker *w) {
    httpd__wakefd_drain(&w->wake);
    httpd__worker_mbox(w, 1);
    int stop = HTTPD__LOAD(&w->s->stop);
    if (stop) httpd__worker_begin_stop(w, stop == 1);
}
HTTPD__PRIVATE void httpd__worker_on_accept_timer(httpd__timer *t, void *ctx) {
    httpd__worker *w = (httpd__worker *)ctx;
    (void)t;
    if (!w->stopping) httpd__worker_listen(w, 1);
}
HTTPD__PRIVATE void httpd__worker_on_drain_timer(httpd__timer *t, void *ctx) {
    (void)t;
    httpd__worker_begin_stop((httpd__worker *)ctx, 1);
}
HTTPD__PRIVATE void httpd__worker_on_stop_timer(httpd__timer *t, void *ctx) {
    httpd__worker *w = (httpd__worker *)ctx;
    (void)t;
    HTTPD__LOG(w->s, HTTPD_LOG_WARN, HTTPD_ERR_TIMEOUT,
               "shutdown timeout: closing %u connections", w->nconns);
    httpd__worker_begin_stop(w, 0);
}
/* Memory a burst left behind goes back to the system: free blocks and requests that were
   not needed during the whole last period, then let the C library return the pages. */
#define HTTPD__TRIM_MS 10000u
#define HTTPD__TRIM_HEAP_MIN (1u << 20)
HTTPD__PRIVATE void httpd__worker_on_trim_timer(httpd__timer *t, void *ctx) {
    httpd__worker *w = (httpd__worker *)ctx;
    if (w->max_slots) return;              /* preallocated: kept until the end */
    size_t freed = (size_t)httpd__pool_trim(&w->pool) * w->pool.block;
#ifdef HTTPD_TLS_BEARSSL
    freed += (size_t)httpd__pool_trim(&w->tls_mem) * w->tls_mem.block;
    freed += (size_t)httpd__pool_trim(&w->tls_buf) * w->tls_buf.block;
#endif
    for (; w->low_reqs; w->low_reqs--, w->nfree_reqs--) {
        httpd__req *r = w->free_reqs;
        w->free_reqs = r->next_free;
        HTTPD_FREE(w->s->desc.alloc_ctx, r);
        freed += sizeof *r + HTTPD__ARENA_INLINE;
    }
    w->low_reqs = w->nfree_reqs;
    /* malloc_trim walks every arena of the process (milliseconds on a big heap): only
       after a real burst; -DHTTPD_NO_HEAP_TRIM leaves the heap to the application */
    if (freed >= HTTPD__TRIM_HEAP_MIN) HTTPD__HEAP_TRIM();
    if (!w->stopping) httpd__wheel_add(&w->wheel, t, w->now + HTTPD__TRIM_MS);
}
HTTPD__PRIVATE void httpd__worker_timers(httpd__worker *w) {
    httpd__timer *t;
    while ((t = httpd__wheel_pop(&w->wheel, w->now)) != NULL) t->fire(t, w);
}
/* One batch of poller events: accepts, wake-ups (mailbox, stop), connection I/O. */
HTTPD__PRIVATE void httpd__worker_events(httpd__worker *w, const httpd__io_event *ev, int n) {
    for (int i = 0; i < n; i++) {
        void *ud = httpd__poll_ud(&ev[i]);
        if ((uintptr_t)ud - (uintptr_t)httpd__tag_listen < HTTPD__L_KINDS) {   /* one compare */
            int k = (int)((uintptr_t)ud - (uintptr_t)httpd__tag_listen);
            if (k == HTTPD__L_PROXY ? w->paccepting : w->accepting) httpd__worker_accept(w, k);
            continue;
        }
        if (ud == &httpd__tag_wake) { httpd__worker_wake(w); continue; }
        httpd__conn *c = (httpd__conn *)ud;
        if (c->state == HTTPD__S_DEAD) continue;           /* closed earlier in the batch */
        unsigned bits = httpd__poll_bits(&ev[i]);
        if (bits & (HTTPD__IO_R | HTTPD__IO_HUP | HTTPD__IO_ERR)) c->flags |= HTTPD__F_READABLE;
        if (bits & (HTTPD__IO_HUP | HTTPD__IO_ERR)) c->flags |= HTTPD__F_RDHUP;
        if (bits & (HTTPD__IO_W | HTTPD__IO_ERR)) c->flags &= (uint16_t)~HTTPD__F_WBLOCKED;
        httpd__conn_drive(c);
    }
}
/* The end of a loop turn, after the events: fire the due timers, drive the connections
   queued for work, then recycle the slots closed during the turn. A slot is reused only
   when nothing reaches it any more: a connection can queue itself again while it is
   driven (an on_writable callback that writes) and close in that same drive (the end of
   a Connection: close response), so dead connections are swept off the queue first;
   otherwise the next accept would zero a slot still linked in the queue, losing the
   connections behind it or turning the queue into a cycle that spins the worker. */
HTTPD__PRIVATE void httpd__worker_recycle(httpd__worker *w);
HTTPD__PRIVATE void httpd__worker_end_turn(httpd__worker *w) {
    httpd__worker_timers(w);
    httpd__conn *q = w->queue;
    w->queue = NULL;
    while (q) {
        httpd__conn *next = q->next;
        q->next = NULL;
        q->flags &= (uint16_t)~HTTPD__F_QUEUED;
        if (q->state != HTTPD__S_DEAD) httpd__conn_drive(q);
        q = next;
    }
    httpd__worker_recycle(w);
}
HTTPD__PRIVATE void httpd__worker_recycle(httpd__worker *w) {
    if (!w->dead) return;
    for (httpd__conn **pp = &w->queue; *pp;) {
        httpd__conn *c = *pp;
        if (c->state == HTTPD__S_DEAD) {
            *pp = c->next;
            c->next = NULL;
            c->flags &= (uint16_t)~HTTPD__F_QUEUED;
        } else {
            pp = &c->next;
        }
    }
    while (w->dead) {
        httpd__conn *c = w->dead;
        w->dead = c->dnext;
        HTTPD_ASSERT(c->state == HTTPD__S_DEAD && !(c->flags & HTTPD__F_QUEUED));
        HTTPD_ASSERT(!c->timer.pprev);
        c->dnext = w->free_conns;
        w->free_conns = c;
    }
}
/* Blocked-worker detection: a worker that has not been back in epoll_wait for
   blocked_warn_ms is running something that blocks (sleep, disk, a lock, a long loop)
   and every connection it owns waits. Logged once per stall, naming the worker, within
   1.5 x blocked_warn_ms of its start. */
HTTPD__PRIVATE void *httpd__watchdog_main(void *arg) {
    httpd_server *s = (httpd_server *)arg;
    uint32_t limit = s->desc.blocked_warn_ms;
    int tick = (int)HTTPD__MIN(HTTPD__MAX(limit / 2, 10u), 1000u);  /* 2 polls/s at 1 s */
    struct pollfd pf = { s->exit.rd, POLLIN, 0 };
    while (HTTPD__LOAD(&s->running) > 0 && poll(&pf, 1, tick) <= 0) {
        uint64_t now = httpd__now_ms();
        for (int i = 0; i < s->nworkers; i++) {
            httpd__worker *w = &s->workers[i];
            uint64_t since = HTTPD__LOAD(&w->busy_since);
            if (!since || now < since + limit || since == w->blocked_seen) continue;
            w->blocked_seen = since;
            /* the callback holding it, if any: its route, in the warning and the metrics */
            uintptr_t cb = HTTPD__LOAD_RLX(&w->cb_route);
            const httpd__route *rt = (const httpd__route *)(cb & ~(uintptr_t)1);
#ifndef HTTPD_NO_MIDDLEWARE
            httpd__metrics *m = s->mw ? s->mw->met : NULL;
            if (m) {
                HTTPD__BUMP(&m->w[i].blocked, 1);
                if (cb) HTTPD__BUMP(&m->stalls[rt ? (size_t)(rt - s->router.routes)
                                                  : s->router.nroutes], 1);
            }
#endif
            (void)rt;                                  /* (HTTPD_NO_LOG_MESSAGES) */
            HTTPD__LOG(s, HTTPD_LOG_WARN, HTTPD_ERR_TIMEOUT, "worker %d blocked for %llu "
                       "ms%s%s%s%s: a handler or callback does not return to the event loop "
                       "(its connections wait); move blocking work to httpd_defer", i,
                       (unsigned long long)(now - since),
                       !cb ? "" : rt ? " in a callback of route " : " in a callback (no route)",
                       rt ? (rt->method ? rt->method : "*") : "", rt ? " " : "",
                       rt ? rt->pub->pattern : "");
        }
    }
    return NULL;
}
/* Pins the calling thread to CPU i mod the online CPUs (a mask of its own, through the
   system call, so that no GNU-only type is needed). */
HTTPD__PRIVATE void httpd__pin_thread(int i) {
#if HTTPD__LINUX && defined(SYS_sched_setaffinity) && !defined(HTTPD_NO_THREADS)
    /* (the BSDs: cpuset(2), not this; HTTPD_NO_THREADS refuses pin_workers: the one
       thread is the application's, to pin as it likes) */
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned long mask[1024 / (8 * sizeof(unsigned long))];
    unsigned nc = (unsigned)(ncpu > 0 ? (ncpu < 1024 ? ncpu : 1024) : 1);
    unsigned cpu = (unsigned)i - HTTPD__UDIV(i, nc) * nc;                  /* i mod nc */
    memset(mask, 0, sizeof mask);
    mask[cpu / (8 * sizeof(unsigned long))] |= 1ul << (cpu % (8 * sizeof(unsigned long)));
    syscall(SYS_sched_setaffinity, 0, sizeof mask, mask);    /* 0: this thread */
#else
    (void)i;
#endif
}
HTTPD__PRIVATE void *httpd__worker_main(void *arg) {
    httpd__worker *w = (httpd__worker *)arg;
    httpd_server *s = w->s;
    httpd__io_event ev[HTTPD__EVENTS];
#ifndef HTTPD_NO_MIDDLEWARE
    httpd__tls_worker = w;              /* httpd_metric_add from a handler */
#endif
    if (s->desc.pin_workers) httpd__pin_thread(w->index);
    w->now = httpd__now_ms();
    w->wheel.now = w->now;
    httpd__worker_tick_date(w);
    /* staggered: the workers' trims (and malloc_trim's arena locks) do not coincide */
    httpd__wheel_add(&w->wheel, &w->trim_timer,
                     w->now + HTTPD__TRIM_MS
                         + HTTPD__UDIV((uint32_t)w->index * HTTPD__TRIM_MS, s->nworkers));
    httpd__worker_listen(w, 1);
    if (HTTPD__LOAD(&s->stop)) httpd__worker_begin_stop(w, HTTPD__LOAD(&s->stop) == 1);
    /* requests the application still holds keep the loop alive until forced */
    while (!(w->stopping && w->nconns == 0
             && (w->held == 0 || (w->forced && w->now >= w->forced_at + s->desc.shutdown_timeout_ms)))) {
        int ms = httpd__wheel_sleep_ms(&w->wheel);
        if (w->queue) ms = 0;
        if (w->forced && (ms < 0 || ms > 100)) ms = 100;     /* watch the held requests */
        HTTPD__STORE(&w->busy_since, (uint64_t)0);
        HTTPD__STORE_RLX(&w->cb_route, (uintptr_t)0);
        int n = httpd__poll_wait(&w->poll, ev, HTTPD__EVENTS, ms);
        if (n < 0) {
            HTTPD__LOG(s, HTTPD_LOG_ERROR, HTTPD_ERR_SYS, "epoll_wait: %s", strerror(errno));
            break;
        }
        if (HTTPD__UNLIKELY(HTTPD__OPS(w))) httpd__mw_turn(w, 0);   /* timed (metrics) */
        else w->now = httpd__now_ms();
        HTTPD__STORE(&w->busy_since, w->now);
        httpd__worker_tick_date(w);
        httpd__worker_events(w, ev, n);
        httpd__worker_end_turn(w);
#ifdef HTTPD_NO_THREADS
        /* the blocking tasks queued so far, now, between turns (their completions come
           back through the mailbox, whose wake-up makes the next wait return at once) */
        for (uint32_t k = s->pool.queued; k && httpd__taskpool_step(&s->pool, 0); k--) {}
#endif
        if (HTTPD__UNLIKELY(HTTPD__OPS(w))) httpd__mw_turn(w, 1);
        if (!w->stopping && !w->accepting && !w->accept_timer.pprev
            && HTTPD__LOAD(&s->nconns) < s->desc.max_connections
            && (!w->max_slots || w->nconns < w->max_slots))
            httpd__worker_listen(w, 1);                        /* room again */
    }
    if (HTTPD__ADD(&s->running, -1) == 1) {                 /* the last one out says so */
        httpd__wakefd_signal(&s->exit);
    }
    return NULL;
}
HTTPD__PRIVATE void httpd__worker_free(httpd__worker *w) {
    void *ctx = w->s->desc.alloc_ctx;
    for (uint32_t i = 0; i < w->nslots; i++) {
        httpd__conn *c = HTTPD__SLOT(w, i);
        if (c->state != HTTPD__S_DEAD && c->w) {
            httpd__conn_release(c);
            if (c->fd >= 0) close(c->fd);
        }
    }
    /* late completions and posts (the pool is stopped by now): told CLOSED, freed; a
       timer still armed for an orphaned request fires the same way */
    if (w->mbox_inited) httpd__worker_mbox(w, 0);
    httpd__timer *t;
    while ((t = httpd__wheel_pop(&w->wheel, UINT64_MAX)) != NULL)
        if (t->fire == httpd__req_on_timer) t->fire(t, w);
    for (uint32_t i = 0; i < w->nchunks; i++) HTTPD_FREE(ctx, w->chunks[i]);
    HTTPD_FREE(ctx, w->chunks);                     /* the header fields with it */
    w->chunks = NULL;
    w->hdrs = NULL;
    while (w->free_reqs) {
        httpd__req *r = w->free_reqs;
        w->free_reqs = r->next_free;
        HTTPD_FREE(ctx, r);
    }
    httpd__pool_free(&w->pool);
#ifndef HTTPD_NO_WEBSOCKET
    HTTPD_FREE(ctx, w->ws_store);       /* preallocated WebSocket handles (all back) */
    w->ws_store = w->ws_spare = NULL;
#endif
#ifdef HTTPD_TLS_BEARSSL
    httpd__pool_free(&w->tls_mem);
    httpd__pool_free(&w->tls_buf);
#endif
    httpd__poll_free(&w->poll);
    if (w->mbox_inited) {
        httpd__mutex_destroy(&w->mbox_mu);
        w->mbox_inited = 0;
    }
    httpd__wakefd_close(&w->wake);
    httpd__mw_worker_free(w);           /* last: freeing the above may still log */
}
/* Everything but the thread: usable on its own by in-memory tests (poll and wake fds
   are created too, but nothing requires them). */
/* desc.preallocate: this worker's share of max_connections, all made now: the slots (one
   chunk), two blocks per slot (input and output) and one request per slot, plus one spare
   block and request (a request the application still holds after its client left keeps
   them), and a WebSocket handle per slot. (Task objects: the server's, >>pool.) From then on the pools never allocate: past them a connection waits in the
   kernel's backlog (the listener is not watched) and a request gets 503. Blocks do not
   grow, so output stops parsing pipelined requests at a quarter of a block. */
HTTPD__PRIVATE int httpd__worker_prealloc(httpd__worker *w) {
    httpd_server *s = w->s;
    void *ctx = s->desc.alloc_ctx;
#ifdef HTTPD_NO_THREADS
    uint32_t n = s->desc.max_connections;                  /* one worker: all of them */
#else
    uint32_t n = HTTPD__UDIV(s->desc.max_connections + (uint32_t)s->nworkers - 1, s->nworkers);
#endif
    if (n > (1u << w->cbits)) n = 1u << w->cbits;        /* one chunk (<= 1,024 slots) */
    w->chunks[0] = (httpd__conn *)HTTPD_MALLOC(ctx, (size_t)n * sizeof(httpd__conn));
    if (!w->chunks[0]) return HTTPD_ERR_NOMEM;
    w->nchunks = 1;
    w->max_slots = n;
    w->pool.keep = 2 * n + 1;
    for (uint32_t i = 0; i < 2 * n + 1; i++) {
        char *b = (char *)HTTPD_MALLOC(ctx, w->pool.block);
        if (!b) return HTTPD_ERR_NOMEM;
        httpd__pool_put(&w->pool, b, w->pool.block);
    }
    w->pool.fixed = 1;
    w->pool.low = w->pool.nfree;
    for (uint32_t i = 0; i < n + 1; i++) {
        httpd__req *r = (httpd__req *)HTTPD_MALLOC(ctx, sizeof(httpd__req) + HTTPD__ARENA_INLINE);
        if (!r) return HTTPD_ERR_NOMEM;
        r->next_free = w->free_reqs;
        w->free_reqs = r;
        w->nfree_reqs++;
    }
    w->low_reqs = w->nfree_reqs;
#ifndef HTTPD_NO_WEBSOCKET
    int rc = httpd__ws_prealloc(w, n);
    if (rc < 0) return rc;
#endif
    w->out_high = w->pool.block / 4;
    w->out_low = w->pool.block / 8;
    return 0;
}
HTTPD__PRIVATE int httpd__worker_init(httpd__worker *w, httpd_server *s, int index) {
    memset(w, 0, sizeof *w);
    w->s = s;
    w->index = index;
    httpd__poll_clear(&w->poll);
    w->wake.rd = w->wake.wr = -1;
    w->now = httpd__now_ms();
    httpd__wheel_init(&w->wheel, w->now);
    httpd__worker_tick_date(w);
    w->accept_timer.fire = httpd__worker_on_accept_timer;
    w->stop_timer.fire = httpd__worker_on_stop_timer;
    w->drain_timer.fire = httpd__worker_on_drain_timer;
    w->trim_timer.fire = httpd__worker_on_trim_timer;
    httpd__pool_init(&w->pool, s->desc.read_buffer_bytes, 64, s->desc.alloc_ctx);
#ifdef HTTPD_TLS_BEARSSL
    httpd__pool_init(&w->tls_mem, (uint32_t)sizeof(httpd__tls), 64, s->desc.alloc_ctx);
    w->tls_mem.wipe = 1;
    httpd__pool_init(&w->tls_buf, s->tls ? s->tls->buf_len : 4096, 64, s->desc.alloc_ctx);
#endif
    /* chunks of the next power of two >= max_connections (a worker may hold them all), at
       most 1,024: a 4-connection device allocates 4 slots, not 1,024 */
    while (w->cbits < HTTPD__CONN_CHUNK_BITS && (1u << w->cbits) < s->desc.max_connections)
        w->cbits++;
    w->max_chunks = (s->desc.max_connections >> w->cbits) + 1;
    /* one block: the chunk table, then the header fields of the head being parsed (both
       arrays of pointer-sized members: aligned) */
    w->chunks = (httpd__conn **)HTTPD_MALLOC(s->desc.alloc_ctx, w->max_chunks * sizeof *w->chunks
                                             + s->lim.max_headers * sizeof(httpd_header));
    if (!w->chunks) return HTTPD_ERR_NOMEM;
    w->hdrs = (httpd_header *)(void *)(w->chunks + w->max_chunks);
    w->head.headers = w->hdrs;
    w->out_high = HTTPD__OUT_HIGH;
    w->out_low = HTTPD__OUT_LOW;
    if (s->desc.preallocate) {
        int rc = httpd__worker_prealloc(w);
        if (rc < 0) return rc;
    }
    int rc = httpd__poll_init(&w->poll, s->desc.alloc_ctx);
    if (rc < 0) return rc;
    if (s->desc.preallocate) {      /* its slots, listeners and wake-up */
        rc = httpd__poll_reserve(&w->poll, (int)w->max_slots + 8, (int)s->desc.max_connections);
        if (rc < 0) return rc;
    }
#if !defined(HTTPD_NO_TASKS) || !defined(HTTPD_NO_WEBSOCKET)  /* (else no mailbox is used) */
    httpd__mutex_init(&w->mbox_mu);
    w->mbox_inited = 1;
#endif
    if ((rc = httpd__wakefd_open(&w->wake)) < 0) return rc;
    if ((rc = httpd__poll_add(&w->poll, w->wake.rd, &httpd__tag_wake, HTTPD__PK_WAKE)) < 0)
        return rc;
    return httpd__mw_worker_init(w);
}

/* ===================================================================== >>setup
   Before anything runs: the logger, error names, the configuration's defaults and
   checks (httpd__fill_defaults, httpd__server_init: what httpd_start refuses), and the
   listening sockets (httpd__bind: numeric or resolved addresses, SO_REUSEADDR, deferred
   accept on Linux). Called by >>public's httpd_start only; owns nothing after it returns. */
HTTPD_API void httpd_log_stderr(void *user_data, int level, int code, const char *msg,
                                const char *file, int line) {
    (void)user_data;
    if (level > HTTPD_LOG_WARN) return;
    const char *name = level == HTTPD_LOG_ERROR ? "error" : "warn";
    /* one call per line, straight to descriptor 2 (no stdio stream is linked in): the C
       library formats it whole and writes it at once, so lines from workers do not mix */
#ifdef HTTPD_NO_LOG_MESSAGES         /* records come without message or place: one form */
    (void)file; (void)line;
    dprintf(2, "httpd: %s:%s%s (code %d)\n", name, *msg ? " " : "", msg, code);
#else
    if (file) dprintf(2, "httpd: %s: %s (code %d) [%s:%d]\n", name, msg, code, file, line);
    else dprintf(2, "httpd: %s: %s (code %d)\n", name, msg, code);
#endif
}
#ifdef HTTPD_NO_LOG_MESSAGES
/* A record without its message (an empty one): the level and the code tell what
   happened (httpd_strerror(code) for a library error, else an HTTP status or 0). */
static void httpd__log_code(const httpd_server *s, int lvl, int code) {
    if (s && s->desc.logger.fn) s->desc.logger.fn(s->desc.logger.user_data, lvl, code, "", NULL, 0);
}
#else
static void httpd__log(const httpd_server *s, int lvl, int code, HTTPD__LOG_WHERE
                       const char *fmt, ...) {
#if !HTTPD_DEBUG
    const char *file = NULL;
    int line = 0;
#endif
    if (!s || !s->desc.logger.fn) return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s->desc.logger.fn(s->desc.logger.user_data, lvl, code, msg, file, line);
}
#endif
HTTPD_API const char *httpd_strerror(int err) {
    switch (err) {
#define HTTPD__ERR_CASE(name, value, text) case value: return text;
    HTTPD_ERRORS(HTTPD__ERR_CASE)
#undef HTTPD__ERR_CASE
    default: return "unknown error";
    }
}
/* The defaults of the 32-bit fields (uint32_t, and the ints backlog and task_threads): a
   table rather than a test and store each. Each default fits 16 bits (a larger one needs
   its own line in httpd__fill_defaults). */
#define HTTPD__DEF32(f, v) { (uint16_t)offsetof(httpd_desc, f), (uint16_t)(v) }
static const struct { uint16_t off, val; } httpd__defaults[] = {
    HTTPD__DEF32(backlog, 4096), HTTPD__DEF32(max_connections, 10000),
    HTTPD__DEF32(max_request_line, 8192), HTTPD__DEF32(max_header_bytes, 16384),
    HTTPD__DEF32(max_headers, 100), HTTPD__DEF32(read_buffer_bytes, 16384),
    HTTPD__DEF32(keepalive_timeout_ms, 60000), HTTPD__DEF32(header_timeout_ms, 30000),
    HTTPD__DEF32(body_timeout_ms, 30000), HTTPD__DEF32(body_min_rate, 240),
    HTTPD__DEF32(write_timeout_ms, 30000), HTTPD__DEF32(shutdown_timeout_ms, 10000),
    HTTPD__DEF32(request_timeout_ms, 60000),
    /* what a switch leaves out keeps its settings at 0 */
#ifndef HTTPD_NO_TASKS
    HTTPD__DEF32(task_threads, 4),
#endif
#if !defined(HTTPD_NO_THREADS) || !defined(HTTPD_NO_MIDDLEWARE)    /* watchdog, metrics */
    HTTPD__DEF32(blocked_warn_ms, 1000),
#endif
#ifndef HTTPD_NO_WEBSOCKET
    HTTPD__DEF32(ws_ping_interval_ms, 15000), HTTPD__DEF32(ws_timeout_ms, 45000),
#endif
#ifndef HTTPD_NO_MIDDLEWARE
    HTTPD__DEF32(proxy_timeout_ms, 5000),
#endif
};
#undef HTTPD__DEF32
HTTPD__PRIVATE void httpd__fill_defaults(httpd_desc *d) {
    for (size_t i = 0; i < HTTPD__COUNTOF(httpd__defaults); i++) {
        char *f = (char *)d + httpd__defaults[i].off;
        uint32_t v;
        memcpy(&v, f, sizeof v);              /* (an int or a uint32_t: same size) */
        if (!v) v = httpd__defaults[i].val;
        memcpy(f, &v, sizeof v);
    }
    if (!d->logger.fn) d->logger.fn = httpd_log_stderr;     /* errors are never silent */
    d->addr = HTTPD__DEF(d->addr, "127.0.0.1");
#ifdef HTTPD_NO_THREADS
    d->workers = HTTPD__DEF(d->workers, 1);          /* one thread: the caller's */
#else
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    d->workers = HTTPD__DEF(d->workers, (int)(ncpu > 0 ? ncpu : 1));
#endif
    d->max_body_bytes = HTTPD__DEF(d->max_body_bytes, (uint64_t)1 << 20);
#ifndef HTTPD_NO_WEBSOCKET
    d->ws_max_message_bytes = HTTPD__DEF(d->ws_max_message_bytes, (uint64_t)1 << 20);
#endif
#if !defined(HTTPD_NO_TASKS) || !defined(HTTPD_NO_WEBSOCKET)     /* (>>pool's users) */
    /* preallocated: enough task objects for every request a worker can hold at once */
    d->task_queue = HTTPD__DEF(d->task_queue, !d->preallocate ? 1024u
                               : d->max_connections + 2u * (uint32_t)d->workers);
#endif
}
/* Checks the configuration and compiles the routes; no sockets, no threads. */
HTTPD__PRIVATE int httpd__server_init(httpd_server *s, const httpd_desc *desc) {
    memset((void *)s, 0, sizeof *s);
    s->listen_fd = s->proxy_fd = -1;
#ifdef HTTPD_TLS_BEARSSL
    s->tls_fd = -1;
#endif
    s->exit.rd = s->exit.wr = -1;
    s->desc = *desc;
    httpd__fill_defaults(&s->desc);
    httpd_desc *d = &s->desc;
#ifndef HTTPD_NO_THREADS  /* for the watchdog and httpd_serve; with one thread nothing waits
                            for it (the loop's last signal to it writes to no descriptor) */
    if (httpd__wakefd_open(&s->exit) < 0) return HTTPD_ERR_SYS;
#endif
    if (d->workers < 1 || d->workers > 255 || d->max_header_bytes > (1u << 24)
        || d->max_request_line > d->max_header_bytes || d->max_headers > 100000
        || d->read_buffer_bytes > (1u << 30))
        return HTTPD_ERR_INVAL;
#ifndef HTTPD_NO_TASKS
    if (d->task_threads < 1 || d->task_threads > 1024) return HTTPD_ERR_INVAL;
#endif
    /* the access log (it has a thread and allocates) and metrics (they allocate); under
       HTTPD_NO_MIDDLEWARE httpd__mw_init refuses them anyway */
#ifdef HTTPD_NO_MIDDLEWARE
    int logs = 0, metrics = 0;
#else
    int logs = d->access_log.path || d->access_log.fn, metrics = d->metrics != NULL;
#endif
#ifdef HTTPD_TLS_BEARSSL
    int tls = d->tls != NULL;
#else
    int tls = 0;                         /* (refused below when asked for) */
#endif
#ifdef HTTPD_NO_THREADS
    if (d->workers != 1 || d->pin_workers || logs) {
        HTTPD__LOG(s, HTTPD_LOG_ERROR, HTTPD_ERR_INVAL, "HTTPD_NO_THREADS: one worker, no "
                   "pin_workers, no access log");
        return HTTPD_ERR_INVAL;
    }
#endif
    if (d->preallocate && (metrics || logs || tls
                           || d->max_connections > 1024u * (uint32_t)d->workers)) {
        HTTPD__LOG(s, HTTPD_LOG_ERROR, HTTPD_ERR_INVAL, "preallocate: at most 1,024 "
                   "connections per worker; no metrics, access log or TLS");
        return HTTPD_ERR_INVAL;
    }
    if (d->server_name) {                       /* one header line, kept ready */
        size_t n = strlen(d->server_name);
        if (!n || n > sizeof s->server_hdr - 11 || !httpd__is_ctl_free(d->server_name, 0))
            return HTTPD_ERR_INVAL;
        memcpy(s->server_hdr, "Server: ", 8);
        memcpy(s->server_hdr + 8, d->server_name, n);
        memcpy(s->server_hdr + 8 + n, "\r\n", 2);
        s->server_hdr_len = n + 10;
    }
    s->lim.max_request_line = d->max_request_line;
    s->lim.max_header_bytes = d->max_header_bytes;
    s->lim.max_headers = d->max_headers;
    /* room for the largest head plus some body after it (streamed bodies read there) */
    d->read_buffer_bytes = HTTPD__MAX(d->read_buffer_bytes, d->max_header_bytes + HTTPD__BODY_ROOM);
    int rc = httpd__router_init(&s->router, d->routes, d->max_body_bytes, d->alloc_ctx);
    if (rc < 0) return rc;
    if (d->tls) {
#ifdef HTTPD_TLS_BEARSSL
        const char *why;
        if (!(s->tls = httpd__tls_conf_new(d->tls, d->alloc_ctx, &rc, &why))) {
            HTTPD__LOG(s, HTTPD_LOG_ERROR, rc, "TLS configuration: %s", why);
            return rc;
        }
        d->tls = &s->tls->desc;                /* the copy, with defaults filled in */
#else
        HTTPD__LOG(s, HTTPD_LOG_ERROR, HTTPD_ERR_INVAL, "desc.tls: needs HTTPD_TLS_BEARSSL");
        return HTTPD_ERR_INVAL;
#endif
    }
    for (uint32_t i = 0; i < s->router.nroutes; i++) {
        int m = s->router.routes[i].method_id;
        if (m > 0) s->used_methods |= 1u << m;
#ifdef HTTPD_NO_STREAMING
        if (s->router.routes[i].pub->stream_body) {
            HTTPD__LOG(s, HTTPD_LOG_ERROR, HTTPD_ERR_INVAL, "route %s: stream_body, but "
                       "HTTPD_NO_STREAMING", s->router.routes[i].pub->pattern);
            return HTTPD_ERR_INVAL;
        }
#endif
#ifdef HTTPD_NO_SHED
        if (s->router.routes[i].pub->max_concurrent) {
            HTTPD__LOG(s, HTTPD_LOG_ERROR, HTTPD_ERR_INVAL, "route %s: max_concurrent, but "
                       "HTTPD_NO_SHED", s->router.routes[i].pub->pattern);
            return HTTPD_ERR_INVAL;
        }
#endif
    }
#ifdef HTTPD_NO_SHED
    if (d->max_inflight) {
        HTTPD__LOG(s, HTTPD_LOG_ERROR, HTTPD_ERR_INVAL, "max_inflight, but HTTPD_NO_SHED");
        return HTTPD_ERR_INVAL;
    }
#else
    if (s->router.nroutes) {
        size_t n = s->router.nroutes * sizeof *s->route_inflight;
        s->route_inflight = (HTTPD__ATOMIC(uint32_t) *)HTTPD_MALLOC(d->alloc_ctx, n);
        if (!s->route_inflight) return HTTPD_ERR_NOMEM;
        memset((void *)s->route_inflight, 0, n);
    }
#endif
    return httpd__mw_init(s);
}
/* A listening socket on addr:port_in; *fd and the bound port, or HTTPD_ERR_ADDR. */
HTTPD__PRIVATE int httpd__bind(httpd_server *s, const char *addr, uint16_t port_in, int *out,
                               int *bound) {
    const httpd_desc *d = &s->desc;
#ifdef HTTPD_NO_GETADDRINFO
    /* numeric addresses only ("localhost" too): no resolver linked in (a static glibc
       getaddrinfo is about 180 KB) */
    struct sockaddr_storage sa;
    struct { int ai_family; struct sockaddr *ai_addr; socklen_t ai_addrlen; } one_res, *res;
    memset(&sa, 0, sizeof sa);
    res = &one_res;
    res->ai_addr = (struct sockaddr *)&sa;
    struct sockaddr_in *v4 = (struct sockaddr_in *)(void *)&sa;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)(void *)&sa;
    if (strlen(addr) == 9 && !memcmp(addr, "localhost", 9))     /* (strcmp: one import more) */
        addr = "127.0.0.1";
    if (inet_pton(AF_INET, addr, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port_in);
        res->ai_addrlen = sizeof *v4;
    } else if (inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port_in);
        res->ai_addrlen = sizeof *v6;
    } else {
        HTTPD__LOG(s, HTTPD_LOG_ERROR, HTTPD_ERR_ADDR, "address %s: not numeric "
                   "(HTTPD_NO_GETADDRINFO)", addr);
        return HTTPD_ERR_ADDR;
    }
    res->ai_family = sa.ss_family;
#  define freeaddrinfo(r) ((void)(r))
#else
    struct addrinfo hints, *res = NULL;
    char port[8];
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(port, sizeof port, "%u", (unsigned)port_in);
    if (getaddrinfo(addr, port, &hints, &res) != 0 || !res) return HTTPD_ERR_ADDR;
#endif
#if HTTPD__LINUX
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
#else
    int fd = socket(res->ai_family, SOCK_STREAM, 0);
    if (fd >= 0 && httpd__cloexec_nonblock(fd) < 0) { close(fd); fd = -1; }
#endif
    if (fd < 0) { freeaddrinfo(res); return HTTPD_ERR_SYS; }
    /* deferred accept: the kernel hands a connection over when its first bytes arrive
       (the request is then read at once), but holds a silent one only for about a second
       or two of SYN-ACK retransmits, so the header timeout that counts from the accept
       closes it within header_timeout_ms + ~3 s of the TCP handshake */
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);   /* inherited by accept */
#if HTTPD__LINUX
    setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &one, sizeof one);      /* 1 s */
#endif                            /* (FreeBSD's accept filters need a kernel module) */
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, d->backlog) < 0) {
        HTTPD__LOG(s, HTTPD_LOG_ERROR, HTTPD_ERR_ADDR, "bind/listen %s:%u: %s", addr,
                   (unsigned)port_in, strerror(errno));
        close(fd);
        freeaddrinfo(res);
        return HTTPD_ERR_ADDR;
    }
    freeaddrinfo(res);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                            : ((struct sockaddr_in *)&ss)->sin_port);
    *out = fd;
    return 0;
}
#ifdef HTTPD_NO_GETADDRINFO
#  undef freeaddrinfo
#endif
/* The listeners: plaintext (unless TLS only), PROXY protocol, TLS; then checks of the
   system's limits. */
HTTPD__PRIVATE int httpd__listen(httpd_server *s) {
    const httpd_desc *d = &s->desc;
    int rc = 0;
#ifdef HTTPD_TLS_BEARSSL
    if (!d->tls || !d->tls->only)
#endif
        rc = httpd__bind(s, d->addr, d->port, &s->listen_fd, &s->port);
    if (rc == 0 && HTTPD__PROXYPROTO && d->proxy_protocol)   /* the PROXY listener */
        rc = httpd__bind(s, d->proxy_addr ? d->proxy_addr : d->addr, d->proxy_port,
                         &s->proxy_fd, &s->proxy_port);
#ifdef HTTPD_TLS_BEARSSL
    if (rc == 0 && d->tls)
        rc = httpd__bind(s, HTTPD__DEF(d->tls->addr, d->addr), d->tls->port, &s->tls_fd,
                         &s->tls_port);
#endif
    if (rc < 0) return rc;
#ifndef HTTPD_MINIMAL            /* (the firmware build leaves out these start-up hints) */
    /* say so when the kernel will cap the listen backlog (connections beyond it are
       refused or reset during bursts) or descriptors run short */
    FILE *f = fopen("/proc/sys/net/core/somaxconn", "r");
    int somax = 0;
    if (f) { if (fscanf(f, "%d", &somax) != 1) somax = 0; fclose(f); }
    if (somax > 0 && d->backlog > somax)
        HTTPD__LOG(s, HTTPD_LOG_WARN, 0, "backlog %d is above net.core.somaxconn %d: the "
                   "kernel uses %d", d->backlog, somax, somax);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
        && rl.rlim_cur < (rlim_t)d->max_connections + 64)
        HTTPD__LOG(s, HTTPD_LOG_WARN, 0, "open-file limit %lu is below max_connections %u "
                   "+ 64: raise ulimit -n", (unsigned long)rl.rlim_cur, d->max_connections);
#endif
    return 0;
}
/* ==================================================================== >>public
   The server's lifetime: httpd_start -> httpd_stop -> httpd_wait -> httpd_destroy, the
   blocking forms httpd_serve and httpd_run (signals: SIGINT/SIGTERM stop gracefully),
   and the small getters. Owner: the application's thread; httpd_stop from any thread
   or a signal handler. */
/* Everything the server holds but the object itself (which httpd_destroy frees). */
HTTPD__PRIVATE void httpd__server_release(httpd_server *s) {
    void *ctx = s->desc.alloc_ctx;
    httpd__taskpool_free(&s->pool);          /* first: completions land in the mailboxes */
    if (s->workers) {
        for (int i = 0; i < s->nworkers; i++) httpd__worker_free(&s->workers[i]);
        HTTPD_FREE(ctx, s->workers);
        s->workers = NULL;
    }
    httpd__taskpool_release(&s->pool);       /* after the mailboxes gave their tasks back */
    s->nworkers = 0;
    httpd__close_listeners(s);
#ifndef HTTPD_NO_THREADS
    httpd__wakefd_close(&s->exit);
#endif
    httpd__mw_free(s);                     /* after the workers: writes the last log lines */
#ifdef HTTPD_TLS_BEARSSL
    httpd__tls_conf_free(s->tls);
    s->tls = NULL;
#endif
    httpd__router_free(&s->router, ctx);
    HTTPD_FREE(ctx, (void *)s->route_inflight);
    s->route_inflight = NULL;
}
HTTPD__PRIVATE void httpd__server_free(httpd_server *s) {
    httpd__server_release(s);
    HTTPD_FREE(s->desc.alloc_ctx, s);
}
HTTPD_API int httpd_start(const httpd_desc *desc, httpd_server **out) {
    if (!desc || !out) return HTTPD_ERR_INVAL;
    *out = NULL;
    httpd_server *s = (httpd_server *)HTTPD_MALLOC(desc->alloc_ctx, sizeof *s);
    if (!s) return HTTPD_ERR_NOMEM;
    int rc = httpd__server_init(s, desc);
    if (rc < 0) goto fail;
    if ((rc = httpd__listen(s)) < 0) goto fail;
    rc = HTTPD_ERR_NOMEM;
    s->workers = (httpd__worker *)HTTPD_MALLOC(s->desc.alloc_ctx,
                                               (size_t)s->desc.workers * sizeof *s->workers);
    if (!s->workers) goto fail;
    for (int i = 0; i < s->desc.workers; i++) {
        s->nworkers = i + 1;
        if ((rc = httpd__worker_init(&s->workers[i], s, i)) < 0) goto fail;
    }
    HTTPD__STORE(&s->listeners_left, s->nworkers);
    sigset_t all, old;                /* signals go to the application's threads, not ours */
    httpd__sigfill(&all);
    httpd__sigmask(SIG_BLOCK, &all, &old);
    rc = httpd__taskpool_start(&s->pool, s->desc.task_threads, s->desc.task_queue,
                               s->desc.alloc_ctx);
    if (rc == 0 && s->desc.preallocate)
        rc = httpd__taskpool_prealloc(&s->pool, s->desc.task_queue);
    if (rc < 0) {
        httpd__sigmask(SIG_SETMASK, &old, NULL);
        goto fail;
    }
#ifdef HTTPD_NO_THREADS
    HTTPD__ADJ(&s->running, 1);             /* the loop runs in httpd_serve / httpd_wait */
#else
    for (int i = 0; i < s->nworkers; i++) {
        HTTPD__ADJ(&s->running, 1);
        if (httpd__thread_start(&s->workers[i].thread, httpd__worker_main, &s->workers[i])) {
            HTTPD__ADJ(&s->running, -1);
            httpd__sigmask(SIG_SETMASK, &old, NULL);
            httpd_destroy(s);                        /* stops and waits for the others */
            return HTTPD_ERR_SYS;
        }
        s->workers[i].started = 1;
    }
    if (s->desc.logger.fn && s->desc.blocked_warn_ms != HTTPD_NO_TIMEOUT)
        s->watchdog_started = !httpd__thread_start(&s->watchdog, httpd__watchdog_main, s);
#endif
#ifndef HTTPD_NO_MIDDLEWARE
    if (s->mw && s->mw->log) httpd__logw_run(s->mw->log);
#endif
    httpd__sigmask(SIG_SETMASK, &old, NULL);
    *out = s;
    return 0;
fail:
    httpd__server_free(s);
    return rc;
}
HTTPD_API int httpd_port(const httpd_server *s) { return s ? s->port : -1; }
HTTPD_API int httpd_proxy_port(const httpd_server *s) {
    return s && s->desc.proxy_protocol ? s->proxy_port : -1;
}
HTTPD_API int httpd_tls_port(const httpd_server *s) {
#ifdef HTTPD_TLS_BEARSSL
    return s && s->desc.tls ? s->tls_port : -1;
#else
    (void)s;
    return -1;
#endif
}
HTTPD_API int httpd_tls_get_info(const httpd_request *req, httpd_tls_info *info) {
    memset(info, 0, sizeof *info);
#ifdef HTTPD_TLS_BEARSSL
    const httpd__conn *c = req ? ((const httpd__req *)req)->conn : NULL;
    if (!c || !c->tls) return 0;
    const br_ssl_engine_context *e = &c->tls->sc.eng;
    br_ssl_session_parameters sp;
    br_ssl_engine_get_session_parameters(e, &sp);
    info->version = "TLSv1.2";
    info->cipher = httpd__tls_suite_name(sp.cipher_suite);
    info->server_name = br_ssl_engine_get_server_name(e);
    info->alpn = br_ssl_engine_get_selected_protocol((br_ssl_engine_context *)(uintptr_t)e);
    info->resumed = c->tls->ready && !c->tls->chose;
    info->cert = c->tls->cert;
    return 1;
#else
    (void)req;
    return 0;
#endif
}
HTTPD_API httpd_desc httpd_query_desc(const httpd_server *s) { return s->desc; }
HTTPD_API int httpd_stopping(const httpd_server *s) { return HTTPD__LOAD(&s->stop) != 0; }
HTTPD_API void httpd_ready(httpd_request *req) {
    if (httpd_stopping(req->server)) {
        httpd_add_header(req, "Retry-After", "1");
        httpd_respond(req, 503, "text/plain", "stopping\n", 9);
    } else {
        httpd_respond(req, 200, "text/plain", "ready\n", 6);
    }
}
HTTPD_API void httpd_stop(httpd_server *s, int graceful) {
    if (!s) return;
    int want = graceful ? 1 : 2, cur = HTTPD__LOAD(&s->stop);
    for (;;) {                                   /* only ever raise: 0 -> 1 -> 2 */
        if (cur >= want) return;
        if (HTTPD__CAS(&s->stop, &cur, want)) break;
    }
    if (!httpd__gate_enter(s)) return;             /* httpd_wait: the workers are gone */
    for (int i = 0; i < s->nworkers; i++)          /* write(2): async-signal-safe */
        httpd__wakefd_signal(&s->workers[i].wake);
    httpd__gate_leave(s);
}
HTTPD_API int httpd_wait(httpd_server *s) {
    if (!s) return HTTPD_ERR_INVAL;
    if (HTTPD__LOAD_SC(&s->gate_closed)) return HTTPD_ERR_STATE;       /* waited already */
#ifdef HTTPD_NO_THREADS
    if (!s->workers[0].started) {                 /* the loop, here, until it stops */
        s->workers[0].started = 1;
        httpd__worker_main(&s->workers[0]);
    }
#else
    for (int i = 0; i < s->nworkers; i++)
        if (s->workers[i].started) httpd__thread_join(s->workers[i].thread);
    if (s->watchdog_started) httpd__thread_join(s->watchdog);   /* s->exit woke it */
    s->watchdog_started = 0;
#endif
    httpd__gate_close(s);                   /* from here other threads' calls fail */
    httpd__server_release(s);
    return 0;
}
HTTPD_API void httpd_destroy(httpd_server *s) {
    if (!s) return;
    if (!HTTPD__LOAD_SC(&s->gate_closed)) {
        httpd_stop(s, 0);
        httpd_wait(s);
    }
    HTTPD_FREE(s->desc.alloc_ctx, s);
}
#ifdef HTTPD_NO_THREADS
/* One thread: the loop runs in httpd_serve/httpd_run, so SIGINT/SIGTERM come through
   handlers that only call httpd_stop (async-signal-safe: atomics and a write to the
   wake-up). httpd_run installs them before the start instead of blocking the signals: one
   that comes before the server exists is counted, and applied once it does. */
static httpd_server *volatile httpd__sig_server;
static volatile sig_atomic_t httpd__sig_count;
static void httpd__on_signal(int sig) {
    int n = ++httpd__sig_count;
    httpd_server *s = httpd__sig_server;
    (void)sig;
    if (s) httpd_stop(s, n == 1);                 /* the first graceful, then at once */
}
HTTPD__PRIVATE void httpd__sig_install(struct sigaction old[2]) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = httpd__on_signal;
    sigemptyset(&sa.sa_mask);
    httpd__sig_count = 0;
    sigaction(SIGINT, &sa, &old[0]);
    sigaction(SIGTERM, &sa, &old[1]);
}
HTTPD__PRIVATE void httpd__sig_restore(const struct sigaction old[2]) {
    sigaction(SIGINT, &old[0], NULL);
    sigaction(SIGTERM, &old[1], NULL);
}
/* The loop, with the handlers installed; signals counted before s was known stop it now
   (the handler counts first, then reads httpd__sig_server: none is missed). */
HTTPD__PRIVATE int httpd__sig_serve(httpd_server *s) {
    httpd__sig_server = s;
    if (httpd__sig_count) httpd_stop(s, httpd__sig_count == 1);
    int rc = httpd_wait(s);
    httpd__sig_server = NULL;
    return rc;
}
HTTPD_API int httpd_serve(httpd_server *s) {
    struct sigaction old[2];
    sigset_t set, mask;
    httpd__sig_install(old);
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_UNBLOCK, &set, &mask);   /* the caller may have blocked them (start) */
    int rc = httpd__sig_serve(s);
    sigprocmask(SIG_SETMASK, &mask, NULL);
    httpd__sig_restore(old);
    return rc;
}
HTTPD_API int httpd_run(const httpd_desc *desc) {
    struct sigaction old[2];
    httpd_server *s;
    httpd__sig_install(old);                 /* before the start: none slips through */
    int rc = httpd_start(desc, &s);
    if (rc >= 0) {
        rc = httpd__sig_serve(s);
        HTTPD_FREE(s->desc.alloc_ctx, s);   /* waited: the object is all that is left */
    }
    httpd__sig_restore(old);
    return rc;
}
#else
HTTPD_API int httpd_serve(httpd_server *s) {
    sigset_t set, old;
    int hup = s->desc.access_log.path && strcmp(s->desc.access_log.path, "-");
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (hup) sigaddset(&set, SIGHUP);            /* logrotate: reopen the access log */
    httpd__sigmask(SIG_BLOCK, &set, &old);      /* workers have them blocked already */
    /* sleep in poll() on a signalfd and the server's exit eventfd: no periodic wake-up.
       Without a descriptor for the signalfd (EMFILE: the workers may have taken the last
       ones already), and where there is no signalfd, wait for the exit descriptor 100 ms
       at a time and take the signals that came meanwhile (sigpending, then sigwait). */
#if HTTPD__LINUX
    int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
#else
    int sfd = -1;
#endif
    int signals = 0;
    while (HTTPD__LOAD(&s->running) > 0) {
        int sig = 0;
        if (sfd >= 0) {
#if HTTPD__LINUX
            struct pollfd pf[2] = { { s->exit.rd, POLLIN, 0 }, { sfd, POLLIN, 0 } };
            struct signalfd_siginfo si;
            if (poll(pf, 2, -1) > 0 && (pf[1].revents & POLLIN)
                && read(sfd, &si, sizeof si) == (ssize_t)sizeof si)
                sig = (int)si.ssi_signo;
#endif
        } else {
            struct pollfd pf = { s->exit.rd, POLLIN, 0 };
            sigset_t pend;
            if (poll(&pf, 1, 100) == 0 && sigpending(&pend) == 0
                && (sigismember(&pend, SIGINT) == 1 || sigismember(&pend, SIGTERM) == 1
                    || (hup && sigismember(&pend, SIGHUP) == 1))
                && sigwait(&set, &sig) != 0)
                sig = 0;
        }
        if (sig <= 0) continue;
#ifndef HTTPD_NO_MIDDLEWARE
        if (sig == SIGHUP) { httpd_log_reopen(s); continue; }
#endif
        signals++;
        HTTPD__LOG(s, HTTPD_LOG_INFO, 0, "signal %d: %s stop", sig,
                   signals == 1 ? "graceful" : "immediate");
        httpd_stop(s, signals == 1);
    }
    if (sfd >= 0) close(sfd);
    int rc = httpd_wait(s);
    httpd__sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}
HTTPD_API int httpd_run(const httpd_desc *desc) {
    sigset_t set, old;                 /* blocked before the start: none can slip through */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (desc && desc->access_log.path && strcmp(desc->access_log.path, "-"))
        sigaddset(&set, SIGHUP);
    httpd__sigmask(SIG_BLOCK, &set, &old);
    httpd_server *s;
    int rc = httpd_start(desc, &s);
    if (rc >= 0) {
        rc = httpd_serve(s);
        httpd_destroy(s);
    }
    httpd__sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}
#endif /* HTTPD_NO_THREADS */

/* ==================================================================== >>params
   What handlers read from a request: header fields, route parameters, the query string
   and urlencoded forms (percent-decoded into the request's arena on demand), and the
   multipart reader's entry. Worker thread, while the request is live. */
HTTPD_API int httpd_str_eq(httpd_str s, const char *cstr) {
    size_t n = strlen(cstr);
    return s.ptr && s.len == n && memcmp(s.ptr, cstr, n) == 0;
}
HTTPD_API httpd_str httpd_get_header(const httpd_request *req, const char *name) {
    httpd_str none = { NULL, 0 };
    size_t n = strlen(name);
    for (int i = 0; i < req->header_count; i++)
        if (httpd__ieq2(req->headers[i].name.ptr, req->headers[i].name.len, name, n))
            return req->headers[i].value;
    return none;
}
/* Percent-decodes s into the request's arena ('+' as space when form is set). */
HTTPD__PRIVATE httpd_str httpd__decode(httpd__req *r, httpd_str s, int form) {
    httpd_str none = { NULL, 0 };
    if (!memchr(s.ptr, '%', s.len) && !(form && memchr(s.ptr, '+', s.len))) return s;
    char *d = (char *)httpd__arena_alloc(r, s.len + 1);
    if (!d) return none;
    size_t o = 0;
    for (size_t i = 0; i < s.len; i++) {
        int hi, lo;
        if (s.ptr[i] == '%' && i + 2 < s.len
            && (hi = httpd__hexval((unsigned char)s.ptr[i + 1])) >= 0
            && (lo = httpd__hexval((unsigned char)s.ptr[i + 2])) >= 0) {
            d[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            d[o++] = form && s.ptr[i] == '+' ? ' ' : s.ptr[i];
        }
    }
    d[o] = 0;
    httpd_str out = { d, o };
    return out;
}
HTTPD_API httpd_str httpd_param(httpd_request *req, const char *name) {
    httpd__req *r = (httpd__req *)req;
    httpd_str none = { NULL, 0 };
    size_t n = strlen(name);
    for (int i = 0; i < r->nparams; i++)
        if (r->params[i].name_len == n && !memcmp(r->params[i].name, name, n))
            return httpd__decode(r, r->params[i].value, 0);
    return none;
}
/* The first `name` field of an urlencoded list "a=1&b=2" (WHATWG URL §5.1), decoded. */
HTTPD__PRIVATE httpd_str httpd__urlencoded_find(httpd__req *r, httpd_str list, const char *name) {
    httpd_str none = { NULL, 0 };
    size_t n = strlen(name);
    const char *p = list.ptr, *end = p ? p + list.len : NULL;
    while (p && p < end) {
        const char *amp = (const char *)memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        const char *eq = (const char *)memchr(p, '=', (size_t)(e - p));
        const char *ke = eq ? eq : e;
        httpd_str key = { p, (size_t)(ke - p) };
        httpd_str k = httpd__decode(r, key, 1);
        if (k.ptr && k.len == n && !memcmp(k.ptr, name, n)) {
            httpd_str v = { eq ? eq + 1 : e, eq ? (size_t)(e - eq - 1) : 0 };
            return httpd__decode(r, v, 1);
        }
        p = e + 1;
    }
    return none;
}
HTTPD_API httpd_str httpd_query_param(httpd_request *req, const char *name) {
    return httpd__urlencoded_find((httpd__req *)req, req->query, name);
}
/* The request's Content-Type is the media type `type` (lower case), parameters aside. */
HTTPD__PRIVATE int httpd__content_type_is(const httpd_request *req, const char *type) {
    httpd_str ct = httpd_get_header(req, "Content-Type");
    size_t l = strlen(type);
    return ct.ptr && ct.len >= l && httpd__ieq(ct.ptr, type, l)
        && (ct.len == l || ct.ptr[l] == ';' || ct.ptr[l] == ' ' || ct.ptr[l] == '\t');
}
HTTPD_API httpd_str httpd_form_param(httpd_request *req, const char *name) {
    httpd_str none = { NULL, 0 };
    if (!httpd__content_type_is(req, "application/x-www-form-urlencoded")) return none;
    return httpd__urlencoded_find((httpd__req *)req, req->body, name);
}
#ifndef HTTPD_NO_MULTIPART
HTTPD_API httpd_multipart *httpd_multipart_begin(httpd_request *req,
                                                 const httpd_multipart_limits *lim,
                                                 httpd_part_fn fn, void *arg) {
    if (!req || !fn || !httpd__content_type_is(req, "multipart/form-data")) return NULL;
    httpd_str ct = httpd_get_header(req, "Content-Type");
    size_t hcap = lim && lim->max_header_bytes ? lim->max_header_bytes : 4096;
    httpd_multipart *m = (httpd_multipart *)httpd__arena_alloc((httpd__req *)req,
                                                               sizeof *m + hcap);
    if (!m || httpd_multipart_init(m, ct, lim, (char *)(m + 1), hcap, fn, arg) < 0) return NULL;
    return m;
}
#endif
#ifndef HTTPD_NO_STATIC
/* =============================================================== >>static_path
   Safe paths for >>static: the request path checked and decoded once, then opened beneath
   the mount's root descriptor, and the MIME type table. Built on >>params; no state but
   a process-wide note that openat2 is missing (any thread; a benign race).
   Invariant: nothing outside the root is ever opened. The kernel enforces it with
   openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS [| RESOLVE_NO_SYMLINKS]) (Linux 5.6+);
   elsewhere (ENOSYS, or a seccomp filter answering EPERM) a walk opens one name at a
   time with O_NOFOLLOW beneath the directory before it, holding each directory's
   descriptor, and follows a link (when allowed) by splicing its target into the rest of
   the path: an absolute target or a ".." above the root stops the walk (EXDEV), like the
   kernel's RESOLVE_BENEATH. Files are opened O_NONBLOCK (a FIFO never blocks the worker)
   and checked to be regular by the caller. Cost: one openat2 per request, or one openat
   per path segment. Tests wrap HTTPD__SYS_OPENAT/HTTPD__SYS_OPENAT2 to record every
   descriptor opened (fuzz/fuzz_static.c). */
#define HTTPD__STATIC_PATH_MAX 4096    /* bytes of a decoded relative path              */
#define HTTPD__STATIC_DEPTH 32         /* directories held open by the walk             */
#define HTTPD__STATIC_LINKS 40         /* links followed per path (the kernel's limit)  */
#ifdef O_PATH                          /* the walk's directories: search, never read    */
#  define HTTPD__O_SEARCH O_PATH
#else                                  /* (O_PATH needs _GNU_SOURCE: after system headers
                                          in default mode, read permission it is)       */
#  define HTTPD__O_SEARCH O_RDONLY
#endif
#ifndef HTTPD__SYS_OPENAT
#  define HTTPD__SYS_OPENAT(dir, path, flags) openat((dir), (path), (flags))
#endif
#if !defined(SYS_openat2) && defined(__NR_openat2)
#  define SYS_openat2 __NR_openat2
#endif
typedef struct httpd__open_how { uint64_t flags, mode, resolve; } httpd__open_how;
#ifndef HTTPD__SYS_OPENAT2
#  ifdef SYS_openat2
#    define HTTPD__SYS_OPENAT2(dir, path, how) \
         ((int)syscall(SYS_openat2, (dir), (path), (how), sizeof(httpd__open_how)))
#  else
#    define HTTPD__SYS_OPENAT2(dir, path, how) ((void)(dir), (void)(path), (void)(how), \
                                                errno = ENOSYS, -1)
#  endif
#endif
static HTTPD__ATOMIC(int) httpd__openat2_missing;   /* 1: use the walk */

/* One path segment (s[0..n), n > 0) is a name we serve: not "." or "..", no control byte,
   backslash or invalid UTF-8 (RFC 3629: no overlong forms, surrogates or > U+10FFFF), not
   hidden unless allowed. 0, -400 (refused as malformed), -404 (hidden). */
HTTPD__PRIVATE int httpd__static_seg(const unsigned char *s, size_t n, int hidden) {
    if (n > 255) return -404;                                   /* NAME_MAX */
    if (s[0] == '.' && (n == 1 || (n == 2 && s[1] == '.'))) return -400;
    for (size_t i = 0; i < n;) {
        unsigned c = s[i], k, lo = 0x80, hi = 0xbf;
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f || c == '\\') return -400;
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) k = 1;
        else if (c >= 0xe0 && c <= 0xef) {
            k = 2;
            if (c == 0xe0) lo = 0xa0;                   /* overlong */
            if (c == 0xed) hi = 0x9f;                   /* UTF-16 surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 3;
            if (c == 0xf0) lo = 0x90;                   /* overlong */
            if (c == 0xf4) hi = 0x8f;                   /* above U+10FFFF */
        }
        else return -400;                         /* C0, C1 (overlong), F5+, a lone tail */
        if (n - i <= k || s[i + 1] < lo || s[i + 1] > hi) return -400;
        for (unsigned j = 2; j <= k; j++)
            if ((s[i + j] & 0xc0) != 0x80) return -400;
        i += k + 1;
    }
    return s[0] == '.' && !hidden ? -404 : 0;
}
/* The route's "*" as the router left it (percent-decoded except %2F and %25, dot segments
   removed) -> a relative path in out[0..cap), NUL-terminated: %25 and any escape still
   there decoded exactly once (never twice: "%252e" stays the name "%2e"), every segment
   checked, an encoded '/' or NUL, a leading '/' (absolute) and an empty segment refused.
   *dir: it ends in '/' or is empty (a directory is asked for). Returns the length, or
   -400 / -404. */
HTTPD__PRIVATE long httpd__static_clean(const char *in, size_t n, char *out, size_t cap,
                                        int hidden, int *dir) {
    size_t o = 0, seg = 0;
    *dir = 1;
    if (n && in[0] == '/') return -400;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)in[i];
        if (c == '/') {
            if (o == seg) return -400;                          /* "a//b" */
            int rc = httpd__static_seg((const unsigned char *)out + seg, o - seg, hidden);
            if (rc) return rc;
            if (o + 1 >= cap) return -404;
            out[o++] = '/';
            seg = o;
            continue;
        }
        if (c == '%') {
            int hi = n - i > 2 ? httpd__hexval((unsigned char)in[i + 1]) : -1;
            int lo = hi < 0 ? -1 : httpd__hexval((unsigned char)in[i + 2]);
            if (lo < 0) return -400;
            c = hi * 16 + lo;
            if (c == '/' || c == 0) return -400;                /* encoded slash, NUL */
            i += 2;
        }
        if (o + 1 >= cap) return -404;
        out[o++] = (char)c;
    }
    if (o > seg) {
        int rc = httpd__static_seg((const unsigned char *)out + seg, o - seg, hidden);
        if (rc) return rc;
        *dir = 0;
    }
    out[o] = 0;
    return (long)o;
}
/* The walk for kernels without openat2: see the banner. A descriptor or -errno. */
HTTPD__PRIVATE int httpd__static_walk(int root, const char *path, int follow, int flags) {
    char buf[HTTPD__STATIC_PATH_MAX], tmp[HTTPD__STATIC_PATH_MAX];
    int stack[HTTPD__STATIC_DEPTH], depth = 0, links = 0, fd = -1, err = ENOENT;
    size_t n = strlen(path);
    if (n >= sizeof buf) return -ENAMETOOLONG;
    memcpy(buf, path, n + 1);
    char *p = buf;
    for (;;) {
        int cur = depth ? stack[depth - 1] : root;
        while (*p == '/') p++;
        if (!*p) {                                 /* no name left: the directory itself */
            fd = HTTPD__SYS_OPENAT(cur, ".", flags);
            err = errno;
            break;
        }
        char *e = p;
        while (*e && *e != '/') e++;
        char *rest = e;
        while (*rest == '/') rest++;
        size_t len = (size_t)(e - p);
        if (len == 1 && p[0] == '.') { p = rest; continue; }
        if (len == 2 && p[0] == '.' && p[1] == '.') {     /* only from a link's target */
            if (!depth) { err = EXDEV; break; }           /* above the root */
            close(stack[--depth]);
            p = rest;
            continue;
        }
        *e = 0;
        if (!*rest) {                              /* the last name */
            fd = HTTPD__SYS_OPENAT(cur, p, flags | O_NOFOLLOW);
            if (fd >= 0) break;
            err = errno;
            if (!follow || err != ELOOP) break;
        } else {
            fd = HTTPD__SYS_OPENAT(cur, p, HTTPD__O_SEARCH | O_DIRECTORY | O_NOFOLLOW
                                               | O_CLOEXEC);
            if (fd >= 0) {
                if (depth == HTTPD__STATIC_DEPTH) { close(fd); fd = -1; err = ENAMETOOLONG; break; }
                stack[depth++] = fd;
                fd = -1;
                p = rest;
                continue;
            }
            err = errno;
            if (!follow || (err != ENOTDIR && err != ELOOP)) break;
        }
        /* a symbolic link (readlinkat fails on anything else): target + "/" + rest */
        ssize_t tl = readlinkat(cur, p, tmp, sizeof tmp - 1);
        if (tl <= 0) break;                                   /* not a link: err stands */
        if (tmp[0] == '/') { err = EXDEV; break; }            /* absolute: never beneath */
        if (++links > HTTPD__STATIC_LINKS) { err = ELOOP; break; }
        size_t rl = strlen(rest);
        if ((size_t)tl + 1 + rl >= sizeof buf) { err = ENAMETOOLONG; break; }
        tmp[tl] = '/';
        memcpy(tmp + tl + 1, rest, rl + 1);
        memcpy(buf, tmp, (size_t)tl + 2 + rl);
        p = buf;
    }
    while (depth) close(stack[--depth]);
    return fd >= 0 ? fd : -err;
}
/* Opens path ("" or "." for the root itself) beneath root for reading: a descriptor
   (O_NONBLOCK, O_CLOEXEC) or -errno. Symbolic links: refused, or followed while they stay
   beneath root. */
HTTPD__PRIVATE int httpd__static_openat(int root, const char *path, int follow) {
    int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
    if (!path[0]) path = ".";
    if (!HTTPD__LOAD(&httpd__openat2_missing)) {
        httpd__open_how how;
        memset(&how, 0, sizeof how);
        how.flags = (uint64_t)flags;
        how.resolve = 0x08 | 0x02 | (follow ? 0 : 0x04);  /* BENEATH, NO_MAGICLINKS, NO_SYMLINKS */
        for (int tries = 0; tries < 4; tries++) {   /* EAGAIN: a rename raced the lookup */
            int fd = HTTPD__SYS_OPENAT2(root, path, &how);
            if (fd >= 0) return fd;
            if (errno != EAGAIN) break;
        }
        if (errno != ENOSYS && errno != EPERM) return -errno;
        HTTPD__STORE(&httpd__openat2_missing, 1);   /* old kernel or a seccomp filter */
    }
    return httpd__static_walk(root, path, follow, flags);
}

/* MIME types by extension (the last segment's, after its last '.', any case). Text types
   say UTF-8 so that a browser never guesses the charset. */
static const char *const httpd__mime_table[][2] = {
    { "html", "text/html; charset=utf-8" },     { "htm", "text/html; charset=utf-8" },
    { "css", "text/css; charset=utf-8" },       { "js", "text/javascript; charset=utf-8" },
    { "mjs", "text/javascript; charset=utf-8" }, { "json", "application/json" },
    { "map", "application/json" },              { "txt", "text/plain; charset=utf-8" },
    { "webmanifest", "application/manifest+json" }, { "xml", "application/xml" },
    { "csv", "text/csv; charset=utf-8" },       { "md", "text/markdown; charset=utf-8" },
    { "svg", "image/svg+xml" },                 { "png", "image/png" },
    { "jpg", "image/jpeg" },                    { "jpeg", "image/jpeg" },
    { "gif", "image/gif" },                     { "webp", "image/webp" },
    { "avif", "image/avif" },                   { "ico", "image/x-icon" },
    { "bmp", "image/bmp" },                     { "woff", "font/woff" },
    { "woff2", "font/woff2" },                  { "ttf", "font/ttf" },
    { "otf", "font/otf" },                      { "wasm", "application/wasm" },
    { "pdf", "application/pdf" },               { "zip", "application/zip" },
    { "gz", "application/gzip" },               { "tar", "application/x-tar" },
    { "mp4", "video/mp4" },                     { "webm", "video/webm" },
    { "mp3", "audio/mpeg" },                    { "ogg", "audio/ogg" },
    { "wav", "audio/wav" },
};
HTTPD__PRIVATE const char *httpd__static_mime(const httpd_mime *user, const char *path,
                                              size_t n) {
    size_t i = n;
    while (i > 0 && path[i - 1] != '.' && path[i - 1] != '/') i--;
    if (i == 0 || path[i - 1] != '.') return "application/octet-stream";
    const char *ext = path + i;
    size_t el = n - i;
    for (const httpd_mime *u = user; u && u->ext; u++) {
        const char *x = u->ext + (u->ext[0] == '.');
        if (httpd__ieq2(ext, el, x, strlen(x))) return u->type;
    }
    for (size_t k = 0; k < HTTPD__COUNTOF(httpd__mime_table); k++)
        if (httpd__ieq2(ext, el, httpd__mime_table[k][0], strlen(httpd__mime_table[k][0])))
            return httpd__mime_table[k][1];
    return "application/octet-stream";
}
/* Worth a precompressed variant: text and the text-like formats (not images, fonts in
   WOFF, archives: they are compressed already). */
HTTPD__PRIVATE int httpd__static_compressible(const char *type) {
    static const char *const t[] = { "text/", "application/json", "application/javascript",
        "application/xml", "application/manifest+json", "application/wasm", "image/svg+xml",
        "font/ttf", "font/otf", "image/x-icon", "image/bmp" };
    for (size_t k = 0; k < HTTPD__COUNTOF(t); k++)
        if (!strncmp(type, t[k], strlen(t[k]))) return 1;
    return 0;
}

/* =============================================================== >>static_cond
   What >>static decides from request fields, as pure functions (no I/O, any thread):
   HTTP-dates in all three forms (RFC 9110 §5.6.7), entity-tag lists and the conditional
   request evaluation in the order of §13.2.2, If-Range (§13.1.5), Range (§14.1.2) with
   merging, and content-coding negotiation with q-values (§12.5.3). Each walks its field
   once; nothing allocates. Unit tests: tests/test_static.c; fuzzed by fuzz/fuzz_static.c. */
#define HTTPD__STATIC_RANGES 16           /* more ranges than this: Range is ignored  */
enum { HTTPD__ENC_ID, HTTPD__ENC_GZ, HTTPD__ENC_BR };

HTTPD__PRIVATE int64_t httpd__days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;                                      /* H. Hinnant's days_from_civil */
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}
/* Pieces of an HTTP-date at s[*i..n): w digits, one exact byte, a month name. -1: no. */
HTTPD__PRIVATE int httpd__date_num(const char *s, size_t n, size_t *i, int w) {
    int v = 0;
    for (int k = 0; k < w; k++, (*i)++) {
        if (*i >= n || s[*i] < '0' || s[*i] > '9') return -1;
        v = v * 10 + s[*i] - '0';
    }
    return v;
}
HTTPD__PRIVATE int httpd__date_ch(const char *s, size_t n, size_t *i, const char *lit) {
    for (; *lit; lit++, (*i)++)
        if (*i >= n || s[*i] != *lit) return -1;
    return 0;
}
HTTPD__PRIVATE int httpd__date_mon(const char *s, size_t n, size_t *i) {
    static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
    for (int m = 0; m < 12 && n - *i >= 3; m++)
        if (httpd__ieq2(s + *i, 3, months + 3 * m, 3)) { *i += 3; return m; }
    return -1;
}
/* time-of-day = hour ":" minute ":" second, two digits each; -1 in *bad when malformed */
HTTPD__PRIVATE void httpd__date_hms(const char *s, size_t n, size_t *i, int *hh, int *mm,
                                    int *ss, int *bad) {
    *hh = httpd__date_num(s, n, i, 2);
    *bad |= httpd__date_ch(s, n, i, ":");
    *mm = httpd__date_num(s, n, i, 2);
    *bad |= httpd__date_ch(s, n, i, ":");
    *ss = httpd__date_num(s, n, i, 2);
}
/* HTTP-date (RFC 9110 §5.6.7): IMF-fixdate, and the obsolete RFC 850 and asctime forms a
   recipient must accept. Unix seconds, or -1. */
HTTPD__PRIVATE int64_t httpd__parse_http_date(const char *s, size_t n) {
    size_t i = 0;
    int day, mon, year, hh, mm, ss, bad = 0;
    while (i < n && ((s[i] | 32) >= 'a' && (s[i] | 32) <= 'z')) i++;      /* day name */
    if (i < 3) return -1;
    if (i < n && s[i] == ',') {
        bad |= httpd__date_ch(s, n, &i, ", ");
        day = httpd__date_num(s, n, &i, 2);
        if (i < n && s[i] == '-') {                          /* Sunday, 06-Nov-94 08:49:37 GMT */
            i++;
            mon = httpd__date_mon(s, n, &i);
            bad |= httpd__date_ch(s, n, &i, "-");
            year = httpd__date_num(s, n, &i, 2);
            year += year < 0 ? 0 : year < 70 ? 2000 : 1900;
        } else {                                             /* Sun, 06 Nov 1994 08:49:37 GMT */
            bad |= httpd__date_ch(s, n, &i, " ");
            mon = httpd__date_mon(s, n, &i);
            bad |= httpd__date_ch(s, n, &i, " ");
            year = httpd__date_num(s, n, &i, 4);
        }
        bad |= httpd__date_ch(s, n, &i, " ");
        httpd__date_hms(s, n, &i, &hh, &mm, &ss, &bad);
        bad |= httpd__date_ch(s, n, &i, " GMT");
    } else {                                                 /* Sun Nov  6 08:49:37 1994 */
        bad |= httpd__date_ch(s, n, &i, " ");
        mon = httpd__date_mon(s, n, &i);
        bad |= httpd__date_ch(s, n, &i, " ");
        day = i < n && s[i] == ' ' ? (i++, httpd__date_num(s, n, &i, 1))
                                   : httpd__date_num(s, n, &i, 2);
        bad |= httpd__date_ch(s, n, &i, " ");
        httpd__date_hms(s, n, &i, &hh, &mm, &ss, &bad);
        bad |= httpd__date_ch(s, n, &i, " ");
        year = httpd__date_num(s, n, &i, 4);
    }
    if (bad || i != n || mon < 0 || year < 0 || day < 1 || day > 31 || hh < 0 || hh > 23
        || mm < 0 || mm > 59 || ss < 0 || ss > 60)
        return -1;
    return httpd__days_from_civil(year, (unsigned)mon + 1, (unsigned)day) * 86400
         + hh * 3600 + mm * 60 + HTTPD__MIN(ss, 59);        /* a leap second: :59 */
}
/* Is etag (quotes included) in the list v: "*" or 1#entity-tag (RFC 9110 §8.8.3)? weak:
   the weak comparison (W/ ignored), else the strong one (a weak tag never matches).
   1, 0, or -1 when the list is malformed. */
HTTPD__PRIVATE int httpd__etag_in(const char *v, size_t n, const char *etag, size_t el,
                                  int weak) {
    for (size_t i = 0;;) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
        if (i == n) return 0;
        if (v[i] == '*') return 1;
        int w = n - i >= 2 && v[i] == 'W' && v[i + 1] == '/';
        i += w ? 2 : 0;
        if (i == n || v[i] != '"') return -1;
        size_t s = i++;
        while (i < n && v[i] != '"') i++;
        if (i++ == n) return -1;
        if (i - s == el && !memcmp(v + s, etag, el) && (weak || !w)) return 1;
        while (i < n && (v[i] == ' ' || v[i] == '\t')) i++;
        if (i < n && v[i] != ',') return -1;                  /* tags need commas */
    }
}
/* RFC 9110 §13.2.2, steps 1-4, for GET/HEAD on a representation that exists: 0 (go on),
   412 or 304. A date condition is ignored when the date is invalid, when the field
   appears more than once, or when the representation has no Last-Modified. */
HTTPD__PRIVATE int httpd__static_cond(const httpd_request *req, const char *etag, size_t el,
                                      int64_t mtime) {
    int im = -2, inm = -2, nius = 0, nims = 0;       /* -2: absent; 1 match; 0 none */
    httpd_str ius = { NULL, 0 }, ims = { NULL, 0 };
    for (int i = 0; i < req->header_count; i++) {
        const httpd_header *h = &req->headers[i];
        const char *nm = h->name.ptr;
        size_t nl = h->name.len;
        if (nl == 8 && httpd__ieq(nm, "if-match", 8)) {
            int m = httpd__etag_in(h->value.ptr, h->value.len, etag, el, 0);
            im = im == 1 || m == 1 ? 1 : 0;          /* malformed: no match -> 412 */
        } else if (nl == 13 && httpd__ieq(nm, "if-none-match", 13)) {
            int m = httpd__etag_in(h->value.ptr, h->value.len, etag, el, 1);
            inm = inm == 1 || m == 1 ? 1 : 0;        /* malformed: no match -> 200 */
        } else if (nl == 19 && httpd__ieq(nm, "if-unmodified-since", 19)) {
            ius = h->value; nius++;
        } else if (nl == 17 && httpd__ieq(nm, "if-modified-since", 17)) {
            ims = h->value; nims++;
        }
    }
    if (im != -2) {                                             /* 1: If-Match */
        if (im != 1) return 412;
    } else if (nius == 1 && mtime > 0) {                        /* 2: If-Unmodified-Since */
        int64_t d = httpd__parse_http_date(ius.ptr, ius.len);
        if (d >= 0 && mtime > d) return 412;
    }
    if (inm != -2) {                                            /* 3: If-None-Match */
        if (inm == 1) return 304;
    } else if (nims == 1 && mtime > 0) {                        /* 4: If-Modified-Since */
        int64_t d = httpd__parse_http_date(ims.ptr, ims.len);
        if (d >= 0 && mtime <= d) return 304;
    }
    return 0;
}
/* If-Range (RFC 9110 §13.1.5): may the Range be applied? An entity-tag must match
   strongly; a date must equal Last-Modified exactly, and only counts as a strong
   validator once that second is over (§8.8.2.2: two changes within it look alike). */
HTTPD__PRIVATE int httpd__static_if_range(httpd_str v, const char *etag, size_t el,
                                          int64_t mtime, int64_t now) {
    if (!v.ptr) return 1;
    if (v.len && (v.ptr[0] == '"' || v.ptr[0] == 'W'))
        return v.len == el && !memcmp(v.ptr, etag, el);
    int64_t d = httpd__parse_http_date(v.ptr, v.len);
    return d >= 0 && mtime > 0 && d == mtime && mtime < now;
}
/* Digits at v[*i..n) (at least one), saturating at UINT64_MAX. */
HTTPD__PRIVATE int httpd__static_u64(const char *v, size_t n, size_t *i, uint64_t *out) {
    size_t s = *i;
    uint64_t x = 0;
    for (; *i < n && v[*i] >= '0' && v[*i] <= '9'; (*i)++) {
        unsigned d = (unsigned)(v[*i] - '0');
        x = x > (UINT64_MAX - d) / 10 ? UINT64_MAX : x * 10 + d;
    }
    *out = x;
    return *i > s;
}
/* Range: bytes=... (RFC 9110 §14.1.2) on a representation of len bytes: 1 and
   [*off, *off + *cnt) for one range (after merging, see the banner); 0: send the whole
   representation (not bytes, malformed, too many ranges, several disjoint ranges, an
   empty representation asked for a suffix); -416: no range is satisfiable (§14.1.1). */
HTTPD__PRIVATE int httpd__static_range(const char *v, size_t n, uint64_t len, uint64_t *off,
                                       uint64_t *cnt) {
    uint64_t a[HTTPD__STATIC_RANGES], b[HTTPD__STATIC_RANGES];   /* satisfiable, inclusive */
    int k = 0, total = 0, empty = 0;
    size_t i = 6;
    if (n < 6 || !httpd__ieq(v, "bytes=", 6)) return 0;
    for (;;) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
        if (i == n) break;
        uint64_t x, y = UINT64_MAX;
        if (++total > HTTPD__STATIC_RANGES) return 0;
        if (v[i] == '-') {                                        /* suffix-range */
            i++;
            if (!httpd__static_u64(v, n, &i, &x)) return 0;
            if (x && !len) empty = 1;
            else if (x) { a[k] = x >= len ? 0 : len - x; b[k++] = len - 1; }
        } else {                                                  /* int-range */
            if (!httpd__static_u64(v, n, &i, &x) || i == n || v[i++] != '-') return 0;
            if (i < n && v[i] >= '0' && v[i] <= '9') {
                httpd__static_u64(v, n, &i, &y);
                if (y < x) return 0;                              /* invalid: ignored */
            }
            if (x < len) { a[k] = x; b[k++] = y >= len ? len - 1 : y; }
        }
        while (i < n && (v[i] == ' ' || v[i] == '\t')) i++;
        if (i < n && v[i] != ',') return 0;
    }
    if (!total) return 0;
    if (!k) return empty ? 0 : -416;
    for (int p = 1; p < k; p++)                    /* sort by start (k <= 16), merge */
        for (int q = p; q > 0 && a[q - 1] > a[q]; q--) {
            uint64_t t = a[q]; a[q] = a[q - 1]; a[q - 1] = t;
            t = b[q]; b[q] = b[q - 1]; b[q - 1] = t;
        }
    uint64_t lo = a[0], hi = b[0];
    for (int p = 1; p < k; p++) {
        if (a[p] > hi + 1) return 0;               /* a gap: several parts -> whole 200 */
        if (b[p] > hi) hi = b[p];
    }
    *off = lo;
    *cnt = hi - lo + 1;
    return 1;
}
/* A qvalue (RFC 9110 §12.4.2) in thousandths, or -1 if malformed. */
HTTPD__PRIVATE int httpd__static_qvalue(const char *v, size_t n) {
    if (!n || (v[0] != '0' && v[0] != '1') || (n > 1 && v[1] != '.') || n > 5) return -1;
    int q = (v[0] - '0') * 1000, scale = 100;
    for (size_t i = 2; i < n; i++, scale /= 10) {
        if (v[i] < '0' || v[i] > '9') return -1;
        q += (v[i] - '0') * scale;
    }
    return q > 1000 ? -1 : q;
}
/* The content coding to send (RFC 9110 §12.5.3) among identity and the variants in avail
   (1 << HTTPD__ENC_GZ | 1 << HTTPD__ENC_BR): the highest q wins, ties go to the smaller
   (br, then gzip, then identity); q=0 refuses. identity is acceptable unless refused
   ("identity;q=0", or "*;q=0" without an identity entry). No Accept-Encoding: identity.
   -1: nothing acceptable (406). */
HTTPD__PRIVATE int httpd__static_coding(const httpd_request *req, unsigned avail) {
    int q[3] = { -1, -1, -1 }, star = -1;
    for (int h = 0; h < req->header_count; h++) {
        const httpd_header *f = &req->headers[h];
        if (f->name.len != 15 || !httpd__ieq(f->name.ptr, "accept-encoding", 15)) continue;
        const char *v = f->value.ptr;
        size_t n = f->value.len, i = 0;
        while (i < n) {
            while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
            size_t s = i;
            while (i < n && HTTPD__IS(v[i], HTTPD__C_TCHAR)) i++;
            size_t cl = i - s;
            int qv = 1000;
            for (;;) {                                   /* parameters: only q counts */
                while (i < n && (v[i] == ' ' || v[i] == '\t')) i++;
                if (i >= n || v[i] != ';') break;
                i++;
                while (i < n && (v[i] == ' ' || v[i] == '\t')) i++;
                size_t ps = i;
                while (i < n && v[i] != ',' && v[i] != ';' && v[i] != ' ' && v[i] != '\t') i++;
                if (i - ps >= 2 && (v[ps] | 32) == 'q' && v[ps + 1] == '=')
                    qv = httpd__static_qvalue(v + ps + 2, i - ps - 2);
            }
            while (i < n && v[i] != ',') i++;            /* junk: skip to the next member */
            if (!cl || qv < 0) continue;                 /* malformed member: ignored */
            const char *c = v + s;
            if (cl == 2 && httpd__ieq(c, "br", 2)) q[HTTPD__ENC_BR] = qv;
            else if ((cl == 4 && httpd__ieq(c, "gzip", 4))
                     || (cl == 6 && httpd__ieq(c, "x-gzip", 6)))      /* §8.4.1.3 */
                q[HTTPD__ENC_GZ] = qv;
            else if (cl == 8 && httpd__ieq(c, "identity", 8)) q[HTTPD__ENC_ID] = qv;
            else if (cl == 1 && c[0] == '*') star = qv;
        }
        if (q[HTTPD__ENC_ID] < 0 && star < 0) q[HTTPD__ENC_ID] = 1;   /* lowest, not refused */
    }
    if (q[HTTPD__ENC_ID] == -1 && star == -1) return HTTPD__ENC_ID;   /* no Accept-Encoding */
    int best = -1, bq = 0;
    for (int c = HTTPD__ENC_BR; c >= HTTPD__ENC_ID; c--) {
        int qc = q[c] >= 0 ? q[c] : star >= 0 ? star : 0;
        if ((c == HTTPD__ENC_ID || (avail >> c & 1)) && qc > bq) { best = c; bq = qc; }
    }
    return best;
}

/* ==================================================================== >>static
   Serving a mount (a directory, or packed assets) at a route prefix: validators and
   conditional requests (RFC 9110 §8.8, §13), byte ranges (§14), content-coding
   negotiation for precompressed variants (§12.5.3), redirects and listings for
   directories (the field parsing is >>static_cond's). Comes after >>params because it is
   built on the public API (httpd_respond, the response's header list, httpd_get_header);
   it reaches into three internals only: the
   raw "*" parameter (httpd_param would decode %2F into a '/'), the request arena, and
   >>file's httpd__send_file for guarded file bodies and memory bodies.
   Several ranges: merged when they overlap or touch (§14.6 allows it), then one range is
   a 206, and several disjoint ones get the whole 200 (§14.2 allows ignoring Range).
   Browsers, media players and download managers ask for one range; multipart/byteranges
   could not go out as one sendfile, would need a copying path for a case nobody uses,
   and many small ranges are an amplification attack (CVE-2011-3192); a 200 is correct.
   Owner: the request's worker thread; the mount is read-only after httpd_static_open.
   Cost per file: one openat2 and one fstat (plus one per variant tried), headers
   formatted on the stack, no allocation; the body is sendfile'd, or sent from the
   asset's read-only memory (bodies up to HTTPD__STATIC_COPY go out with the head, in one
   write). Listings (opt-in) use the request arena, at most HTTPD__STATIC_LIST_MAX bytes. */
#define HTTPD__STATIC_COPY 8192u          /* memory bodies up to this are copied      */
#define HTTPD__STATIC_LIST_MAX (1u << 20) /* listing HTML; entries past it are left out */
#define HTTPD__STATIC_CC_MAX 256          /* Cache-Control value length               */
/* What one response is made of: a file (fd) or memory, its validators and metadata. */
typedef struct httpd__static_rep {
    int         fd;                /* -1: mem                                          */
    const unsigned char *mem;
    uint64_t    len, tag;          /* tag: httpd__file_tag, checked while sending      */
    int64_t     mtime;             /* Last-Modified (s); <= 0: none                    */
    const char *etag, *type, *coding;   /* coding NULL: identity                      */
    int         vary;              /* Vary: Accept-Encoding (variants exist)           */
    char        etag_buf[64];
} httpd__static_rep;
HTTPD__PRIVATE void httpd__static_file_rep(httpd__static_rep *p, int fd, const struct stat *st) {
    p->fd = fd;
    p->mem = NULL;
    p->len = (uint64_t)st->st_size;
    p->tag = httpd__file_tag(st);
    p->mtime = (int64_t)HTTPD__MTIM(*st).tv_sec;
    snprintf(p->etag_buf, sizeof p->etag_buf, "\"%llx-%llx-%llx\"",   /* strong: exact */
             (unsigned long long)st->st_ino, (unsigned long long)st->st_size,
             (unsigned long long)HTTPD__MTIM(*st).tv_sec * 1000000000ull
                 + (unsigned long long)HTTPD__MTIM(*st).tv_nsec);
    p->etag = p->etag_buf;
}
HTTPD__PRIVATE int httpd__static_fail(httpd_request *req, int status, int fd) {
    char body[48];
    const char *reason = httpd_reason(status);
    if (fd >= 0) close(fd);
    int n = snprintf(body, sizeof body, "%d %s\n", status, reason);
    return httpd_respond(req, status, "text/plain", body, (size_t)n);
}
/* Appends raw header lines we formatted ourselves (values checked at httpd_static_open). */
HTTPD__PRIVATE int httpd__static_headers(httpd__req *r, const char *s, size_t n) {
    if (r->rh_len + n > r->rh_cap) {
        size_t cap = HTTPD__MAX((size_t)r->rh_cap * 2, r->rh_len + n + 128);
        char *b = (char *)httpd__arena_alloc(r, cap);
        if (!b) return HTTPD_ERR_NOMEM;
        if (r->rh_len) memcpy(b, r->rh, r->rh_len);
        r->rh = b; r->rh_cap = (uint32_t)cap;
    }
    memcpy(r->rh + r->rh_len, s, n);
    r->rh_len += (uint32_t)n;
    return 0;
}
/* Answers with representation p: 304/412 (§13.2.2), 416, 206 or 200. Owns p->fd. */
HTTPD__PRIVATE int httpd__static_send(httpd__req *r, const httpd_static *m,
                                      httpd__static_rep *p) {
    httpd_request *req = &r->pub;
    char h[640];
    size_t el = strlen(p->etag), k = 0;
    int status = 200, get = r->head.method_id == HTTPD__M_GET;
    uint64_t off = 0, cnt = p->len;
#define HTTPD__PUT(s, n) do { memcpy(h + k, (s), (n)); k += (n); } while (0)
    HTTPD__PUT("ETag: ", 6); HTTPD__PUT(p->etag, HTTPD__MIN(el, 64)); HTTPD__PUT("\r\n", 2);
    if (p->mtime > 0) {
        HTTPD__PUT("Last-Modified: ", 15);
        httpd__http_date(h + k, p->mtime);
        k += 29;
        HTTPD__PUT("\r\n", 2);
    }
    if (m->cache_control) {
        HTTPD__PUT("Cache-Control: ", 15);
        HTTPD__PUT(m->cache_control, strlen(m->cache_control));   /* <= 256, checked */
        HTTPD__PUT("\r\n", 2);
    }
    if (p->vary) HTTPD__PUT("Vary: Accept-Encoding\r\n", 23);
    int cond = httpd__static_cond(req, p->etag, el, p->mtime);
    if (cond == 304) {                   /* §15.4.5: the validators and cache fields only */
        if (p->fd >= 0) close(p->fd);
        if (httpd__static_headers(r, h, k) < 0) return httpd__static_fail(req, 503, -1);
        return httpd_respond(req, 304, NULL, NULL, 0);
    }
    if (cond == 412) return httpd__static_fail(req, 412, p->fd);
    HTTPD__PUT("Accept-Ranges: bytes\r\n", 22);
    if (p->coding) {
        HTTPD__PUT("Content-Encoding: ", 18);
        HTTPD__PUT(p->coding, strlen(p->coding));
        HTTPD__PUT("\r\n", 2);
    }
    httpd_str range = httpd_get_header(req, "Range");        /* GET only (§14.2) */
    if (get && range.ptr && httpd__static_if_range(httpd_get_header(req, "If-Range"), p->etag, el,
                                            p->mtime, (int64_t)time(NULL))) {
        int rc = httpd__static_range(range.ptr, range.len, p->len, &off, &cnt);
        if (rc == -416) {
            k += (size_t)snprintf(h + k, sizeof h - k, "Content-Range: bytes */%llu\r\n",
                                  (unsigned long long)p->len);
            if (httpd__static_headers(r, h, k) < 0) return httpd__static_fail(req, 503, p->fd);
            return httpd__static_fail(req, 416, p->fd);
        }
        if (rc == 1) {
            status = 206;
            k += (size_t)snprintf(h + k, sizeof h - k, "Content-Range: bytes %llu-%llu/%llu\r\n",
                                  (unsigned long long)off, (unsigned long long)(off + cnt - 1),
                                  (unsigned long long)p->len);
        }
    }
#undef HTTPD__PUT
    if (httpd__static_headers(r, h, k) < 0) return httpd__static_fail(req, 503, p->fd);
    if (p->fd < 0 && cnt <= HTTPD__STATIC_COPY)
        return httpd_respond(req, status, p->type, p->mem + off, (size_t)cnt);
    int rc = httpd__send_file(r, status, p->type, p->fd, p->mem, p->tag, off, cnt);
    if (rc < 0 && rc != HTTPD_ERR_CLOSED && rc != HTTPD_ERR_TIMEOUT && p->fd >= 0) close(p->fd);
    return rc;
}
/* 301 to the directory's slash form: the request path, re-encoded, + "/" + the query.
   The path starts with one '/' and a name (never "//host": no open redirect). */
HTTPD__PRIVATE int httpd__static_redirect(httpd__req *r) {
    httpd_request *req = &r->pub;
    size_t n = req->path.len, need = 10 + 3 * n + 2 + req->query.len + 3;
    char *loc = (char *)httpd__arena_alloc(r, need);
    if (!loc || n < 2 || req->path.ptr[1] == '/') return httpd__static_fail(req, 404, -1);
    size_t k = 0;
    memcpy(loc, "Location: ", 10); k = 10;
    for (size_t i = 0; i < n; i++) {                 /* RFC 3986 pchar, '/' and '%' kept */
        unsigned char c = (unsigned char)req->path.ptr[i];
        if (HTTPD__IS(c, HTTPD__C_TARGET) && c != '?' && c != '"' && c != '<' && c != '>'
            && c != '\\' && c != '^' && c != '`' && c != '{' && c != '|' && c != '}') {
            loc[k++] = (char)c;
        } else {
            loc[k++] = '%'; loc[k++] = "0123456789ABCDEF"[c >> 4];
            loc[k++] = "0123456789ABCDEF"[c & 15];
        }
    }
    loc[k++] = '/';
    if (req->query.len) {
        loc[k++] = '?';
        memcpy(loc + k, req->query.ptr, req->query.len);
        k += req->query.len;
    }
    loc[k++] = '\r'; loc[k++] = '\n';
    if (httpd__static_headers(r, loc, k) < 0) return httpd__static_fail(req, 503, -1);
    return httpd_respond(req, 301, "text/plain", "301 Moved Permanently\n", 22);
}
/* errno of a failed open -> status: missing, a link refused, outside -> 404; no
   permission -> 403; out of descriptors -> 503. */
HTTPD__PRIVATE int httpd__static_errno_status(int e) {
    switch (e) {
    case EACCES: case EPERM: return 403;
    case EMFILE: case ENFILE: case ENOMEM: return 503;
    case ENOENT: case ENOTDIR: case ELOOP: case EXDEV: case ENAMETOOLONG: case ENXIO:
    case EISDIR: return 404;
    default: return 500;
    }
}
/* A directory listing (opt-in): names checked like request segments, sorted, escaped. */
HTTPD__PRIVATE int httpd__static_list(httpd__req *r, const httpd_static *m, const char *path) {
    httpd_request *req = &r->pub;
    int fd = httpd__static_openat(m->root_fd, path, m->follow_symlinks);
    struct stat st;
    if (fd < 0) return httpd__static_fail(req, httpd__static_errno_status(-fd), -1);
    if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode)) return httpd__static_fail(req, 404, fd);
    size_t cap = 16384, len = 0, nn = 0, ncap = 256, total = 0;
    char *names = (char *)httpd__arena_alloc(r, cap);
    char **v = (char **)httpd__arena_alloc(r, ncap * sizeof *v);
    /* the names: getdents64 on Linux (no DIR allocation), readdir elsewhere */
#if HTTPD__LINUX
    char dents[8192];
    long got = 0, at = 0;
#else
    DIR *dir = fdopendir(fd);                             /* owns fd from here */
    if (!dir) return httpd__static_fail(req, 503, fd);
#endif
    while (names && v) {
        const char *nm;
        unsigned char type;
#if HTTPD__LINUX
        if (at >= got) {
            if ((got = syscall(SYS_getdents64, fd, dents, sizeof dents)) <= 0) break;
            at = 0;
        }
        const char *d = dents + at;                    /* struct linux_dirent64 */
        unsigned short reclen;
        memcpy(&reclen, d + 16, 2);
        type = (unsigned char)d[18];
        nm = d + 19;
        at += reclen;
#else
        struct dirent *de = readdir(dir);
        if (!de) break;
        nm = de->d_name;
#  ifdef DT_DIR
        type = (unsigned char)de->d_type;              /* DT_DIR 4, DT_REG 8, DT_LNK 10 */
#  else
        type = 0;
#  endif
#endif
        size_t nl = strlen(nm);
        if (type == 0 && fstatat(fd, nm, &st, AT_SYMLINK_NOFOLLOW) == 0)   /* DT_UNKNOWN */
            type = S_ISDIR(st.st_mode) ? 4 : S_ISREG(st.st_mode) ? 8
                 : S_ISLNK(st.st_mode) ? 10 : 1;
        if ((type != 4 && type != 8 && !(type == 10 && m->follow_symlinks))
            || httpd__static_seg((const unsigned char *)nm, nl, m->hidden)) continue;
        if ((total += 9 * nl + 40) > HTTPD__STATIC_LIST_MAX) break;
        if (len + nl + 2 > cap || nn == ncap) {
            size_t c2 = len + nl + 2 > cap ? cap * 2 : cap, n2 = nn == ncap ? ncap * 2 : ncap;
            char *b = (char *)httpd__arena_alloc(r, c2);
            char **w = (char **)httpd__arena_alloc(r, n2 * sizeof *w);
            if (!b || !w) { names = NULL; break; }
            memcpy(b, names, len);
            for (size_t i = 0; i < nn; i++) w[i] = b + (v[i] - names);
            names = b; v = w; cap = c2; ncap = n2;
        }
        v[nn++] = names + len;
        memcpy(names + len, nm, nl);
        len += nl;
        names[len++] = type == 4 ? '/' : 0;      /* a directory keeps its slash */
        if (type == 4) names[len++] = 0;
    }
#if HTTPD__LINUX
    close(fd);
#else
    closedir(dir);
#endif
    if (!names || !v) return httpd__static_fail(req, 503, -1);
    for (size_t gap = nn / 2; gap > 0; gap /= 2)      /* shell sort: no allocation */
        for (size_t i = gap; i < nn; i++)
            for (size_t j = i; j >= gap && strcmp(v[j - gap], v[j]) > 0; j -= gap) {
                char *t = v[j]; v[j] = v[j - gap]; v[j - gap] = t;
            }
    size_t plen = req->path.len, hcap = 256 + 12 * plen + total;
    char *html = (char *)httpd__arena_alloc(r, hcap), *o = html;
    if (!html) return httpd__static_fail(req, 503, -1);
/* literals by memcpy: no format string (and no false "null destination" from gcc) */
#define HTTPD__PUT(lit) do { memcpy(o, lit, sizeof(lit) - 1); o += sizeof(lit) - 1; } while (0)
#define HTTPD__ESC(s, n, href) do { for (size_t i_ = 0; i_ < (n); i_++) { \
        unsigned char c_ = (unsigned char)(s)[i_]; \
        if ((href) && !(isalnum(c_) || strchr("-._~/", c_) || c_ == 0)) { \
            o += sprintf(o, "%%%02X", c_); \
        } else if (c_ == '<') { memcpy(o, "&lt;", 4); o += 4; } \
        else if (c_ == '>') { memcpy(o, "&gt;", 4); o += 4; } \
        else if (c_ == '&') { memcpy(o, "&amp;", 5); o += 5; } \
        else if (c_ == '"') { memcpy(o, "&quot;", 6); o += 6; } \
        else if (c_ == '\'') { memcpy(o, "&#39;", 5); o += 5; } \
        else *o++ = (char)c_; } } while (0)
    HTTPD__PUT("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of ");
    HTTPD__ESC(req->path.ptr, plen, 0);
    HTTPD__PUT("</title></head>\n<body><h1>Index of ");
    HTTPD__ESC(req->path.ptr, plen, 0);
    HTTPD__PUT("</h1>\n<ul>\n<li><a href=\"../\">../</a></li>\n");
    for (size_t i = 0; i < nn; i++) {
        size_t nl = strlen(v[i]);
        HTTPD__PUT("<li><a href=\"");
        HTTPD__ESC(v[i], nl, 1);
        HTTPD__PUT("\">");
        HTTPD__ESC(v[i], nl, 0);
        HTTPD__PUT("</a></li>\n");
    }
#undef HTTPD__ESC
    HTTPD__PUT("</ul>\n</body></html>\n");
#undef HTTPD__PUT
    return httpd_respond(req, 200, "text/html; charset=utf-8", html, (size_t)(o - html));
}
/* A mount on a directory. path: the cleaned relative path, in a buffer of HTTPD__STATIC_
   PATH_MAX with room for a suffix (".br", the index name) after n. */
HTTPD__PRIVATE int httpd__static_fs(httpd__req *r, const httpd_static *m, char *path,
                                    size_t n, int dir) {
    httpd_request *req = &r->pub;
    const char *index = m->index ? m->index : "index.html";
    struct stat st;
    int fd;
    if (dir) {
        size_t il = strlen(index);
        fd = -ENOENT;
        if (il) {
            memcpy(path + n, index, il + 1);
            fd = httpd__static_openat(m->root_fd, path, m->follow_symlinks);
            path[n] = 0;
        }
        if (fd < 0 && fd != -ENOENT)
            return httpd__static_fail(req, httpd__static_errno_status(-fd), -1);
        if (fd < 0) return m->listings ? httpd__static_list(r, m, path)
                                       : httpd__static_fail(req, 404, -1);
        memcpy(path + n, index, il + 1);
        n += il;
    } else {
        fd = httpd__static_openat(m->root_fd, path, m->follow_symlinks);
        if (fd < 0) return httpd__static_fail(req, httpd__static_errno_status(-fd), -1);
    }
    if (fstat(fd, &st) < 0) return httpd__static_fail(req, 500, fd);
    if (S_ISDIR(st.st_mode) && !dir) { close(fd); return httpd__static_redirect(r); }
    if (!S_ISREG(st.st_mode)) return httpd__static_fail(req, 404, fd);
    httpd__static_rep p;
    httpd__static_file_rep(&p, fd, &st);
    p.type = httpd__static_mime(m->mime, path, n);
    p.coding = NULL;
    p.vary = m->precompressed && httpd__static_compressible(p.type);
    for (unsigned avail = 6; p.vary;) {              /* br, gz: best accepted that exists */
        int c = httpd__static_coding(req, avail);
        if (c < 0) return httpd__static_fail(req, 406, fd);
        if (c == HTTPD__ENC_ID) break;
        memcpy(path + n, c == HTTPD__ENC_BR ? ".br" : ".gz", 4);
        int vfd = httpd__static_openat(m->root_fd, path, m->follow_symlinks);
        path[n] = 0;
        struct stat vs;
        if (vfd >= 0 && fstat(vfd, &vs) == 0 && S_ISREG(vs.st_mode)
            && (HTTPD__MTIM(vs).tv_sec > HTTPD__MTIM(st).tv_sec
                || (HTTPD__MTIM(vs).tv_sec == HTTPD__MTIM(st).tv_sec
                    && HTTPD__MTIM(vs).tv_nsec >= HTTPD__MTIM(st).tv_nsec))) {  /* not older */
            const char *type = p.type;
            close(fd);
            httpd__static_file_rep(&p, vfd, &vs);
            p.type = type;
            p.coding = c == HTTPD__ENC_BR ? "br" : "gzip";
            p.vary = 1;
            break;
        }
        if (vfd >= 0) close(vfd);
        avail &= ~(1u << c);
    }
    return httpd__static_send(r, m, &p);
}
/* A mount on packed assets: binary search on the sorted paths. */
HTTPD__PRIVATE const httpd_asset *httpd__static_find(const httpd_static *m, const char *path,
                                                     size_t n, int prefix) {
    size_t lo = 0, hi = m->nassets;
    while (lo < hi) {                                 /* first path >= the key */
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(m->assets[mid].path, path) < 0) lo = mid + 1; else hi = mid;
    }
    if (lo == m->nassets) return NULL;
    const char *a = m->assets[lo].path;
    return (prefix ? !strncmp(a, path, n) : !strcmp(a, path)) ? &m->assets[lo] : NULL;
}
HTTPD__PRIVATE int httpd__static_mem(httpd__req *r, const httpd_static *m, char *path,
                                     size_t n, int dir) {
    httpd_request *req = &r->pub;
    const char *index = m->index ? m->index : "index.html";
    if (dir) {
        if (!*index) return httpd__static_fail(req, 404, -1);
        memcpy(path + n, index, strlen(index) + 1);
    }
    const httpd_asset *a = httpd__static_find(m, path, n, 0);
    if (!a) {
        if (dir) return httpd__static_fail(req, 404, -1);
        memcpy(path + n, "/", 2);                    /* a directory of assets? */
        return httpd__static_find(m, path, n + 1, 1) ? httpd__static_redirect(r)
                                                     : httpd__static_fail(req, 404, -1);
    }
    httpd__static_rep p;
    memset(&p, 0, sizeof p);
    p.fd = -1; p.mem = a->data; p.len = a->len; p.mtime = a->mtime; p.etag = a->etag;
    p.type = a->type;
    unsigned avail = (a->gz ? 1u << HTTPD__ENC_GZ : 0) | (a->br ? 1u << HTTPD__ENC_BR : 0);
    if (m->precompressed && avail) {
        p.vary = 1;
        int c = httpd__static_coding(req, avail);
        if (c < 0) return httpd__static_fail(req, 406, -1);
        if (c == HTTPD__ENC_BR) {
            p.mem = a->br; p.len = a->br_len; p.etag = a->br_etag; p.coding = "br";
        } else if (c == HTTPD__ENC_GZ) {
            p.mem = a->gz; p.len = a->gz_len; p.etag = a->gz_etag; p.coding = "gzip";
        }
    }
    return httpd__static_send(r, m, &p);
}

HTTPD_API int httpd_static_serve(httpd_request *req, const httpd_static *m) {
    httpd__req *r = (httpd__req *)req;
    char path[HTTPD__STATIC_PATH_MAX];
    int dir;
    if (!req) return HTTPD_ERR_INVAL;
    if (!m || !m->is_open) return httpd__static_fail(req, 500, -1);
    int mid = r->head.method_id;
    if (mid != HTTPD__M_GET && mid != HTTPD__M_HEAD) {   /* a "*" route: only GET, HEAD */
        httpd_add_header(req, "Allow", "GET, HEAD, OPTIONS");
        return mid == HTTPD__M_OPTIONS ? httpd_respond(req, 200, NULL, NULL, 0)
                                       : httpd__static_fail(req, 405, -1);
    }
    httpd_str rel = { req->path.ptr + 1, req->path.len - 1 };
    for (int i = 0; i < r->nparams; i++)     /* raw: %2F must stay apart from '/' */
        if (r->params[i].name_len == 1 && r->params[i].name[0] == '*') rel = r->params[i].value;
    /* room after the path for the index name or a ".br" suffix */
    size_t room = 8 + (m->index ? strlen(m->index) : 10);
    long n = httpd__static_clean(rel.ptr, rel.len, path, sizeof path - room, m->hidden, &dir);
    if (n < 0) return httpd__static_fail(req, (int)-n, -1);
    return m->assets ? httpd__static_mem(r, m, path, (size_t)n, dir)
                     : httpd__static_fs(r, m, path, (size_t)n, dir);
}
HTTPD_API void httpd_static_handler(httpd_request *req) {
    httpd_static_serve(req, (const httpd_static *)req->user_data);
}
HTTPD_API int httpd_static_open(httpd_static *m) {
    if (!m || (!m->root && !m->assets)) return HTTPD_ERR_INVAL;
    m->is_open = 0;
    m->root_fd = -1;
    if (m->cache_control && (strlen(m->cache_control) > HTTPD__STATIC_CC_MAX
                             || !httpd__is_ctl_free(m->cache_control, 0)))
        return HTTPD_ERR_INVAL;
    if (m->index && (strlen(m->index) > 200 || strchr(m->index, '/')
                     || (*m->index && httpd__static_seg((const unsigned char *)m->index,
                                                        strlen(m->index), 1))))
        return HTTPD_ERR_INVAL;
    for (const httpd_mime *u = m->mime; u && u->ext; u++)
        if (!u->type || !httpd__is_ctl_free(u->type, 0)) return HTTPD_ERR_INVAL;
    for (size_t i = 0; m->assets && i < m->nassets; i++) {
        const httpd_asset *a = &m->assets[i];
        if (!a->path || !a->etag || strlen(a->etag) > 64 || !a->type
            || !httpd__is_ctl_free(a->type, 0) || !httpd__is_ctl_free(a->etag, 0)
            || (a->gz && (!a->gz_etag || strlen(a->gz_etag) > 64))
            || (a->br && (!a->br_etag || strlen(a->br_etag) > 64))
            || (i && strcmp(m->assets[i - 1].path, a->path) >= 0))
            return HTTPD_ERR_INVAL;
    }
    if (!m->assets) {
        m->root_fd = open(m->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (m->root_fd < 0) return HTTPD_ERR_SYS;
    }
    m->is_open = 1;
    return 0;
}
HTTPD_API void httpd_static_close(httpd_static *m) {
    if (!m) return;
    if (m->is_open && m->root_fd >= 0) close(m->root_fd);
    m->root_fd = -1;
    m->is_open = 0;
}
#endif /* HTTPD_NO_STATIC */
#endif /* POSIX available */
#endif /* HTTPD_IMPLEMENTATION */

/*
------------------------------------------------------------------------------
LICENSE (MIT)
Copyright (c) 2026 the httpd.h authors

Permission is hereby granted, free of charge, to any person obtaining a copy of this
software and associated documentation files (the "Software"), to deal in the Software
without restriction, including without limitation the rights to use, copy, modify, merge,
publish, distribute, sublicense, and/or sell copies of the Software, and to permit persons
to whom the Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED,
INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR
PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE
FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR
OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER
DEALINGS IN THE SOFTWARE.
------------------------------------------------------------------------------
*/
