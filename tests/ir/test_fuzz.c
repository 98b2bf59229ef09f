/* test_fuzz.c -- seeded random mutations of the examples through parse,
   verify and print: whatever the input, no crash, no leak (the sanitizer
   build runs this too), every error has a code and a position, and what
   verifies prints to a fixed point. */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t state_;

static uint64_t next(void)
{
    state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;
    return state_ >> 33;
}

static const char *const pieces[] = {
    "(",     ")",    "[", "]",       "\"",      "\n",        ";",      "-",  "1e",
    "x",     "=",    ",", "#",       "{",       "}",         "0",      ".5", "N",
    "relu(", "f32[", "^", "act 2\n", "output ", "loss L = ", "dense(", "\\", "\xC3\xA9"};

static char *mutate(const char *src)
{
    size_t n = strlen(src), cap = n + 64;
    char *s = malloc(cap);
    assert_non_null(s);
    memcpy(s, src, n + 1);
    int edits = 1 + (int)(next() % 4);
    for (int e = 0; e < edits && n > 2; e++) {
        size_t at = next() % n;
        if (next() % 2) { /* delete a short span */
            size_t len = 1 + next() % 8;
            len = at + len > n ? n - at : len;
            memmove(s + at, s + at + len, n - at - len + 1);
            n -= len;
        } else { /* insert a piece */
            const char *p = pieces[next() % (sizeof pieces / sizeof *pieces)];
            size_t len = strlen(p);
            if (n + len + 1 > cap)
                continue;
            memmove(s + at + len, s + at, n - at + 1);
            memcpy(s + at, p, len);
            n += len;
        }
    }
    return s;
}

/* Compiles the first graph, sets every input (size names = 3), runs forward
   and, where it can, backward: errors are fine, crashes are not. */
static void run_one(act_context *ctx, const char *src)
{
    act_error err = {0};
    act_program *p = act_compile_string(ctx, src, "fuzz.act", NULL, ACT_ENGINE_INTERP, &err);
    if (!p)
        return;
    float data[4096];
    for (int i = 0; i < 4096; i++)
        data[i] = (float)((int)(next() % 200) - 100) / 25.0f;
    for (int i = 0; i < p->g->nforward; i++) {
        ir_value *v = p->g->values.items[i];
        int64_t shape[4], n = 1;
        for (int d = 0; d < v->shape.rank; d++)
            n *= shape[d] = v->shape.sym[d] ? 3 : v->shape.dim[d];
        if (v->op == IR_INPUT && n <= 4096)
            act_set(p, v->name, data, shape, v->shape.rank, &err);
    }
    if (act_forward(p, &err) == 0 && p->g->loss)
        assert_int_equal(act_backward(p, &err) == 0 || err.code > 0, 1);
    act_program_free(p);
}

/* Parses, verifies every graph and prints; printing the printed text again
   must give the same text. */
static void check_one(act_context *ctx, const char *src)
{
    act_error err = {0};
    ir_module *m = ir_parse("fuzz.act", src, &err);
    int rc = m ? 0 : err.code;
    for (int i = 0; m && !rc && i < m->graphs.n; i++)
        rc = ir_verify(m, m->graphs.items[i], ctx->reg, &err);
    if (rc) {
        if (err.code == ACT_OK || err.line < 1 || err.col < 1 || !err.message[0])
            fail_msg("error without a position (%d at %d:%d: %s) for:\n%s", err.code, err.line,
                     err.col, err.message, src);
        ir_module_free(m);
        return;
    }
    char *once = ir_print(m);
    ir_module_free(m);
    run_one(ctx, src);
    assert_non_null(once);
    ir_module *again = ir_parse("fuzz.act", once, &err);
    if (!again)
        fail_msg("printed text does not parse: %s\n%s", err.message, once);
    char *twice = ir_print(again);
    assert_string_equal(once, twice);
    free(once);
    free(twice);
    ir_module_free(again);
}

static void test_fuzz_mutated_examples_never_crash(void **state)
{
    (void)state;
    static const char *const files[] = {"xor.act", "mlp.act", "custom.act"};
    act_context *ctx = act_context_new();
    state_ = 12345;
    int runs = 0;
    for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
        char path[512];
        snprintf(path, sizeof path, "%s/examples/%s", ACT_SOURCE_DIR, files[f]);
        char *src = ts_read_text(path);
        assert_non_null(src);
        for (int i = 0; i < 4000; i++, runs++) {
            char *m = mutate(src);
            check_one(ctx, m);
            free(m);
        }
        free(src);
    }
    print_message("%d mutated files checked\n", runs);
    act_context_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fuzz_mutated_examples_never_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
