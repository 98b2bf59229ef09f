/* test_disk_cache.c -- the on-disk compile cache (ACT_CACHE_DIR): code
   compiled by one context is loaded, not compiled, by another and gives the
   same bits; damaged (truncated, or a bit of the code changed) or foreign
   files are misses that get rewritten; an
   unusable folder only costs the cache; without the variable nothing is
   written; code calling native plugin functions is never written. */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const source = "act 1\n"
                                  "graph g {\n"
                                  " input x : f32[N, 3]\n"
                                  " param W : f32[3, 2] = uniform(-1, 1, seed = 4)\n"
                                  " param b : f32[2] = fill(0.25)\n"
                                  " y = gelu(dense(x, W, b))\n"
                                  " output y\n"
                                  "}\n";

static const float x[6] = {0.5f, -1.5f, 2.0f, 3.0f, -0.25f, 1.0f};

/* Compiles source in a new context, runs forward and backward (seeded
   with ones) and returns d_W and y in out[0..5], out[6..9]; *from_disk says
   where the forward entry came from, and both entries from disk were
   mapped by act (compiler/objload.c), not LLJIT. */
static void run(float out[10], bool *from_disk)
{
    act_context *ctx = act_context_new();
    act_error err = {0};
    act_program *p = act_compile_string(ctx, source, "t.act", NULL, ACT_ENGINE_JIT, &err);
    if (!p)
        fail_msg("%s", err.message);
    int64_t shape[2] = {2, 3};
    float ones[4] = {1, 1, 1, 1};
    int64_t yshape[2] = {2, 2};
    assert_int_equal(act_set(p, "x", x, shape, 2, &err), 0);
    assert_int_equal(act_forward(p, &err), 0);
    *from_disk = p->entry[CC_FORWARD]->from_disk;
    assert_int_equal(act_set_output_grad(p, "y", ones, yshape, 2, &err), 0);
    assert_int_equal(act_backward(p, &err), 0);
#if defined(__x86_64__) && defined(__linux__)
    for (int k = 0; k < CC_MODE_COUNT_; k++)
        if (p->entry[k])
            assert_int_equal(p->entry[k]->mapped, p->entry[k]->from_disk);
#endif
    memcpy(out, act_get(p, "d_W", NULL, NULL, &err), 6 * sizeof *out);
    memcpy(out + 6, act_get(p, "y", NULL, NULL, &err), 4 * sizeof *out);
    act_program_free(p);
    act_context_free(ctx);
}

static void for_each_file(const char *dir, void (*fn)(const char *path))
{
    char cmd[1024], *out = NULL;
    snprintf(cmd, sizeof cmd, "ls '%s'", dir);
    assert_int_equal(ts_run(cmd, &out, NULL), 0);
    for (char *name = strtok(out, "\n"); name; name = strtok(NULL, "\n")) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        fn(path);
    }
    free(out);
}

static void truncate_half(const char *path)
{
    char cmd[1200];
    if (snprintf(cmd, sizeof cmd, "truncate -s $(( $(stat -c %%s '%s') / 2 )) '%s'", path, path) >=
        (int)sizeof cmd)
        fail_msg("path too long: %s", path);
    assert_int_equal(ts_run(cmd, NULL, NULL), 0);
}

/* The lowest bit of the file's byte at offset at flipped. */
static void flip_bit(const char *path, long at)
{
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, at, SEEK_SET), 0);
    int c = fgetc(f);
    assert_int_equal(fseek(f, at, SEEK_SET), 0);
    fputc(c ^ 1, f);
    fclose(f);
}

/* One byte of the stored key changed: the file belongs to another graph. */
static void change_key(const char *path)
{
    flip_bit(path, 16 + 8 + 10);
}

/* One bit of the object's code changed (past the magic, the key's length,
   the key, the object's length and its 64-byte ELF header, where the code
   starts): headers that still hold together, code that does not. */
static void change_code(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint64_t nkey = 0;
    assert_int_equal(fseek(f, 16, SEEK_SET), 0);
    assert_int_equal(fread(&nkey, sizeof nkey, 1, f), 1);
    fclose(f);
    flip_bit(path, (long)(16 + 8 + nkey + 8 + 64 + 4));
}

static void test_second_context_loads_the_same_code(void **state)
{
    (void)state;
    char *dir = ts_tmpdir(), sub[600];
    snprintf(sub, sizeof sub, "%s/cache", dir); /* made by act */
    setenv("ACT_CACHE_DIR", sub, 1);
    float first[10], again[10];
    bool disk;
    run(first, &disk);
    assert_false(disk);
    int files = ts_count_entries(sub);
    assert_int_equal(files, 2); /* the forward and the vjp entries */
    run(again, &disk);
    assert_true(disk);
    assert_memory_equal(first, again, sizeof first);
    assert_int_equal(ts_count_entries(sub), files);

    for_each_file(sub, truncate_half);
    run(again, &disk);
    assert_false(disk);
    assert_memory_equal(first, again, sizeof first);
    run(again, &disk); /* rewritten whole */
    assert_true(disk);

    for_each_file(sub, change_key);
    run(again, &disk);
    assert_false(disk);
    assert_memory_equal(first, again, sizeof first);
    run(again, &disk);
    assert_true(disk);

    for_each_file(sub, change_code);
    run(again, &disk);
    assert_false(disk);
    assert_memory_equal(first, again, sizeof first);
    assert_int_equal(ts_count_entries(sub), files); /* no temporary left */
    unsetenv("ACT_CACHE_DIR");
    ts_rmtree(dir);
    free(dir);
}

static void test_unusable_folder_or_none(void **state)
{
    (void)state;
    char *dir = ts_tmpdir(), path[600];
    snprintf(path, sizeof path, "%s/file", dir);
    ts_write_text(path, "not a folder");
    snprintf(path, sizeof path, "%s/file/cache", dir);
    setenv("ACT_CACHE_DIR", path, 1);
    float want[10], got[10];
    bool disk;
    run(want, &disk);
    assert_false(disk);
    setenv("ACT_CACHE_DIR", "", 1); /* empty: off */
    run(got, &disk);
    assert_false(disk);
    assert_memory_equal(want, got, sizeof want);
    unsetenv("ACT_CACHE_DIR");
    run(got, &disk);
    assert_false(disk);
    assert_int_equal(ts_count_entries(dir), 1); /* only our file */
    ts_rmtree(dir);
    free(dir);
}

/* A native plugin function is called at its address in this process: such
   code is never written to disk, and runs as before. */
static void test_native_code_stays_in_the_process(void **state)
{
    (void)state;
    char *dir = ts_tmpdir();
    setenv("ACT_CACHE_DIR", dir, 1);
    act_context *ctx = act_context_new();
    act_error err = {0};
    assert_int_equal(act_load_plugin(ctx, ACT_SCALAR_PLUGIN, &err), 0);
    act_program *p = act_compile_string(
        ctx, "act 1\ngraph g {\n input x : f32[N]\n y = isrlu(x)\n output y\n}\n", "t.act", NULL,
        ACT_ENGINE_JIT, &err);
    assert_non_null(p);
    float in[2] = {-3, 2}, ones[2] = {1, 1};
    int64_t n = 2;
    assert_int_equal(act_set(p, "x", in, &n, 1, &err), 0);
    assert_int_equal(act_set_output_grad(p, "y", ones, &n, 1, &err), 0);
    assert_int_equal(act_backward(p, &err), 0);
    const float *y = act_get(p, "y", NULL, NULL, &err);
    assert_float_equal(y[0], -3 / sqrt(10.0), 1e-6); /* x / sqrt(1 + x^2) below 0 */
    assert_true(y[1] == 2);
    assert_int_equal(ts_count_entries(dir), 0);
    act_program_free(p);
    act_context_free(ctx);
    unsetenv("ACT_CACHE_DIR");
    ts_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_second_context_loads_the_same_code),
        cmocka_unit_test(test_unusable_folder_or_none),
        cmocka_unit_test(test_native_code_stays_in_the_process),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
