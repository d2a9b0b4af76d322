/* httpd_pack.c - packs a directory into a C source file of httpd_asset entries, for a
   device with no filesystem: the firmware serves its web UI from read-only memory with
   the static-files section of httpd.h (ETags, conditional requests, ranges, precompressed
   variants), allocating nothing.
       build/httpd_pack [--name NAME] [--gzip] [--brotli] [--hidden] [--static] DIR > assets.c
   Then, in the program:
       extern const httpd_asset NAME[]; extern const size_t NAME_count;
       static httpd_static ui = { .assets = NAME, .precompressed = 1 };
       ui.nassets = NAME_count; httpd_static_open(&ui);
       routes: { HTTPD_STATIC_ROUTE("/", &ui) }
   Everything is computed here, at build time: the MIME type (the server's own table), a
   strong ETag (FNV-1a 64 of the bytes), Last-Modified (the file's mtime, or
   SOURCE_DATE_EPOCH for reproducible builds), and for text-like types the gzip -9 and
   brotli -q 11 variants (made by the gzip and brotli programs; a variant is kept only if
   it is smaller). The server never links zlib. Hidden names (".x") and anything but
   regular files and directories are skipped; entries are sorted by path (strcmp), as the
   server's binary search expects. Exit status 1 on any error. */
#define HTTPD_IMPLEMENTATION
#include "../httpd.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct { unsigned char *p; size_t n; } blob;
typedef struct { char *path; blob data, gz, br; long long mtime; } entry;
static entry *ents;
static size_t nents, cents;
static int opt_hidden;

static void die(const char *what, const char *arg) {
    fprintf(stderr, "httpd_pack: %s: %s\n", what, arg);
    exit(1);
}
static blob read_all(int fd) {
    blob b = { NULL, 0 };
    size_t cap = 0;
    for (;;) {
        if (b.n == cap) {
            cap = cap ? cap * 2 : 65536;
            b.p = (unsigned char *)realloc(b.p, cap);
            if (!b.p) die("out of memory", "read");
        }
        ssize_t r = read(fd, b.p + b.n, cap - b.n);
        if (r < 0) die("read", strerror(errno));
        if (r == 0) return b;
        b.n += (size_t)r;
    }
}
/* Runs prog -c ... file and returns what it printed; n == 0 when the program is missing
   or fails (the variant is then left out, with a warning). */
static blob filter(const char *prog, const char *level, const char *file) {
    blob none = { NULL, 0 };
    int fds[2];
    if (pipe(fds) < 0) die("pipe", strerror(errno));
    pid_t pid = fork();
    if (pid < 0) die("fork", strerror(errno));
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        if (!strcmp(prog, "gzip")) execlp("gzip", "gzip", "-c", "-n", level, "--", file, (char *)NULL);
        else execlp(prog, prog, "-c", level, "--", file, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    blob b = read_all(fds[0]);
    close(fds[0]);
    int st;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "httpd_pack: warning: %s failed on %s: no variant\n", prog, file);
        free(b.p);
        return none;
    }
    return b;
}
static void walk(const char *root, const char *rel, int gz, int br) {
    char dirpath[4096];
    snprintf(dirpath, sizeof dirpath, "%s%s%s", root, *rel ? "/" : "", rel);
    DIR *d = opendir(dirpath);
    if (!d) die(dirpath, strerror(errno));
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        if (!strcmp(nm, ".") || !strcmp(nm, "..") || (nm[0] == '.' && !opt_hidden)) continue;
        char r2[4096], full[8192];
        snprintf(r2, sizeof r2, "%s%s%s", rel, *rel ? "/" : "", nm);
        snprintf(full, sizeof full, "%s/%s", root, r2);
        struct stat st;
        if (lstat(full, &st) < 0) die(full, strerror(errno));
        if (S_ISDIR(st.st_mode)) { walk(root, r2, gz, br); continue; }
        if (!S_ISREG(st.st_mode)) { fprintf(stderr, "httpd_pack: skipped %s\n", full); continue; }
        int dir_flag;
        char clean[4096];
        if (httpd__static_clean(r2, strlen(r2), clean, sizeof clean, opt_hidden, &dir_flag) < 0
            || strchr(r2, '%'))
            die("a name the server would refuse", full);
        if (nents == cents) {
            cents = cents ? cents * 2 : 64;
            ents = (entry *)realloc(ents, cents * sizeof *ents);
            if (!ents) die("out of memory", full);
        }
        entry *e = &ents[nents++];
        memset(e, 0, sizeof *e);
        e->path = strdup(r2);
        int fd = open(full, O_RDONLY | O_CLOEXEC);
        if (fd < 0) die(full, strerror(errno));
        e->data = read_all(fd);
        close(fd);
        const char *sde = getenv("SOURCE_DATE_EPOCH");
        e->mtime = sde ? atoll(sde) : (long long)st.st_mtime;
        const char *type = httpd__static_mime(NULL, r2, strlen(r2));
        if (!httpd__static_compressible(type) || e->data.n < 32) continue;
        if (gz) e->gz = filter("gzip", "-9", full);
        if (br) e->br = filter("brotli", "--quality=11", full);
        if (e->gz.n >= e->data.n) { free(e->gz.p); e->gz.p = NULL; e->gz.n = 0; }
        if (e->br.n >= e->data.n) { free(e->br.p); e->br.p = NULL; e->br.n = 0; }
    }
    closedir(d);
}
static int by_path(const void *a, const void *b) {
    return strcmp(((const entry *)a)->path, ((const entry *)b)->path);
}
static unsigned long long fnv1a(const blob *b) {
    unsigned long long h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < b->n; i++) { h ^= b->p[i]; h *= 0x100000001b3ull; }
    return h;
}
static void emit_bytes(const char *name, size_t i, const char *sfx, const blob *b) {
    printf("static const unsigned char %s_%zu%s[%zu] = {", name, i, sfx, b->n ? b->n : 1);
    for (size_t k = 0; k < b->n; k++) printf("%s%u,", k % 20 ? "" : "\n", b->p[k]);
    printf("%s};\n", b->n ? "\n" : "0");
}
static void emit_str(const char *s) {
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f) printf("\\%03o", (unsigned char)*s);
        else putchar(*s);
    }
    putchar('"');
}
int main(int argc, char **argv) {
    const char *name = "httpd_assets", *dir = NULL, *linkage = "";
    int gz = 0, br = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--name") && i + 1 < argc) name = argv[++i];
        else if (!strcmp(argv[i], "--gzip")) gz = 1;
        else if (!strcmp(argv[i], "--brotli")) br = 1;
        else if (!strcmp(argv[i], "--hidden")) opt_hidden = 1;
        else if (!strcmp(argv[i], "--static")) linkage = "static ";
        else if (argv[i][0] != '-' && !dir) dir = argv[i];
        else dir = NULL, i = argc;
    }
    if (!dir) {
        fprintf(stderr, "usage: %s [--name NAME] [--gzip] [--brotli] [--hidden] [--static] DIR "
                "> assets.c\n", argv[0]);
        return 2;
    }
    walk(dir, "", gz, br);
    qsort(ents, nents, sizeof *ents, by_path);
    printf("/* generated by httpd_pack from %s: %zu files; do not edit */\n", dir, nents);
    printf("#ifndef HTTPD_H_INCLUDED\n#include \"httpd.h\"\n#endif\n");
    for (size_t i = 0; i < nents; i++) {
        emit_bytes(name, i, "", &ents[i].data);
        if (ents[i].gz.n) emit_bytes(name, i, "_gz", &ents[i].gz);
        if (ents[i].br.n) emit_bytes(name, i, "_br", &ents[i].br);
    }
    if (!*linkage) printf("extern const httpd_asset %s[];\nextern const size_t %s_count;\n", name, name);
    printf("%sconst httpd_asset %s[%zu] = {\n", linkage, name, nents ? nents : 1);
    for (size_t i = 0; i < nents; i++) {
        entry *e = &ents[i];
        printf("  { ");
        emit_str(e->path);
        printf(", ");
        emit_str(httpd__static_mime(NULL, e->path, strlen(e->path)));
        printf(", \"\\\"%016llx\\\"\", %lldLL, %s_%zu, %zuu,\n    ", fnv1a(&e->data), e->mtime, name, i, e->data.n);
        if (e->gz.n) printf("%s_%zu_gz, ", name, i); else printf("NULL, ");
        if (e->br.n) printf("%s_%zu_br, ", name, i); else printf("NULL, ");
        printf("%zuu, %zuu, ", e->gz.n, e->br.n);
        if (e->gz.n) printf("\"\\\"%016llx\\\"\", ", fnv1a(&e->gz)); else printf("NULL, ");
        if (e->br.n) printf("\"\\\"%016llx\\\"\" },\n", fnv1a(&e->br)); else printf("NULL },\n");
    }
    if (!nents) printf("  { NULL, NULL, NULL, 0, NULL, 0, NULL, NULL, 0, 0, NULL, NULL },\n");
    printf("};\n%sconst size_t %s_count = %zu;\n", linkage, name, nents);
    return fflush(stdout) != 0 || ferror(stdout);
}
