/* chat.c - a chat room over WebSockets, one room across all workers.
       cc -std=c11 -O2 -o chat examples/chat.c -lpthread
       ./chat --port 8080 --workers 4        then open http://127.0.0.1:8080/ in two tabs
   GET / is the page; its script opens GET /ws?name=NAME. Every text message a member
   sends goes to every member as "NAME: text" with httpd_ws_broadcast, which reaches the
   WebSockets of every worker (the frame is built once and shared). Joins and leaves are
   announced the same way. A member too slow to read its share is closed with 1008 (the
   group's overflow policy) rather than let the server buffer without bound; the page
   reconnects. Binary messages are refused (close 1003). Heartbeats: the server's
   defaults (ping every 15 s, drop after 45 s of silence), so idle proxies keep the
   connection and dead peers go away. A graceful stop (SIGINT/SIGTERM) closes every
   member with 1001.
   build/chat [--host H] [--port P] [--workers N] [--ws-ping S] [--ws-timeout S] */
#define HTTPD_IMPLEMENTATION
#include "../httpd.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char page[] =
    "<!doctype html><meta charset=utf-8><title>httpd.h chat</title>\n"
    "<style>body{font:16px sans-serif;max-width:40em;margin:2em auto}"
    "#log{border:1px solid #ccc;height:20em;overflow-y:auto;padding:.5em;white-space:pre-wrap}"
    "</style>\n"
    "<h1>chat</h1><div id=log></div>\n"
    "<form id=f><input id=name placeholder=name size=10> "
    "<input id=msg placeholder=message size=40 autocomplete=off> <button>send</button></form>\n"
    "<p id=status>offline</p>\n"
    "<script>\n"
    "let ws = null, queue = [];\n"
    "const log = document.getElementById('log'), st = document.getElementById('status');\n"
    "function show(text) {\n"
    "  const d = document.createElement('div'); d.className = 'line'; d.textContent = text;\n"
    "  log.appendChild(d); log.scrollTop = log.scrollHeight;\n"
    "}\n"
    "function connect() {\n"
    "  const name = document.getElementById('name').value || 'anon';\n"
    "  ws = new WebSocket('ws://' + location.host + '/ws?name=' + encodeURIComponent(name));\n"
    "  ws.onopen = () => { st.textContent = 'online'; queue.forEach(m => ws.send(m)); queue = []; };\n"
    "  ws.onmessage = e => show(e.data);\n"
    "  ws.onclose = e => { st.textContent = 'closed ' + e.code; ws = null; };\n"
    "}\n"
    "document.getElementById('f').onsubmit = e => {\n"
    "  e.preventDefault();\n"
    "  const m = document.getElementById('msg');\n"
    "  if (!ws) { queue.push(m.value); connect(); } else if (ws.readyState === 1) ws.send(m.value);\n"
    "  else queue.push(m.value);\n"
    "  m.value = '';\n"
    "};\n"
    "</script>\n";

static void on_page(httpd_request *req) {
    httpd_respond(req, 200, "text/html; charset=utf-8", page, sizeof page - 1);
}

typedef struct member { char name[33]; } member;
static const httpd_ws_desc room;       /* the group: every member of the room */

static void announce(httpd_ws *ws, const char *fmt, const char *name, const void *text,
                     size_t len) {
    char line[4200];
    int n = snprintf(line, sizeof line, fmt, name, (int)len, (const char *)text);
    if (n > 0) httpd_ws_broadcast(httpd_ws_server(ws), &room, HTTPD_WS_TEXT, line,
                                  (size_t)HTTPD__MIN((size_t)n, sizeof line - 1));
}
static void on_open(httpd_ws *ws) {
    member *m = (member *)httpd_ws_user(ws);
    announce(ws, "* %s joined%.*s", m->name, "", 0);
}
static void on_message(httpd_ws *ws, int type, const void *data, size_t len, int fin) {
    member *m = (member *)httpd_ws_user(ws);
    (void)fin;
    if (type != HTTPD_WS_TEXT) { httpd_ws_close(ws, 1003, "text only"); return; }
    announce(ws, "%s: %.*s", m->name, data, len);
}
static void on_close(httpd_ws *ws, int code, const char *reason, size_t rl) {
    member *m = (member *)httpd_ws_user(ws);
    char why[16];
    (void)reason; (void)rl;
    snprintf(why, sizeof why, " (%d)", code);
    if (!httpd_stopping(httpd_ws_server(ws)))
        announce(ws, "* %s left%.*s", m->name, why, strlen(why));
    free(m);
}
static const httpd_ws_desc room = {
    .on_open = on_open, .on_message = on_message, .on_close = on_close,
    .max_message_bytes = 4096, .overflow = HTTPD_WS_CLOSE };

static void on_ws(httpd_request *req) {
    member *m = (member *)calloc(1, sizeof *m);
    if (!m) { httpd_respond(req, 503, "text/plain", "busy\n", 5); return; }
    httpd_str name = httpd_query_param(req, "name");
    size_t n = name.ptr ? HTTPD__MIN(name.len, sizeof m->name - 1) : 0;
    /* a name is shown to everybody: printable ASCII only (no control bytes, no cut UTF-8) */
    for (size_t i = 0; i < n; i++)
        m->name[i] = (name.ptr[i] >= 0x20 && name.ptr[i] < 0x7f) ? name.ptr[i] : '?';
    if (!n) strcpy(m->name, "anon");
    if (httpd_ws_upgrade(req, &room, NULL, m) < 0) free(m);
}

static uint32_t seconds_ms(const char *v) {
    double s = atof(v);
    return s <= 0 ? HTTPD_NO_TIMEOUT : (uint32_t)(s * 1000 + 0.5);
}
int main(int argc, char **argv) {
    static const httpd_route routes[] = {
        { .method = "GET", .pattern = "/",   .handler = on_page },
        { .method = "GET", .pattern = "/ws", .handler = on_ws },
        { 0 },
    };
    httpd_desc d;
    memset(&d, 0, sizeof d);
    d.port = 8080;
    d.workers = 2;
    d.routes = routes;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--host")) d.addr = argv[i + 1];
        else if (!strcmp(argv[i], "--port")) d.port = (uint16_t)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--workers")) d.workers = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--ws-ping")) d.ws_ping_interval_ms = seconds_ms(argv[i + 1]);
        else if (!strcmp(argv[i], "--ws-timeout")) d.ws_timeout_ms = seconds_ms(argv[i + 1]);
        else { fprintf(stderr, "usage: %s [--host H] [--port P] [--workers N] "
                       "[--ws-ping S] [--ws-timeout S]\n", argv[0]); return 2; }
    }
    sigset_t sigs;                       /* blocked from here: httpd_serve takes them */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    httpd_server *srv;
    int rc = httpd_start(&d, &srv);
    if (rc < 0) {
        fprintf(stderr, "chat: cannot start: %s\n", httpd_strerror(rc));
        return 1;
    }
    printf("httpd: listening on %s:%d\n", d.addr ? d.addr : "127.0.0.1", httpd_port(srv));
    fflush(stdout);
    rc = httpd_serve(srv);               /* SIGINT/SIGTERM: close 1001, then stop */
    httpd_destroy(srv);
    return rc < 0;
}
