/* support.c -- see support.h. */
#include "support.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

char *ts_tmpdir(void)
{
    char *dir = strdup("/tmp/act-test-XXXXXX");
    assert_non_null(dir);
    assert_non_null(mkdtemp(dir));
    return dir;
}

void ts_rmtree(const char *dir)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int ts_count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

char *ts_read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = 0;
    fclose(f);
    return s;
}

void ts_write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

void ts_write_npy(const char *path, const float *data, const int64_t *shape, int rank)
{
    act_error err = {0};
    assert_int_equal(rt_npy_write(path, data, shape, rank, &err), 0);
}

int ts_run(const char *cmd, char **out, char **err)
{
    char *dir = ts_tmpdir();
    size_t n = strlen(cmd) + 2 * strlen(dir) + 64;
    char *full = malloc(n);
    assert_non_null(full);
    snprintf(full, n, "( %s ) >'%s/out' 2>'%s/err' </dev/null", cmd, dir, dir);
    int status = system(full);
    free(full);
    char path[1100];
    if (out) {
        snprintf(path, sizeof path, "%s/out", dir);
        *out = ts_read_text(path);
    }
    if (err) {
        snprintf(path, sizeof path, "%s/err", dir);
        *err = ts_read_text(path);
    }
    ts_rmtree(dir);
    free(dir);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

act_program *ts_compile(act_context *ctx, const char *src)
{
    return ts_compile_for(ctx, src, ACT_ENGINE_INTERP);
}

act_program *ts_compile_for(act_context *ctx, const char *src, act_engine engine)
{
    act_error err = {0};
    act_program *p = act_compile_string(ctx, src, "test.act", NULL, engine, &err);
    if (!p)
        fail_msg("%s:%d:%d: %s\n%s", err.file, err.line, err.col, err.message, src);
    return p;
}

const rt_tensor *ts_value(act_program *p, const char *name)
{
    bool grad = !strncmp(name, "d_", 2) && !rt_program_value(p, name);
    ir_value *v = rt_program_value(p, grad ? name + 2 : name);
    assert_non_null(v);
    if (!grad)
        return &p->t[v->id];
    ir_value *g = p->g->grad ? p->g->grad[v->id] : NULL;
    return g ? &p->t[g->id] : NULL;
}

bool ts_close(double got, double want, double rtol, double atol)
{
    if (want != want)
        return got != got;
    return got == want || __builtin_fabs(got - want) <= rtol * __builtin_fabs(want) + atol;
}

/* "2x3" -> rank 2, {2, 3}; returns the element count. */
static int64_t parse_shape(const char *s, int *rank, int64_t *shape)
{
    int64_t n = 1;
    *rank = 0;
    for (const char *p = s; *p;) {
        shape[(*rank)++] = strtoll(p, (char **)&p, 10);
        n *= shape[*rank - 1];
        if (*p == 'x')
            p++;
    }
    return n;
}

static double *read_values(char **save, int64_t n)
{
    double *v = malloc((size_t)n * sizeof *v);
    assert_non_null(v);
    for (int64_t i = 0; i < n; i++) {
        char *tok = strtok_r(NULL, " \t\n", save);
        assert_non_null(tok);
        v[i] = strtod(tok, NULL);
    }
    return v;
}

int ts_op_cases(const char *path, ts_op_case **cases)
{
    char *text = ts_read_text(path);
    assert_non_null(text);
    int n = 0, cap = 32;
    ts_op_case *cs = calloc((size_t)cap, sizeof *cs), *c = NULL;
    char *line_save, *line = strtok_r(text, "\n", &line_save);
    for (; line; line = strtok_r(NULL, "\n", &line_save)) {
        char *save, *kw = strtok_r(line, " \t", &save);
        if (!kw || kw[0] == '#')
            continue;
        if (!strcmp(kw, "case")) {
            assert_true(n < cap);
            c = &cs[n++];
            snprintf(c->name, sizeof c->name, "%s", strtok_r(NULL, " \t", &save));
            char *args = strtok_r(NULL, "\n", &save);
            snprintf(c->args, sizeof c->args, "%s", args ? args : "");
        } else if (!strcmp(kw, "in")) {
            int k = c->nin++;
            snprintf(c->in_name[k], sizeof c->in_name[k], "%s", strtok_r(NULL, " \t", &save));
            c->in_n[k] = parse_shape(strtok_r(NULL, " \t", &save), &c->in_rank[k], c->in_shape[k]);
            c->in[k] = read_values(&save, c->in_n[k]);
        } else if (!strcmp(kw, "w")) {
            c->has_w = true;
            int64_t m = parse_shape(strtok_r(NULL, " \t", &save), &c->w_rank, c->w_shape);
            c->w = read_values(&save, m);
        } else if (!strcmp(kw, "out")) {
            c->out_n = parse_shape(strtok_r(NULL, " \t", &save), &c->out_rank, c->out_shape);
            c->out = read_values(&save, c->out_n);
        } else if (!strcmp(kw, "grad")) {
            int k = c->ngrad++;
            snprintf(c->grad_name[k], sizeof c->grad_name[k], "%s", strtok_r(NULL, " \t", &save));
            int rank;
            int64_t shape[4];
            c->grad_n[k] = parse_shape(strtok_r(NULL, " \t", &save), &rank, shape);
            c->grad[k] = read_values(&save, c->grad_n[k]);
        }
    }
    free(text);
    *cases = cs;
    return n;
}

void ts_op_cases_free(ts_op_case *cases, int n)
{
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < cases[i].nin; k++)
            free(cases[i].in[k]);
        for (int k = 0; k < cases[i].ngrad; k++)
            free(cases[i].grad[k]);
        free(cases[i].w);
        free(cases[i].out);
    }
    free(cases);
}

void ts_check_df_at(const ir_activation *act, const double *p, double x)
{
    double h = 1e-6 * fmax(1, fabs(x));
    double fd = (ir_expr_eval(act->f_eval, x + h, 0, p) - ir_expr_eval(act->f_eval, x - h, 0, p)) / (2 * h);
    double f = ir_expr_eval(act->f_eval, x, 0, p);
    double df = ir_expr_eval(act->df, x, f, p);
    if (!(fabs(df - fd) <= 1e-7 * (1 + fabs(df) + fabs(f))))
        fail_msg("%s' at %g: %.17g, finite difference %.17g", act->name, x, df, fd);
}

int64_t ts_ordered(float f)
{
    int32_t i;
    memcpy(&i, &f, 4);
    return i >= 0 ? i : -(int64_t)(i & 0x7fffffff);
}

float ts_from_ordered(int64_t k)
{
    uint32_t u = k >= 0 ? (uint32_t)k : 0x80000000u | (uint32_t)-k;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

double ts_ulps(float a, float b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b) ? 0 : INFINITY;
    return fabs((double)(ts_ordered(a) - ts_ordered(b)));
}

const char *const ts_other_calls[] = {
    "leaky_relu(x, alpha = 0.2)",
    "elu(x, alpha = 0.5)",
    "celu(x, alpha = 2)",
    "gelu(x, approximate = \"tanh\")",
    "hard_tanh(x, min_val = -2, max_val = 3)",
    "swish(x, beta = 1.7)",
    "softplus(x, beta = 2, threshold = 5)",
    "squareplus(x, b = 1)",
    "rrelu(x)",
    "rrelu(x, lower = 0.1, upper = 0.3, training = 1, seed = 3)",
    "maxout(x)",
    "maxout(x, k = 3)",
    "softmax(x)",
    "softmax(x, axis = 0)",
    "log_softmax(x)",
    "log_softmax(x, axis = 0)",
    "scale(x, s = -1.5)",
    "relu(scale(x, s = 3))",
    NULL,
};
