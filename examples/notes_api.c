/* notes_api.c - a small JSON REST service on SQLite, the database behind the task pool.
   build/notes_api [--host H] [--port P] [--workers N] [--db FILE] [--readers N]
                   [--read-queue N] [--write-queue N] [--slow-limit N] [--access-log PATH|-]
     GET    /notes          -> [{"id":1,"title":"..","body":".."},...]  (?limit=N, 1..1000)
     GET    /notes/:id      -> {"id":..,"title":..,"body":..}, or 404
     POST   /notes          -> 201 and the note; body {"title":"..","body":".."}
     PUT    /notes/:id      -> 200 and the note, or 404
     DELETE /notes/:id      -> 204, or 404
     GET    /slow?ms=N      -> a deliberately slow query (SQL sleep_ms(N), at most 10 s)
     GET    /metrics /health /ready
   Link: -lsqlite3 (only this example needs it).

   How a database stays out of the event loop and fails fast instead of piling up:
   - every query runs on the task pool (httpd_defer), never on a worker;
   - two connection pools: readers (--readers, read-only connections, WAL lets them read
     while the writer writes) and one writer (SQLite has one writer at a time anyway, so
     writes queue here, in order, instead of fighting over the database lock);
   - admission before the task is queued: a pool takes at most size + queue requests;
     past that the handler answers 503 with Retry-After at once (no queue grows without
     bound, a saturated database costs the client one round trip, not a timeout);
   - a connection is acquired late (when the task runs, not when the request arrives) and
     released early (rows copied out, then released; the JSON is built after);
   - the slow route has its own cap (--slow-limit, route max_concurrent), so slow queries
     can never take every reader: the other routes keep their connections;
   - the task pool has one thread per admitted request of both pools, so a waiting read
     never holds a thread a write needs;
   - pool gauges in /metrics: notes_db_connections, notes_db_in_use, notes_db_waiting,
     notes_db_rejected_total by pool. */
#define HTTPD_IMPLEMENTATION
#include "../httpd.h"
#include <sqlite3.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- connection pools ---- */
typedef struct pool {
    const char     *name;
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    sqlite3       **free;               /* idle connections                           */
    int             size, nfree, queue;
    int             admitted;           /* requests holding or waiting for one        */
    int             waiting;
    unsigned long   rejected;
} pool;
static pool readers = { .name = "read" }, writer = { .name = "write" };
static __thread const httpd_task *current_task;   /* for sleep_ms: stop when cancelled */

/* Worker thread: may one more request use the pool? 0: no (answer 503 now). */
static int pool_admit(pool *p) {
    pthread_mutex_lock(&p->mu);
    int ok = p->admitted < p->size + p->queue;
    if (ok) p->admitted++; else p->rejected++;
    pthread_mutex_unlock(&p->mu);
    return ok;
}
static void pool_leave(pool *p) {
    pthread_mutex_lock(&p->mu);
    p->admitted--;
    pthread_mutex_unlock(&p->mu);
}
/* Task thread: a connection, waiting at most behind `queue` others (admission bounds it). */
static sqlite3 *pool_acquire(pool *p) {
    pthread_mutex_lock(&p->mu);
    p->waiting++;
    while (!p->nfree) pthread_cond_wait(&p->cv, &p->mu);
    p->waiting--;
    sqlite3 *db = p->free[--p->nfree];
    pthread_mutex_unlock(&p->mu);
    return db;
}
static void pool_release(pool *p, sqlite3 *db) {
    pthread_mutex_lock(&p->mu);
    p->free[p->nfree++] = db;
    p->admitted--;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}
static double gauge(pool *p, int what) {
    pthread_mutex_lock(&p->mu);
    double v = what == 0 ? p->size : what == 1 ? p->size - p->nfree : what == 2 ? p->waiting
             : (double)p->rejected;
    pthread_mutex_unlock(&p->mu);
    return v;
}
static double r_size(void *a) { (void)a; return gauge(&readers, 0); }
static double w_size(void *a) { (void)a; return gauge(&writer, 0); }
static double r_use(void *a) { (void)a; return gauge(&readers, 1); }
static double w_use(void *a) { (void)a; return gauge(&writer, 1); }
static double r_wait(void *a) { (void)a; return gauge(&readers, 2); }
static double w_wait(void *a) { (void)a; return gauge(&writer, 2); }
static double r_rej(void *a) { (void)a; return gauge(&readers, 3); }
static double w_rej(void *a) { (void)a; return gauge(&writer, 3); }

/* SQL sleep_ms(n): the deliberately slow query; it gives up when the request is gone. */
static void sql_sleep_ms(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    (void)argc;
    long ms = (long)sqlite3_value_int64(argv[0]);
    for (long t = 0; t < ms && !(current_task && httpd_task_cancelled(current_task)); t += 10) {
        struct timespec ts = { 0, (ms - t < 10 ? ms - t : 10) * 1000000L };
        nanosleep(&ts, NULL);
    }
    sqlite3_result_int64(ctx, ms);
}
static int pool_open(pool *p, const char *path, int n, int readonly) {
    p->size = p->nfree = n;
    p->free = (sqlite3 **)calloc((size_t)n, sizeof *p->free);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    for (int i = 0; i < n; i++) {
        int flags = (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
                    | SQLITE_OPEN_NOMUTEX;            /* one thread at a time: the pool's */
        if (sqlite3_open_v2(path, &p->free[i], flags, NULL) != SQLITE_OK) {
            fprintf(stderr, "notes_api: %s: %s\n", path, sqlite3_errmsg(p->free[i]));
            return -1;
        }
        sqlite3_busy_timeout(p->free[i], 5000);
        sqlite3_create_function(p->free[i], "sleep_ms", 1, SQLITE_UTF8, NULL, sql_sleep_ms,
                                NULL, NULL);
    }
    return 0;
}

/* ---- JSON ---- */
typedef struct { char *p; size_t len, cap; } buf;
static int put(buf *b, const char *s, size_t n) {
    if (b->cap - b->len < n + 1) {
        size_t cap = b->cap * 2 + n + 256;
        char *p = (char *)realloc(b->p, cap);
        if (!p) return -1;
        b->p = p; b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}
static void put_str(buf *b, const char *s) {            /* a JSON string (RFC 8259 §7) */
    put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char e[8];
        if (c == '"' || c == '\\') { e[0] = '\\'; e[1] = (char)c; put(b, e, 2); }
        else if (c < 0x20) { snprintf(e, sizeof e, "\\u%04x", c); put(b, e, 6); }
        else put(b, s, 1);
    }
    put(b, "\"", 1);
}
static void put_note(buf *b, long long id, const char *title, const char *body) {
    char num[32];
    put(b, "{\"id\":", 6);
    put(b, num, (size_t)snprintf(num, sizeof num, "%lld", id));
    put(b, ",\"title\":", 9);
    put_str(b, title);
    put(b, ",\"body\":", 8);
    put_str(b, body);
    put(b, "}", 1);
}
/* A JSON string at *pp (after its opening quote) into out (UTF-8); 0 or -1. */
static int json_string(const char **pp, const char *end, buf *out) {
    const char *p = *pp;
    while (p < end && *p != '"') {
        unsigned char c = (unsigned char)*p++;
        if (c < 0x20) return -1;
        if (c != '\\') { put(out, (const char *)&c, 1); continue; }
        if (p == end) return -1;
        char e = *p++, u8[4];
        unsigned cp = 0;
        switch (e) {
        case '"': case '\\': case '/': put(out, &e, 1); continue;
        case 'b': put(out, "\b", 1); continue;
        case 'f': put(out, "\f", 1); continue;
        case 'n': put(out, "\n", 1); continue;
        case 'r': put(out, "\r", 1); continue;
        case 't': put(out, "\t", 1); continue;
        case 'u': break;
        default: return -1;
        }
        for (int k = 0; k < 2; k++) {                    /* \uXXXX, maybe a surrogate pair */
            unsigned v = 0;
            if (end - p < 4) return -1;
            for (int i = 0; i < 4; i++) {
                int h = httpd__hexval((unsigned char)p[i]);
                if (h < 0) return -1;
                v = v * 16 + (unsigned)h;
            }
            p += 4;
            if (k == 0 && v >= 0xd800 && v < 0xdc00) {
                if (end - p < 2 || p[0] != '\\' || p[1] != 'u') return -1;
                p += 2;
                cp = v;
                continue;
            }
            if (k == 1) {
                if (v < 0xdc00 || v > 0xdfff) return -1;
                v = 0x10000 + ((cp - 0xd800) << 10) + (v - 0xdc00);
            } else if (v >= 0xdc00 && v <= 0xdfff) {
                return -1;
            }
            cp = v;
            break;
        }
        int n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
        if (n == 1) u8[0] = (char)cp;
        else if (n == 2) { u8[0] = (char)(0xc0 | cp >> 6); u8[1] = (char)(0x80 | (cp & 63)); }
        else if (n == 3) { u8[0] = (char)(0xe0 | cp >> 12); u8[1] = (char)(0x80 | (cp >> 6 & 63));
                           u8[2] = (char)(0x80 | (cp & 63)); }
        else { u8[0] = (char)(0xf0 | cp >> 18); u8[1] = (char)(0x80 | (cp >> 12 & 63));
               u8[2] = (char)(0x80 | (cp >> 6 & 63)); u8[3] = (char)(0x80 | (cp & 63)); }
        put(out, u8, (size_t)n);
    }
    if (p == end) return -1;
    *pp = p + 1;
    return 0;
}
/* {"title": "...", "body": "..."}: string members only; others are refused. 0 or -1. */
static int parse_note(httpd_str in, buf *title, buf *body) {
    const char *p = in.ptr, *end = in.ptr ? in.ptr + in.len : NULL;
#define WS() while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++
    WS();
    if (p == end || *p++ != '{') return -1;
    WS();
    if (p < end && *p == '}') p++;
    else for (;;) {
        buf key = { 0 }, val = { 0 };
        WS();
        if (p == end || *p++ != '"' || json_string(&p, end, &key) < 0) { free(key.p); return -1; }
        WS();
        if (p == end || *p++ != ':') { free(key.p); return -1; }
        WS();
        if (p == end || *p++ != '"' || json_string(&p, end, &val) < 0) {
            free(key.p); free(val.p);
            return -1;
        }
        buf *dst = !key.p ? NULL : !strcmp(key.p, "title") ? title
                 : !strcmp(key.p, "body") ? body : NULL;
        if (dst) { free(dst->p); *dst = val; } else free(val.p);
        free(key.p);
        WS();
        if (p < end && *p == ',') { p++; continue; }
        if (p < end && *p == '}') { p++; break; }
        return -1;
    }
    WS();
#undef WS
    if (p != end || !title->p || !*title->p || title->len > 200 || (body->p && body->len > 65536))
        return -1;
    if (!body->p) put(body, "", 0);
    return 0;
}

/* ---- requests ---- */
enum { LIST, GET, CREATE, UPDATE, DELETE, SLOW };
typedef struct job {
    int       op, ran, status;
    pool     *pool;
    long long id, limit, ms;
    buf       title, body;          /* in (create, update)                             */
    buf       out;                  /* the response body                               */
    char      err[128];
} job;
static void job_free(job *j) { free(j->title.p); free(j->body.p); free(j->out.p); free(j); }
static void fail(job *j, int status, const char *msg) {
    j->status = status;
    snprintf(j->err, sizeof j->err, "{\"error\":\"%s\"}", msg);
}
/* rows of a note, copied out so that the connection goes back before any formatting */
typedef struct { long long id; char *title, *body; } row;
static void work(void *arg, const httpd_task *task) {
    job *j = (job *)arg;
    j->ran = 1;
    current_task = task;
    sqlite3 *db = pool_acquire(j->pool);                         /* acquired late */
    sqlite3_stmt *st = NULL;
    row *rows = NULL;
    int n = 0, rc = SQLITE_OK;
    static const char *const sql[] = {
        "SELECT id, title, body FROM notes ORDER BY id LIMIT ?1",
        "SELECT id, title, body FROM notes WHERE id = ?1",
        "INSERT INTO notes(title, body) VALUES (?2, ?3) RETURNING id, title, body",
        "UPDATE notes SET title = ?2, body = ?3 WHERE id = ?1 RETURNING id, title, body",
        "DELETE FROM notes WHERE id = ?1 RETURNING id, title, body",
        "SELECT 0, 'slow', sleep_ms(?1)" };
    if (sqlite3_prepare_v2(db, sql[j->op], -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, j->op == LIST ? j->limit : j->op == SLOW ? j->ms : j->id);
        if (j->title.p) sqlite3_bind_text(st, 2, j->title.p, -1, SQLITE_TRANSIENT);
        if (j->body.p) sqlite3_bind_text(st, 3, j->body.p, -1, SQLITE_TRANSIENT);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            row *r2 = (row *)realloc(rows, (size_t)(n + 1) * sizeof *rows);
            if (!r2) break;
            rows = r2;
            rows[n].id = sqlite3_column_int64(st, 0);
            rows[n].title = strdup((const char *)sqlite3_column_text(st, 1));
            rows[n].body = strdup((const char *)sqlite3_column_text(st, 2));
            n++;
        }
    } else {
        rc = SQLITE_ERROR;
    }
    if (rc != SQLITE_DONE) snprintf(j->err, sizeof j->err, "%s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    pool_release(j->pool, db);                                   /* released early */
    current_task = NULL;
    if (rc != SQLITE_DONE) {
        fail(j, 500, "database error");
    } else if (j->op == LIST) {
        j->status = 200;
        put(&j->out, "[", 1);
        for (int i = 0; i < n; i++) {
            if (i) put(&j->out, ",", 1);
            put_note(&j->out, rows[i].id, rows[i].title, rows[i].body);
        }
        put(&j->out, "]\n", 2);
    } else if (!n) {
        fail(j, 404, "no such note");
    } else if (j->op == DELETE) {
        j->status = 204;
    } else {
        j->status = j->op == CREATE ? 201 : 200;
        if (j->op == SLOW) {
            put(&j->out, "{\"slept_ms\":", 12);
            put(&j->out, rows[0].body, strlen(rows[0].body));
            put(&j->out, "}", 1);
        } else {
            put_note(&j->out, rows[0].id, rows[0].title, rows[0].body);
        }
        put(&j->out, "\n", 1);
    }
    for (int i = 0; i < n; i++) { free(rows[i].title); free(rows[i].body); }
    free(rows);
}
static void done(httpd_request *req, void *arg, int status) {
    job *j = (job *)arg;
    if (!j->ran) pool_leave(j->pool);          /* skipped (the client left): not admitted */
    if (status == 0 && j->status && !j->err[0])
        httpd_respond(req, j->status, "application/json", j->out.p ? j->out.p : "", j->out.len);
    else if (status == 0 && j->status)
        httpd_respond(req, j->status, "application/json", j->err, strlen(j->err));
    else
        httpd_respond(req, 500, "application/json", "{\"error\":\"gone\"}", 16);  /* frees it */
    job_free(j);
}
static void answer(httpd_request *req, int status, const char *json) {
    httpd_respond(req, status, "application/json", json, strlen(json));
}
/* Admission, then the task: 503 + Retry-After at once when the pool is full. */
static void submit(httpd_request *req, job *j) {
    if (!pool_admit(j->pool)) {
        job_free(j);
        httpd_add_header(req, "Retry-After", "1");
        answer(req, 503, "{\"error\":\"database busy\"}");
        return;
    }
    if (httpd_defer(req, work, done, j) < 0) {            /* the task queue is full */
        pool_leave(j->pool);
        job_free(j);
        httpd_add_header(req, "Retry-After", "1");
        answer(req, 503, "{\"error\":\"busy\"}");
    }
}
static long long num(httpd_str s, long long dflt, long long lo, long long hi) {
    char t[24], *e;
    if (!s.ptr) return dflt;
    if (!s.len || s.len >= sizeof t) return -1;
    memcpy(t, s.ptr, s.len);
    t[s.len] = 0;
    long long v = strtoll(t, &e, 10);
    return *e || v < lo || v > hi ? -1 : v;
}
static job *new_job(int op, pool *p) {
    job *j = (job *)calloc(1, sizeof *j);
    if (j) { j->op = op; j->pool = p; }
    return j;
}
static void on_notes(httpd_request *req) {
    int write = req->method.len != 3;                     /* GET, else POST */
    job *j = new_job(write ? CREATE : LIST, write ? &writer : &readers);
    if (!j) { answer(req, 503, "{\"error\":\"no memory\"}"); return; }
    if (write && parse_note(req->body, &j->title, &j->body) < 0) {
        job_free(j);
        answer(req, 400, "{\"error\":\"expected {\\\"title\\\": \\\"...\\\", "
                         "\\\"body\\\": \\\"...\\\"}\"}");
        return;
    }
    if (!write && (j->limit = num(httpd_query_param(req, "limit"), 100, 1, 1000)) < 0) {
        job_free(j);
        answer(req, 400, "{\"error\":\"limit: 1 to 1000\"}");
        return;
    }
    submit(req, j);
}
static void on_note(httpd_request *req) {
    int op = httpd_str_eq(req->method, "GET") ? GET : httpd_str_eq(req->method, "PUT") ? UPDATE
           : DELETE;
    job *j = new_job(op, op == GET ? &readers : &writer);
    if (!j) { answer(req, 503, "{\"error\":\"no memory\"}"); return; }
    if ((j->id = num(httpd_param(req, "id"), -1, 1, INT64_MAX)) < 0
        || (op == UPDATE && parse_note(req->body, &j->title, &j->body) < 0)) {
        job_free(j);
        answer(req, 400, "{\"error\":\"bad id or body\"}");
        return;
    }
    submit(req, j);
}
static void on_slow(httpd_request *req) {
    job *j = new_job(SLOW, &readers);
    if (!j) { answer(req, 503, "{\"error\":\"no memory\"}"); return; }
    if ((j->ms = num(httpd_query_param(req, "ms"), 1000, 0, 10000)) < 0) {
        job_free(j);
        answer(req, 400, "{\"error\":\"ms: 0 to 10000\"}");
        return;
    }
    submit(req, j);
}
static void on_health(httpd_request *req) { answer(req, 200, "{\"ok\":true}"); }
/* The server's own answers (404, 405, 413, 503 from the /slow cap, 504, ...) in JSON too. */
static int json_error(httpd_request *req, int status, char *body, size_t cap,
                      const char **content_type) {
    *content_type = "application/json";
    return snprintf(body, cap, "{\"error\":\"%s\",\"request_id\":\"%.*s\"}\n",
                    httpd_reason(status), (int)req->request_id.len, req->request_id.ptr);
}

int main(int argc, char **argv) {
    static httpd_route routes[] = {
        { .method = "GET",    .pattern = "/notes",     .handler = on_notes },
        { .method = "POST",   .pattern = "/notes",     .handler = on_notes,
          .max_body_bytes = 70000 },
        { .method = "GET",    .pattern = "/notes/:id", .handler = on_note },
        { .method = "PUT",    .pattern = "/notes/:id", .handler = on_note,
          .max_body_bytes = 70000 },
        { .method = "DELETE", .pattern = "/notes/:id", .handler = on_note },
        { .method = "GET",    .pattern = "/slow",      .handler = on_slow, .max_concurrent = 2 },
        { .method = "GET",    .pattern = "/metrics",   .handler = httpd_metrics, .quiet = 1 },
        { .method = "GET",    .pattern = "/health",    .handler = on_health, .quiet = 1 },
        { .method = "GET",    .pattern = "/ready",     .handler = httpd_ready, .quiet = 1 },
        { 0 },
    };
#define CONNS "Connections in the pool."
#define INUSE "Connections held by a query."
#define WAITS "Admitted queries waiting for a connection."
#define REJECTS "Requests refused with 503: the pool was full."
    static const httpd_metric metrics[] = {         /* each read at the scrape (gauge()) */
        { "notes_db_connections", CONNS, HTTPD_GAUGE, "pool=\"read\"", r_size, NULL },
        { "notes_db_connections", CONNS, HTTPD_GAUGE, "pool=\"write\"", w_size, NULL },
        { "notes_db_in_use", INUSE, HTTPD_GAUGE, "pool=\"read\"", r_use, NULL },
        { "notes_db_in_use", INUSE, HTTPD_GAUGE, "pool=\"write\"", w_use, NULL },
        { "notes_db_waiting", WAITS, HTTPD_GAUGE, "pool=\"read\"", r_wait, NULL },
        { "notes_db_waiting", WAITS, HTTPD_GAUGE, "pool=\"write\"", w_wait, NULL },
        { "notes_db_rejected_total", REJECTS, HTTPD_COUNTER, "pool=\"read\"", r_rej, NULL },
        { "notes_db_rejected_total", REJECTS, HTTPD_COUNTER, "pool=\"write\"", w_rej, NULL },
        { 0 },
    };
    const char *db = "notes.db";
    int nread = 4, rq = 4, wq = 8;
    httpd_desc d;
    memset(&d, 0, sizeof d);
    d.addr = "127.0.0.1";
    d.port = 8080;
    d.routes = routes;
    d.request_id = 1;
    d.metrics = metrics;
    d.on_error = json_error;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--host")) d.addr = v;
        else if (!strcmp(a, "--port")) d.port = (uint16_t)atoi(v);
        else if (!strcmp(a, "--workers")) d.workers = atoi(v);
        else if (!strcmp(a, "--db")) db = v;
        else if (!strcmp(a, "--readers")) nread = atoi(v);
        else if (!strcmp(a, "--read-queue")) rq = atoi(v);
        else if (!strcmp(a, "--write-queue")) wq = atoi(v);
        else if (!strcmp(a, "--slow-limit")) routes[5].max_concurrent = (uint32_t)atoi(v);
        else if (!strcmp(a, "--access-log")) d.access_log.path = v;
        else { fprintf(stderr, "notes_api: unknown option %s\n", a); return 2; }
    }
    if (argc % 2 == 0) { fprintf(stderr, "notes_api: options take a value\n"); return 2; }
    if (nread < 1 || rq < 0 || wq < 0) return 2;
    readers.queue = rq;
    writer.queue = wq;
    /* the schema first, with the writer; WAL: readers read while it writes */
    if (pool_open(&writer, db, 1, 0) < 0) return 1;
    char *err = NULL;
    if (sqlite3_exec(writer.free[0], "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                     "CREATE TABLE IF NOT EXISTS notes(id INTEGER PRIMARY KEY AUTOINCREMENT,"
                     " title TEXT NOT NULL,"
                     " body TEXT NOT NULL)", NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "notes_api: %s\n", err);
        return 1;
    }
    if (pool_open(&readers, db, nread, 1) < 0) return 1;
    /* a thread for every request both pools may admit: none waits behind the other pool */
    d.task_threads = nread + rq + 1 + wq;
    d.task_queue = (uint32_t)d.task_threads;
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    httpd_server *srv;
    int rc = httpd_start(&d, &srv);
    if (rc < 0) {
        fprintf(stderr, "notes_api: cannot start: %s\n", httpd_strerror(rc));
        return 1;
    }
    printf("notes_api: listening on %s:%d\n", d.addr, httpd_port(srv));
    fflush(stdout);
    rc = httpd_serve(srv);
    httpd_destroy(srv);                     /* every task has ended: the pools are idle */
    for (pool *p = &readers; p; p = p == &readers ? &writer : NULL) {
        for (int i = 0; i < p->nfree; i++) sqlite3_close(p->free[i]);
        free(p->free);
    }
    return rc < 0;
}
