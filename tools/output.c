/* output.c -- what actc shows and writes: diagnostics with the source line
   and a caret, results as text, result files written all or none. */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Prints line `line` of file f (1-based) and a caret under column col. */
static void show_source(const char *path, int line, int col)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    char buf[1024];
    int n = 1;
    while (fgets(buf, sizeof buf, f)) {
        if (n == line) {
            buf[strcspn(buf, "\r\n")] = 0;
            fprintf(stderr, "  %s\n  ", buf);
            int c = 1;
            for (const char *p = buf; *p && c < col; p++) {
                if ((*p & 0xC0) == 0x80)
                    continue; /* columns count characters */
                fputc(*p == '\t' ? '\t' : ' ', stderr);
                c++;
            }
            fprintf(stderr, "^\n");
            break;
        }
        if (strchr(buf, '\n'))
            n++;
    }
    fclose(f);
}

int cli_report(const act_error *e)
{
    if (e->line > 0) {
        fprintf(stderr, "%s:%d:%d: error: %s\n", e->file, e->line, e->col, e->message);
        show_source(e->file, e->line, e->col);
    } else if (e->file[0]) {
        fprintf(stderr, "%s: error: %s\n", e->file, e->message);
    } else {
        fprintf(stderr, "actc: error: %s\n", e->message);
    }
    return EXIT_USER;
}

static int out_of_memory(void)
{
    fprintf(stderr, "actc: error: out of memory\n");
    return EXIT_USER;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Loads every *.so of a folder, in sorted order so that clashes and
   `actc list` do not depend on the file system's order. */
static int load_folder(act_context *ctx, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "%s: error: cannot read the plugin folder: %s\n", dir, strerror(errno));
        return EXIT_USER;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (struct dirent *e; !rc && (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 3, ".so"))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **grown = realloc(names, cap * sizeof *names);
            rc = grown ? 0 : out_of_memory();
            names = grown ? grown : names;
        }
        if (!rc && !(names[n] = malloc(strlen(dir) + len + 2)))
            rc = out_of_memory();
        if (!rc)
            sprintf(names[n], "%s/%s", dir, e->d_name);
        n += !rc;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, compare_names);
    act_error err = {0};
    for (size_t i = 0; i < n; i++) {
        if (!rc && act_load_plugin(ctx, names[i], &err))
            rc = cli_report(&err);
        free(names[i]);
    }
    free(names);
    return rc;
}

/* ACT_PLUGIN_PATH: colon-separated plugin files and folders; empty entries
   are skipped, as in PATH. */
static int load_env_plugins(act_context *ctx, const char *list)
{
    char *copy = strdup(list);
    if (!copy)
        return out_of_memory();
    int rc = 0;
    for (char *save = NULL, *p = strtok_r(copy, ":", &save); !rc && p;
         p = strtok_r(NULL, ":", &save)) {
        struct stat st;
        act_error err = {0};
        if (!stat(p, &st) && S_ISDIR(st.st_mode))
            rc = load_folder(ctx, p);
        else if (act_load_plugin(ctx, p, &err))
            rc = cli_report(&err);
    }
    free(copy);
    return rc;
}

int cli_load_plugins(act_context *ctx, const cli_options *o)
{
    act_error err = {0};
    for (int i = 0; i < o->nplugins; i++)
        if (act_load_plugin(ctx, o->plugins[i], &err))
            return cli_report(&err);
    const char *env = getenv("ACT_PLUGIN_PATH");
    return env ? load_env_plugins(ctx, env) : 0;
}

act_program *cli_compile(act_context *ctx, const cli_options *o, act_engine engine)
{
    act_error err = {0};
    act_program *p = act_compile_file(ctx, o->file, o->graph, engine, &err);
    if (!p) {
        cli_report(&err);
        return NULL;
    }
    act_set_threads(p, o->threads);
    return p;
}

int cli_set_from_npy(act_program *p, const cli_binding *b, cli_setter set)
{
    act_error err = {0};
    float *data;
    int64_t shape[IR_MAX_RANK];
    int rank;
    if (rt_npy_read(b->path, &data, shape, &rank, &err))
        return cli_report(&err);
    int rc = set(p, b->name, data, shape, rank, &err);
    free(data);
    if (rc) { /* about the data: reported at the file that holds it */
        snprintf(err.file, sizeof err.file, "%s", b->path);
        err.line = err.col = 0;
        return cli_report(&err);
    }
    return 0;
}

static int set_one(act_program *p, const cli_binding *b, ir_op kind)
{
    ir_value *v = rt_program_value(p, b->name);
    if (!v || v->op != kind) {
        fprintf(stderr, "actc: error: expected %s of graph '%s', found '%s'\n",
                kind == IR_INPUT ? "an input" : "a param", p->g->name, b->name);
        return EXIT_USER;
    }
    return cli_set_from_npy(p, b, act_set);
}

int cli_set_tensors(act_program *p, const cli_options *o, bool inputs)
{
    int rc = 0;
    for (int i = 0; !rc && inputs && i < o->ninputs; i++)
        rc = set_one(p, &o->inputs[i], IR_INPUT);
    for (int i = 0; !rc && i < o->nparams; i++)
        rc = set_one(p, &o->params[i], IR_PARAM);
    return rc;
}

static char *join(const char *dir, const char *prefix, const char *name, const char *suffix)
{
    size_t n = strlen(dir) + strlen(prefix) + strlen(name) + strlen(suffix) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s/%s%s%s", dir, prefix, name, suffix);
    return s;
}

int cli_write_results(const char *dir, const cli_result *r, int n)
{
    struct stat st;
    bool created = false;
    if (stat(dir, &st)) {
        if (mkdir(dir, 0777)) {
            fprintf(stderr, "%s: error: cannot create the directory: %s\n", dir, strerror(errno));
            return EXIT_USER;
        }
        created = true;
    } else if (!S_ISDIR(st.st_mode)) {
        fprintf(stderr, "%s: error: expected a directory for --out, found a file\n", dir);
        return EXIT_USER;
    }
    char **tmp = calloc((size_t)n + 1, sizeof *tmp);
    int written = 0, rc = 0;
    act_error err = {0};
    for (; tmp && written < n; written++) {
        tmp[written] = join(dir, ".actc-partial-", r[written].file, ".npy");
        if (!tmp[written] ||
            rt_npy_write(tmp[written], r[written].data, r[written].shape, r[written].rank, &err)) {
            rc = err.code ? cli_report(&err) : (fprintf(stderr, "actc: error: out of memory\n"), 1);
            break;
        }
    }
    for (int i = 0; !rc && tmp && i < n; i++) {
        char *final = join(dir, "", r[i].file, ".npy");
        if (!final || rename(tmp[i], final)) {
            fprintf(stderr, "%s: error: cannot write: %s\n", final ? final : dir, strerror(errno));
            rc = EXIT_USER;
        }
        free(final);
    }
    if (!tmp)
        rc = EXIT_USER;
    for (int i = 0; tmp && i <= written && i < n; i++) {
        if (rc && tmp[i])
            unlink(tmp[i]);
        free(tmp[i]);
    }
    free(tmp);
    if (rc && created)
        rmdir(dir);
    return rc;
}

void cli_print_result(FILE *f, const char *kind, const cli_result *r)
{
    fprintf(f, "%s %s f32[", kind, r->file);
    int64_t n = 1;
    for (int d = 0; d < r->rank; d++) {
        fprintf(f, "%s%lld", d ? ", " : "", (long long)r->shape[d]);
        n *= r->shape[d];
    }
    fprintf(f, "]\n");
    int64_t cols = r->rank && r->shape[r->rank - 1] ? r->shape[r->rank - 1] : 1;
    for (int64_t i = 0; i < n; i++)
        fprintf(f, "%.9g%s", r->data[i], (i + 1) % cols == 0 ? "\n" : " ");
}
