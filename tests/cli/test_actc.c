/* test_actc.c -- actc as a user runs it: exit codes (0 ok, 1 user error,
   2 bad usage), FILE:LINE:COL diagnostics, results on stdout or in --out,
   and no partial output left behind by a failing command. */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EX ACT_SOURCE_DIR "/examples/"
#define XOR_IN " --input x=" EX "data/xor_x.npy --input t=" EX "data/xor_t.npy"

static int actc(const char *args, char **out, char **err)
{
    char cmd[4096];
    if (snprintf(cmd, sizeof cmd, "'%s' %s", ACTC_PATH, args) >= (int)sizeof cmd)
        fail_msg("command too long: %s", args);
    return ts_run(cmd, out, err);
}

static void expect_exit(const char *args, int code, const char *in_stderr)
{
    char *out, *err;
    int rc = actc(args, &out, &err);
    if (rc != code || (in_stderr && !strstr(err, in_stderr)))
        fail_msg("actc %s: exit %d (want %d)\nstdout: %s\nstderr: %s", args, rc, code, out, err);
    free(out);
    free(err);
}

/* Runs actc, expecting success and `line` in its stdout. */
static void expect_stdout(const char *args, const char *line)
{
    char *out;
    int rc = actc(args, &out, NULL);
    if (rc || !strstr(out, line))
        fail_msg("actc %s: exit %d\nstdout: %s\nexpected: %s", args, rc, out, line);
    free(out);
}

static void test_actc_usage_errors_exit_2(void **state)
{
    (void)state;
    expect_exit("", 2, "expected a command");
    expect_exit("frobnicate " EX "xor.act", 2, "unknown command 'frobnicate'");
    expect_exit("run " EX "xor.act --bogus", 2, "unknown option '--bogus'");
    expect_exit("run " EX "xor.act --engine fast", 2, "expected --engine jit or interp");
    expect_exit("run " EX "xor.act --input", 2, "expected a value after '--input'");
    expect_exit("run " EX "xor.act --input x", 2, "expected NAME=FILE.npy");
    expect_exit("check " EX "xor.act --out d", 2, "unknown option '--out'");
    expect_exit("run " EX "xor.act --threads zero", 2, "--threads");
    expect_exit("grad " EX "xor.act" XOR_IN, 2, "expected --out DIR");
    expect_exit("run", 2, "expected a FILE.act");
}

static void test_actc_help_and_version(void **state)
{
    (void)state;
    char *out;
    assert_int_equal(actc("--version", &out, NULL), 0);
    assert_non_null(strstr(out, "actc " ACT_VERSION_STRING));
    free(out);
    assert_int_equal(actc("run --help", &out, NULL), 0);
    assert_non_null(strstr(out, "usage: actc run FILE.act"));
    free(out);
    assert_int_equal(actc("-h", &out, NULL), 0);
    assert_non_null(strstr(out, "actc grad"));
    free(out);
}

static void test_actc_check_lists_the_graph(void **state)
{
    (void)state;
    char *out;
    assert_int_equal(actc("check " EX "xor.act", &out, NULL), 0);
    assert_non_null(strstr(out, "input  x : f32[N, 2]"));
    assert_non_null(strstr(out, "param  W1 : f32[2, 2]"));
    assert_non_null(strstr(out, "output y : f32[N, 1]"));
    assert_non_null(strstr(out, "loss   L : f32[]"));
    free(out);
}

static void test_actc_reports_errors_at_their_position(void **state)
{
    (void)state;
    char *dir = ts_tmpdir(), path[512], args[1024];
    snprintf(path, sizeof path, "%s/bad.act", dir);
    ts_write_text(path, "graph g {\n    input x : f32[4]\n    y = reluu(x)\n    output y\n}\n");
    snprintf(args, sizeof args, "check %s", path);
    char want[600];
    snprintf(want, sizeof want, "%s:3:9: error: ", path);
    expect_exit(args, 1, want);
    expect_exit(args, 1, "reluu");
    expect_exit(args, 1, "        ^"); /* the caret under column 9 */
    snprintf(args, sizeof args, "check %s/missing.act", dir);
    expect_exit(args, 1, "missing.act");
    ts_rmtree(dir);
    free(dir);
}

static void test_actc_print_is_idempotent(void **state)
{
    (void)state;
    static const char *const files[] = {"xor.act", "mlp.act", "custom.act"};
    char *dir = ts_tmpdir();
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char args[1024], *once, *twice, path[512];
        snprintf(args, sizeof args, "print " EX "%s", files[i]);
        assert_int_equal(actc(args, &once, NULL), 0);
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        ts_write_text(path, once);
        snprintf(args, sizeof args, "print %s", path);
        assert_int_equal(actc(args, &twice, NULL), 0);
        assert_string_equal(once, twice);
        free(once);
        free(twice);
    }
    ts_rmtree(dir);
    free(dir);
}

static void test_actc_run_prints_outputs(void **state)
{
    (void)state;
    char *out;
    assert_int_equal(actc("run " EX "xor.act --input x=" EX "data/xor_x.npy", &out, NULL), 0);
    assert_non_null(strstr(out, "output y f32[4, 1]"));
    assert_null(strstr(out, "loss")); /* t not given: no loss */
    free(out);
    assert_int_equal(actc("run " EX "xor.act" XOR_IN, &out, NULL), 0);
    assert_non_null(strstr(out, "loss L f32[]"));
    free(out);
}

static float *read_npy(const char *dir, const char *name, int64_t *shape, int *rank)
{
    char path[600];
    if (snprintf(path, sizeof path, "%s/%s.npy", dir, name) >= (int)sizeof path)
        fail_msg("path too long: %s/%s", dir, name);
    float *data;
    act_error err = {0};
    if (rt_npy_read(path, &data, shape, rank, &err))
        fail_msg("%s: %s", path, err.message);
    return data;
}

static void test_actc_run_and_grad_write_npy_files(void **state)
{
    (void)state;
    char *dir = ts_tmpdir(), args[2048], out[600];
    snprintf(out, sizeof out, "%s/new", dir);
    snprintf(args, sizeof args, "run " EX "xor.act" XOR_IN " --out %s", out);
    expect_exit(args, 0, NULL);
    assert_int_equal(ts_count_entries(out), 2); /* y.npy, L.npy */
    int64_t shape[4];
    int rank;
    float *l = read_npy(out, "L", shape, &rank);
    assert_int_equal(rank, 0);
    free(l);
    snprintf(args, sizeof args, "grad " EX "xor.act" XOR_IN " --out %s", out);
    expect_exit(args, 0, NULL);
    static const char *const grads[] = {"d_x", "d_t", "d_W1", "d_b1", "d_W2", "d_b2"};
    for (size_t i = 0; i < sizeof grads / sizeof *grads; i++)
        free(read_npy(out, grads[i], shape, &rank));
    float *dw = read_npy(out, "d_W1", shape, &rank);
    assert_int_equal(rank, 2);
    assert_true(shape[0] == 2 && shape[1] == 2);
    free(dw);
    ts_rmtree(dir);
    free(dir);
}

/* A failing command leaves nothing: the --out folder is not even made. */
static void test_actc_failure_leaves_no_output(void **state)
{
    (void)state;
    char *dir = ts_tmpdir(), args[2048], out[600], bad[600];
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(bad, sizeof bad, "%s/x.npy", dir);
    float x[3] = {1, 2, 3};
    int64_t n = 3;
    ts_write_npy(bad, x, &n, 1); /* rank 1, the graph wants [N, 2] */
    snprintf(args, sizeof args,
             "grad " EX "xor.act --input x=%s --input t=" EX "data/xor_t.npy --out %s", bad, out);
    expect_exit(args, 1, bad);
    assert_int_equal(ts_count_entries(out), 0);
    ts_write_text(bad, "not an npy file\n");
    snprintf(args, sizeof args, "run " EX "xor.act --input x=%s --out %s", bad, out);
    expect_exit(args, 1, bad);
    snprintf(args, sizeof args, "run " EX "xor.act --input q=%s --out %s", bad, out);
    expect_exit(args, 1, "expected an input of graph 'xor', found 'q'");
    assert_int_equal(ts_count_entries(out), 0);
    assert_int_equal(ts_count_entries(dir), 1); /* only x.npy */
    ts_rmtree(dir);
    free(dir);
}

static void test_actc_grad_from_output_gradient(void **state)
{
    (void)state;
    char *dir = ts_tmpdir(), args[2048], dy[600];
    snprintf(dy, sizeof dy, "%s/dy.npy", dir);
    float ones[12];
    for (int i = 0; i < 12; i++)
        ones[i] = 1;
    int64_t shape[2] = {3, 4};
    ts_write_npy(dy, ones, shape, 2);
    snprintf(args, sizeof args,
             "grad " EX "custom.act --input x=" EX "data/custom_x.npy "
             "--output-grad y=%s --out %s/g",
             dy, dir);
    expect_exit(args, 0, NULL);
    char g[600];
    snprintf(g, sizeof g, "%s/g", dir);
    assert_int_equal(ts_count_entries(g), 3); /* d_x, d_W, d_b */
    snprintf(args, sizeof args,
             "grad " EX "custom.act --input x=" EX "data/custom_x.npy --out %s/h", dir);
    expect_exit(args, 1, "output gradients");
    ts_rmtree(dir);
    free(dir);
}

/* Training XOR with SGD learns it: the trained params classify all four. */
static void test_actc_train_learns_xor(void **state)
{
    (void)state;
    char *dir = ts_tmpdir(), args[2048], *out;
    snprintf(args, sizeof args,
             "train " EX "xor.act" XOR_IN " --epochs 3000 --lr 2 --batch 4 --out %s", dir);
    assert_int_equal(actc(args, &out, NULL), 0);
    assert_non_null(strstr(out, "epoch 3000/3000"));
    free(out);
    snprintf(args, sizeof args,
             "run " EX "xor.act --input x=" EX "data/xor_x.npy --param W1=%s/W1.npy "
             "--param b1=%s/b1.npy --param W2=%s/W2.npy --param b2=%s/b2.npy --out %s/run",
             dir, dir, dir, dir, dir);
    expect_exit(args, 0, NULL);
    char run[600];
    snprintf(run, sizeof run, "%s/run", dir);
    int64_t shape[4];
    int rank;
    float *y = read_npy(run, "y", shape, &rank);
    const float want[4] = {0, 1, 1, 0};
    for (int i = 0; i < 4; i++)
        if (fabsf(y[i] - want[i]) > 0.1f)
            fail_msg("xor(%d) = %g after training, want %g", i, y[i], want[i]);
    free(y);
    ts_rmtree(dir);
    free(dir);
}

static void test_actc_list_shows_every_activation(void **state)
{
    (void)state;
    char *out;
    assert_int_equal(actc("list", &out, NULL), 0);
    act_context *ctx = act_context_new();
    for (int i = 0; i < ir_registry_count(ctx->reg); i++) {
        char head[128];
        snprintf(head, sizeof head, "\n%s (built-in)\n", ir_registry_at(ctx->reg, i)->name);
        if (!strstr(out, head))
            fail_msg("actc list lacks %s", head);
    }
    act_context_free(ctx);
    assert_non_null(strstr(
        out,
        "sigmoid (built-in)\n  params: none\n  f(x)  = sigmoid(x)\n  f'(x) = y")); /* reads y */
    assert_non_null(strstr(out, "\nsoftmax\n  params: axis = -1"));
    free(out);
}

/* The JIT (the default) and the interpreter print the same results. */
static void test_actc_engines_agree(void **state)
{
    (void)state;
    char *jit, *interp;
    assert_int_equal(actc("run " EX "mlp.act --input x=" EX "data/spiral_x.npy --input t=" EX
                          "data/spiral_t.npy",
                          &jit, NULL),
                     0);
    assert_int_equal(actc("run " EX "mlp.act --engine=interp --input x=" EX "data/spiral_x.npy "
                          "--input t=" EX "data/spiral_t.npy",
                          &interp, NULL),
                     0);
    /* same header lines and values to 6 digits */
    const char *a = jit, *b = interp;
    int lines = 0;
    while (*a && *b) {
        double x = strtod(a, (char **)&a), y = strtod(b, (char **)&b);
        if (fabs(x - y) > 1e-6 * (1 + fabs(y)))
            fail_msg("jit %.9g, interp %.9g after %d values", x, y, lines);
        lines++;
        while (*a && (*a < '0' || *a > '9') && *a != '-')
            a++;
        while (*b && (*b < '0' || *b > '9') && *b != '-')
            b++;
    }
    assert_true(lines > 450);
    free(jit);
    free(interp);
}

static void test_actc_picks_a_graph(void **state)
{
    (void)state;
    char *dir = ts_tmpdir(), path[600], args[1024];
    snprintf(path, sizeof path, "%s/two.act", dir);
    ts_write_text(path, "graph a {\n input x : f32[2]\n y = relu(x)\n output y\n}\n"
                        "graph b {\n input x : f32[2]\n y = tanh(x)\n output y\n}\n");
    snprintf(args, sizeof args, "check %s", path);
    expect_exit(args, 1, "a, b");
    snprintf(args, sizeof args, "check %s --graph b", path);
    expect_exit(args, 0, NULL);
    snprintf(args, sizeof args, "check --graph=c %s", path);
    expect_exit(args, 1, "'c'");
    ts_rmtree(dir);
    free(dir);
}

/* --threads reaches the program: bench says how many threads a batch
   runs on, and grad gives one thread's results on two. */
static void test_actc_threads_split_the_batch(void **state)
{
    (void)state;
    static const char *const mlp = ACT_SOURCE_DIR "/bench/mlp784.act";
    char args[4096];
    snprintf(args, sizeof args, "bench %s --size N=64 --threads 2", mlp);
    expect_stdout(args, "threads   2 (N = 64 rows)\n");
    snprintf(args, sizeof args, "bench %s --size N=64 --threads 1", mlp);
    expect_stdout(args, "threads   1 (N = 64 rows)\n");
    expect_stdout("bench " EX "xor.act --threads 2",
                  "threads   1 (N = 256 rows, too little work to split)\n");
    char *dir = ts_tmpdir(), x[600], t[600], out[2][600];
    float *xs = malloc(64 * 784 * sizeof *xs), ts[64 * 10] = {0};
    for (int i = 0; i < 64 * 784; i++)
        xs[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
    for (int i = 0; i < 64; i++)
        ts[i * 10 + i % 10] = 1;
    snprintf(x, sizeof x, "%s/x.npy", dir);
    snprintf(t, sizeof t, "%s/t.npy", dir);
    ts_write_npy(x, xs, (int64_t[]){64, 784}, 2);
    ts_write_npy(t, ts, (int64_t[]){64, 10}, 2);
    free(xs);
    for (int k = 0; k < 2; k++) {
        snprintf(out[k], sizeof out[k], "%s/out%d", dir, k + 1);
        snprintf(args, sizeof args, "grad %s --input x=%s --input t=%s --out %s --threads %d", mlp,
                 x, t, out[k], k + 1);
        expect_exit(args, 0, NULL);
    }
    static const char *const names[] = {"L", "d_x", "d_W1", "d_b1", "d_W3"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        int64_t shape[4];
        int rank;
        float *a = read_npy(out[0], names[i], shape, &rank);
        float *b = read_npy(out[1], names[i], shape, &rank);
        double scale = 0;
        for (int64_t e = 0; e < rt_count(shape, rank); e++)
            scale = fmax(scale, fabs(a[e]));
        for (int64_t e = 0; e < rt_count(shape, rank); e++)
            if (!(fabs(a[e] - b[e]) <= 1e-5 * scale))
                fail_msg("%s[%lld]: %.9g on 1 thread, %.9g on 2", names[i], (long long)e, a[e],
                         b[e]);
        free(a);
        free(b);
    }
    ts_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_actc_usage_errors_exit_2),
        cmocka_unit_test(test_actc_help_and_version),
        cmocka_unit_test(test_actc_check_lists_the_graph),
        cmocka_unit_test(test_actc_reports_errors_at_their_position),
        cmocka_unit_test(test_actc_print_is_idempotent),
        cmocka_unit_test(test_actc_run_prints_outputs),
        cmocka_unit_test(test_actc_run_and_grad_write_npy_files),
        cmocka_unit_test(test_actc_failure_leaves_no_output),
        cmocka_unit_test(test_actc_grad_from_output_gradient),
        cmocka_unit_test(test_actc_train_learns_xor),
        cmocka_unit_test(test_actc_list_shows_every_activation),
        cmocka_unit_test(test_actc_engines_agree),
        cmocka_unit_test(test_actc_picks_a_graph),
        cmocka_unit_test(test_actc_threads_split_the_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
