/* test_print.c -- ir/print.c: the canonical text of a module, printing the
   parse of printed text gives it back, and so does every .act file in examples/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ir/ir.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parses src (which must be good) and prints it; caller frees. */
static char *reprint(const char *file, const char *src)
{
    act_error err = {0};
    ir_module *m = ir_parse(file, src, &err);
    if (!m)
        fail_msg("%s:%d:%d: %s", file, err.line, err.col, err.message);
    char *text = ir_print(m);
    ir_module_free(m);
    assert_non_null(text);
    return text;
}

/* print(parse(print(parse(src)))) == print(parse(src)) */
static void assert_idempotent(const char *file, const char *src)
{
    char *once = reprint(file, src);
    char *twice = reprint(file, once);
    assert_string_equal(twice, once);
    free(once);
    free(twice);
}

static void test_print_writes_canonical_text(void **state)
{
    (void)state;
    const char *src = "act 1\n"
                      "graph net {\n"
                      "  input x : f32[N,784]   # images\n"
                      "  param W1 : f32[784, 256] = glorot( seed = 1 )\n"
                      "  param b1 : f32[256] = zeros\n"
                      "  param s : f32[1] = [ 0.25 ]\n"
                      "  param W2 : f32[256,10] = uniform(-.1, 0.1)\n"
                      "  param b2 : f32[10] = fill(0.5)\n"
                      "  h = leaky_relu(dense(x,W1,b1), alpha=-0.1)\n"
                      "  a = prelu(h, s)\n"
                      "  z = dense(a,\n      W2, b2)\n"
                      "  p = gelu(softmax(z), approximate = \"tanh\")\n"
                      "  output p\n"
                      "  input t : f32[N, 10]\n"
                      "  loss L = softmax_cross_entropy(z, t); output z\n"
                      "}\n"
                      "graph small { input v : f32[3]; output v }\n";
    const char *want = "act 1\n"
                       "\n"
                       "graph net {\n"
                       "    input x : f32[N, 784]\n"
                       "    param W1 : f32[784, 256] = glorot(seed = 1)\n"
                       "    param b1 : f32[256] = zeros\n"
                       "    param s : f32[1] = [0.25]\n"
                       "    param W2 : f32[256, 10] = uniform(-0.1, 0.1, seed = 0)\n"
                       "    param b2 : f32[10] = fill(0.5)\n"
                       "    h = leaky_relu(dense(x, W1, b1), alpha = -0.1)\n"
                       "    a = prelu(h, s)\n"
                       "    z = dense(a, W2, b2)\n"
                       "    p = gelu(softmax(z), approximate = \"tanh\")\n"
                       "    input t : f32[N, 10]\n"
                       "    loss L = softmax_cross_entropy(z, t)\n"
                       "    output p, z\n"
                       "}\n"
                       "\n"
                       "graph small {\n"
                       "    input v : f32[3]\n"
                       "    output v\n"
                       "}\n";
    char *text = reprint("t.act", src);
    assert_string_equal(text, want);
    free(text);
}

static const char *const idempotent_sources[] = {
    "graph g { input x : f32[2]; output x }\n",
    "activation sq2(x; b = 4) = (x + sqrt(x*x + b)) / 2\n"
    "activation mysig(z) = 1 / (1 + exp(-z))  grad = y * (1 - y)\n"
    "graph g {\n input x : f32[B, 3]\n h = sq2(mysig(x), b = -1e-3)\n output h\n}\n",
    "graph g {\n"
    "  param a : f32[2, 2] = [[1, 2], [3, 4.5e10]]\n"
    "  param b : f32[2] = npy(\"dir \\\\ \\\"q\\\".npy\")\n"
    "  param c : f32[2] = normal(0, 0.01, seed = 9007199254740992)\n"
    "  param d : f32[2] = ones\n"
    "  param e : f32[2]\n"
    "  param f : f32[2, 2] = glorot\n"
    "  output a, b, c, d, e, f\n}\n",
    "graph g {\n input y : f32[N, 10]\n input t : f32[N, 10]\n"
    " loss L = mse(scale(y, s = 0.1), t)\n}\n",
    "graph a { input x : f32[1]; output x }\ngraph b { input x : f32[1]; output x }\n",
};

static void test_print_is_idempotent(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof idempotent_sources / sizeof *idempotent_sources; i++)
        assert_idempotent("t.act", idempotent_sources[i]);
}

static void test_shape_str_writes_rank_zero_and_size_names(void **state)
{
    (void)state;
    ir_arena *a = ir_arena_new();
    ir_shape scalar = {0}, s = {.rank = 3, .dim = {-1, 784, 1}, .sym = {"N", NULL, NULL}};
    assert_string_equal(ir_shape_str(a, &scalar), "f32[]");
    assert_string_equal(ir_shape_str(a, &s), "f32[N, 784, 1]");
    ir_arena_free(a);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static void test_print_round_trips_every_example(void **state)
{
    (void)state;
    DIR *dir = opendir(ACT_SOURCE_DIR "/examples");
    int count = 0;
    for (struct dirent *e; dir && (e = readdir(dir));) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".act"))
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/examples/%s", ACT_SOURCE_DIR, e->d_name);
        char *src = read_file(path);
        assert_idempotent(path, src);
        free(src);
        count++;
    }
    if (dir)
        closedir(dir);
    if (!count)
        skip();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_print_writes_canonical_text),
        cmocka_unit_test(test_print_is_idempotent),
        cmocka_unit_test(test_shape_str_writes_rank_zero_and_size_names),
        cmocka_unit_test(test_print_round_trips_every_example),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
