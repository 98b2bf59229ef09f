/* test_aot.c -- actc emit as a user runs it: the object and header of
   examples/aot link into a C program without LLVM or libact, which checks
   the compiled graph against its formula; IR and assembly output; another
   target; and errors leave no file behind. */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int actc(const char *args, char **err)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' %s", ACTC_PATH, args);
    return ts_run(cmd, NULL, err);
}

/* Writes graph as DIR/NAME.act, emits its object and header, builds
   main_c (DIR/main.c) against them with no LLVM and no libact, runs it, and
   asserts that it printed "0 wrong". */
static void emit_and_check(const char *dir, const char *name, const char *graph, const char *main_c)
{
    char cmd[4096], path[600], *out = NULL, *err = NULL;
    snprintf(path, sizeof path, "%s/%s.act", dir, name);
    ts_write_text(path, graph);
    snprintf(cmd, sizeof cmd, "emit %s --kind obj -o %s/%s.o --header %s/%s.h", path, dir, name,
             dir, name);
    if (actc(cmd, &err))
        fail_msg("%s", err);
    free(err);
    snprintf(path, sizeof path, "%s/main.c", dir);
    ts_write_text(path, main_c);
    snprintf(cmd, sizeof cmd,
             "cc -std=c11 -O1 -ffp-contract=off -Wall -Wextra -Werror %s -I'%s' '%s' '%s/%s.o' "
             "-lm -o '%s/app' && '%s/app'",
             ACT_SANITIZE_FLAGS, dir, path, dir, name, dir, dir);
    int rc = ts_run(cmd, &out, &err);
    if (rc)
        fail_msg("exit %d\n%s\n%s", rc, out, err);
    assert_string_equal(out, "0 wrong\n");
    free(out);
    free(err);
}

static void test_aot_object_links_without_llvm(void **state)
{
    (void)state;
    char *dir = ts_tmpdir(), cmd[4096], *out, *err;
    snprintf(cmd, sizeof cmd,
             "emit %s/examples/aot/softclip.act --kind obj -o %s/clip.o "
             "--header %s/clip.h",
             ACT_SOURCE_DIR, dir, dir);
    if (actc(cmd, &err))
        fail_msg("%s", err);
    free(err);
    /* -Werror: the header is clean C11; no -lact, no LLVM */
    snprintf(cmd, sizeof cmd,
             "cc -std=c11 -Wall -Wextra -Werror %s -I'%s' '%s/examples/aot/main.c' "
             "'%s/clip.o' -lm -o '%s/clip' && '%s/clip'",
             ACT_SANITIZE_FLAGS, dir, ACT_SOURCE_DIR, dir, dir, dir);
    int rc = ts_run(cmd, &out, &err);
    if (rc || !strstr(out, "largest relative error"))
        fail_msg("exit %d\n%s\n%s", rc, out, err);
    print_message("%s", out);
    free(out);
    free(err);
    snprintf(cmd, sizeof cmd, "nm '%s/clip.o' | grep -c ' T clip_'", dir);
    assert_int_equal(ts_run(cmd, &out, NULL), 0);
    assert_int_equal(atoi(out), 2); /* clip_forward, clip_vjp */
    free(out);
    ts_rmtree(dir);
    free(dir);
}

/* Ahead of time the GEMM is built into the object (the JIT calls the
   library's): dense + relu over 520 rows (B packed, K and N past a tile)
   equals the plain loop exactly, on multiples of 1/8. */
static void test_aot_dense_has_its_own_gemm(void **state)
{
    (void)state;
    char *dir = ts_tmpdir(), cmd[4096], *out = NULL;
    emit_and_check(
        dir, "d",
        "graph d {\n input x : f32[N, 300]\n param W : f32[300, 70]\n"
        " param b : f32[70]\n y = relu(dense(x, W, b))\n output y\n}\n",
        "#include \"d.h\"\n#include <stdio.h>\n#include <stdlib.h>\n"
        "static float v(unsigned i) { return (float)((int)(i * 7919u % 17u) - 8) / 8; }\n"
        "int main(void)\n{\n"
        "    enum { M = 520, K = 300, N = 70 };\n"
        "    float *x = malloc(sizeof(float) * M * K), *w = malloc(sizeof(float) * K * N),\n"
        "          b[N], *y = malloc(sizeof(float) * M * N);\n"
        "    for (unsigned i = 0; i < M * K; i++) x[i] = v(i);\n"
        "    for (unsigned i = 0; i < K * N; i++) w[i] = v(i + 3);\n"
        "    for (unsigned i = 0; i < N; i++) b[i] = v(i + 5);\n"
        "    d_forward(x, w, b, y, M);\n"
        "    int bad = 0;\n"
        "    for (int i = 0; i < M; i++)\n"
        "        for (int j = 0; j < N; j++) {\n"
        "            float s = b[j];\n"
        "            for (int k = 0; k < K; k++) s += x[i * K + k] * w[k * N + j];\n"
        "            bad += y[i * N + j] != (s > 0 ? s : 0);\n"
        "        }\n"
        "    printf(\"%d wrong\\n\", bad);\n"
        "    free(x); free(w); free(y);\n"
        "    return bad != 0;\n}\n");
    snprintf(cmd, sizeof cmd, "nm '%s/d.o' | grep -e act_gemm -e 'act[.]gemm' | cut -c18-", dir);
    assert_int_equal(ts_run(cmd, &out, NULL), 0);
    assert_string_equal(out, "t act.gemm\n"); /* its own, internal: no call to the library */
    free(out);
    ts_rmtree(dir);
    free(dir);
}

/* A result of 16 MB or more from a short kernel is stored past the caches
   when its array is vector-aligned, as usual when it is not: an object
   called with arrays 4, 16 and 32 bytes off a 64-byte boundary, then
   aligned, is exact every time (vmovntps on a misaligned address would
   fault, and a check for a smaller vector would let 16 or 32 through). */
static void test_aot_big_results_at_any_alignment(void **state)
{
    (void)state;
    char *dir = ts_tmpdir(), cmd[4096], path[600];
    emit_and_check(dir, "r",
                   "graph r {\n input x : f32[N]\n input b : f32[N]\n"
                   " y = relu(scale(add(x, b), s = 3))\n output y\n}\n",
                   "#include \"r.h\"\n#include <stdio.h>\n#include <stdlib.h>\n"
                   "int main(void)\n{\n"
                   "    enum { N = (1 << 22) + 13, BYTES = 4 * (N + 31) / 64 * 64 };\n"
                   "    float *x = aligned_alloc(64, BYTES), *b = aligned_alloc(64, BYTES),\n"
                   "          *y = aligned_alloc(64, BYTES);\n"
                   "    int bad = 0;\n"
                   "    for (int k = 0; k < 4; k++) {\n"
                   "        int off = (int[]){1, 4, 8, 0}[k]; /* floats off a 64-byte boundary */\n"
                   "        for (int i = 0; i < N; i++) {\n"
                   "            x[off + i] = (float)(i % 2001 - 1000) / 7;\n"
                   "            b[off + i] = (float)(i % 37 - 18) / 3;\n"
                   "        }\n"
                   "        r_forward(x + off, b + off, y + off, N);\n"
                   "        for (int i = 0; i < N; i++) {\n"
                   "            float z = (x[off + i] + b[off + i]) * 3;\n"
                   "            bad += y[off + i] != (z > 0 ? z : 0);\n"
                   "        }\n"
                   "    }\n"
                   "    printf(\"%d wrong\\n\", bad);\n"
                   "    free(x); free(b); free(y);\n"
                   "    return bad != 0;\n}\n");
#if defined(__x86_64__)
    /* and the stores past the caches are there (any x86 vector width) */
    snprintf(cmd, sizeof cmd, "emit %s/r.act --kind asm -o %s/r.s", dir, dir);
    assert_int_equal(actc(cmd, NULL), 0);
    snprintf(path, sizeof path, "%s/r.s", dir);
    char *text = ts_read_text(path);
    assert_non_null(strstr(text, "movntps")); /* vmovntps, or movntps with SSE alone */
    free(text);
#endif
    ts_rmtree(dir);
    free(dir);
}

/* The last, partial vector of every kernel reads no float past its arrays
   and writes none past its results, nor any into its inputs: each array
   ends where a page no one may touch begins, and the inputs are read-only,
   for every length from 0 to 40 and a longer one. The elementwise kernel,
   the loss's sum and its two gradients, on the caller's arrays. */
static void test_aot_last_lanes_stay_in_their_arrays(void **state)
{
    (void)state;
    char *dir = ts_tmpdir();
    emit_and_check(
        dir, "r",
        "graph r {\n input z : f32[N]\n input t : f32[N]\n y = sigmoid(z)\n output y\n"
        " loss L = sigmoid_cross_entropy(z, t)\n}\n",
        "#define _DEFAULT_SOURCE\n#include \"r.h\"\n#include <math.h>\n#include <stdio.h>\n"
        "#include <sys/mman.h>\n"
        "enum { PAGE = 1 << 16 }; /* a multiple of any page size */\n"
        "/* n floats ending where an inaccessible page begins */\n"
        "static float *fenced(char **map, int n)\n{\n"
        "    *map = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, "
        "0);\n"
        "    if (*map == MAP_FAILED || mprotect(*map + PAGE, PAGE, PROT_NONE)) return NULL;\n"
        "    return (float *)(*map + PAGE) - n;\n}\n"
        "static int off(double got, double want)\n{\n"
        "    return !(fabs(got - want) <= 1e-6 * fabs(want) + 1e-30);\n}\n"
        "int main(void)\n{\n"
        "    int bad = 0;\n"
        "    for (int n = 0; n <= 41; n++) {\n"
        "        int len = n == 41 ? 1013 : n;\n"
        "        char *m[5];\n"
        "        float *z = fenced(&m[0], len), *t = fenced(&m[1], len), *y = fenced(&m[2], len);\n"
        "        float *dz = fenced(&m[3], len), *dt = fenced(&m[4], len), L = -1;\n"
        "        if (!z || !t || !y || !dz || !dt) return 2;\n"
        "        for (int i = 0; i < len; i++) {\n"
        "            z[i] = (float)(i % 23 - 11) / 3;\n"
        "            t[i] = (float)(i % 3) / 2;\n"
        "        }\n"
        "        if (mprotect(m[0], PAGE, PROT_READ) || mprotect(m[1], PAGE, PROT_READ)) return "
        "2;\n"
        "        r_backward(z, t, y, &L, dz, dt, len);\n"
        "        double sum = 0;\n"
        "        for (int i = 0; i < len; i++) {\n"
        "            double x = z[i], s = 1 / (1 + exp(-x));\n"
        "            sum += (x > 0 ? x : 0) - x * t[i] + log1p(exp(-fabs(x)));\n"
        "            bad += off(y[i], s) + off(dz[i], (s - t[i]) / len) + off(dt[i], -x / len);\n"
        "        }\n"
        "        bad += len ? off(L, sum / len) : 0;\n"
        "        for (int k = 0; k < 5; k++) munmap(m[k], 2 * PAGE);\n"
        "    }\n"
        "    printf(\"%d wrong\\n\", bad);\n"
        "    return bad != 0;\n}\n");
    ts_rmtree(dir);
    free(dir);
}

/* The same past the caches: results of 16 MB and more from short kernels
   go out through non-temporal stores, and x's and b's gradients are one
   value stored twice. Every array starts vector-aligned (as those stores
   need), inputs are read-only, and the 16 floats after each result must be
   left as they were. */
static void test_aot_last_lanes_of_results_past_the_caches(void **state)
{
    (void)state;
    char *dir = ts_tmpdir();
    emit_and_check(
        dir, "q",
        "graph q {\n input x : f32[N]\n input b : f32[N]\n input t : f32[N]\n"
        " y = relu(scale(add(x, b), s = 3))\n output y\n loss L = mse(y, t)\n}\n",
        "#define _DEFAULT_SOURCE\n#include \"q.h\"\n#include <math.h>\n#include <stdio.h>\n"
        "#include <sys/mman.h>\n"
        "enum { N = (1 << 22) + 13, BYTES = 4 * (N + 16) };\n"
        "static const float mark = -7.25f;\n"
        "static float *array(void)\n{\n"
        "    float *a = mmap(NULL, BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, "
        "0);\n"
        "    if (a == MAP_FAILED) return NULL;\n"
        "    for (int i = N; i < N + 16; i++) a[i] = mark;\n"
        "    return a;\n}\n"
        "static int off(double got, double want)\n{\n"
        "    return !(fabs(got - want) <= 1e-6 * fabs(want) + 1e-30);\n}\n"
        "int main(void)\n{\n"
        "    float *x = array(), *b = array(), *t = array(), *y = array(), *dx = array();\n"
        "    float *db = array(), *dt = array(), L = 0;\n"
        "    if (!x || !b || !t || !y || !dx || !db || !dt) return 2;\n"
        "    for (int i = 0; i < N; i++) {\n"
        "        x[i] = (float)(i % 2001 - 1000) / 7;\n"
        "        b[i] = (float)(i % 37 - 18) / 3;\n"
        "        t[i] = (float)(i % 11) / 5;\n"
        "    }\n"
        "    if (mprotect(x, BYTES, PROT_READ) || mprotect(b, BYTES, PROT_READ) ||\n"
        "        mprotect(t, BYTES, PROT_READ)) return 2;\n"
        "    q_backward(x, b, t, y, &L, dx, db, dt, N);\n"
        "    int bad = 0;\n"
        "    for (int i = 0; i < N; i++) {\n"
        "        float z = (x[i] + b[i]) * 3, r = z > 0 ? z : 0;\n"
        "        double dy = 2 * ((double)r - t[i]) / N, g = z > 0 ? 3 * dy : 0;\n"
        "        bad += y[i] != r;\n"
        "        bad += off(dx[i], g) + off(db[i], g) + off(dt[i], -dy) + (dx[i] != db[i]);\n"
        "    }\n"
        "    for (int i = N; i < N + 16; i++)\n"
        "        bad += (y[i] != mark) + (dx[i] != mark) + (db[i] != mark) + (dt[i] != mark);\n"
        "    printf(\"%d wrong\\n\", bad);\n"
        "    return bad != 0;\n}\n");
    ts_rmtree(dir);
    free(dir);
}

static void test_aot_llvm_and_asm_and_other_targets(void **state)
{
    (void)state;
    char *dir = ts_tmpdir(), cmd[4096], path[600], *err;
    snprintf(cmd, sizeof cmd, "emit %s/examples/xor.act --kind llvm -o %s/x.ll", ACT_SOURCE_DIR,
             dir);
    assert_int_equal(actc(cmd, NULL), 0);
    snprintf(path, sizeof path, "%s/x.ll", dir);
    char *text = ts_read_text(path);
    assert_non_null(strstr(text, "define void @xor_backward("));
    assert_non_null(strstr(text, "define void @xor_forward_loss("));
    free(text);
    snprintf(cmd, sizeof cmd,
             "emit %s/examples/xor.act --kind asm -o %s/x.s --target-cpu x86-64 "
             "--target-features=+sse2",
             ACT_SOURCE_DIR, dir);
    if (actc(cmd, &err))
        fail_msg("%s", err);
    free(err);
    snprintf(path, sizeof path, "%s/x.s", dir);
    text = ts_read_text(path);
    assert_non_null(strstr(text, "xor_forward:"));
    assert_null(strstr(text, "zmm")); /* no AVX-512 for a plain x86-64 */
    free(text);
    /* another CPU without features: none of the host's (a Haswell has no
       AVX-512, whatever this machine has) */
    snprintf(cmd, sizeof cmd, "emit %s/examples/mlp.act --kind asm -o %s/h.s --target-cpu haswell",
             ACT_SOURCE_DIR, dir);
    if (actc(cmd, &err))
        fail_msg("%s", err);
    free(err);
    snprintf(path, sizeof path, "%s/h.s", dir);
    text = ts_read_text(path);
    assert_non_null(strstr(text, "mlp_backward:"));
    assert_null(strstr(text, "zmm"));
    free(text);
    ts_rmtree(dir);
    free(dir);
}

/* An output that is an input, and names that are C keywords, still give a
   header that compiles. */
static void test_aot_header_names_never_clash(void **state)
{
    (void)state;
    char *dir = ts_tmpdir(), cmd[4096], path[600], *err;
    snprintf(path, sizeof path, "%s/alias.act", dir);
    ts_write_text(path, "graph g {\n input x : f32[N, 3]\n input int : f32[N, 3]\n"
                        " y = add(x, int)\n output x, y\n}\n");
    snprintf(cmd, sizeof cmd, "emit %s --kind obj -o %s/a.o --header %s/a.h", path, dir, dir);
    if (actc(cmd, &err))
        fail_msg("%s", err);
    free(err);
    snprintf(path, sizeof path, "%s/main.c", dir);
    ts_write_text(path, "#include \"a.h\"\nint main(void)\n{\n    float x[3] = {1, 2, 3}, "
                        "i[3] = {4, 5, 6}, xo[3], y[3];\n    g_forward(x, i, xo, y, 1);\n"
                        "    return !(y[2] == 9 && xo[0] == 1);\n}\n");
    snprintf(cmd, sizeof cmd,
             "cc -std=c11 -Wall -Wextra -Werror %s -I'%s' '%s' '%s/a.o' -o '%s/app' "
             "&& '%s/app'",
             ACT_SANITIZE_FLAGS, dir, path, dir, dir, dir);
    if (ts_run(cmd, NULL, &err))
        fail_msg("%s", err);
    free(err);
    ts_rmtree(dir);
    free(dir);
}

static void test_aot_errors_leave_nothing(void **state)
{
    (void)state;
    char *dir = ts_tmpdir(), cmd[4096], *err;
    snprintf(cmd, sizeof cmd, "emit %s/examples/xor.act -o %s/x.o", ACT_SOURCE_DIR, dir);
    assert_int_equal(actc(cmd, &err), 2); /* --kind missing */
    free(err);
    snprintf(cmd, sizeof cmd, "emit %s/examples/xor.act --kind exe -o %s/x.o", ACT_SOURCE_DIR, dir);
    assert_int_equal(actc(cmd, &err), 2);
    free(err);
    snprintf(cmd, sizeof cmd, "emit %s/examples/xor.act --kind obj -o %s/no/such/dir/x.o",
             ACT_SOURCE_DIR, dir);
    assert_int_equal(actc(cmd, &err), 1);
    free(err);
    assert_int_equal(ts_count_entries(dir), 0);
    ts_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aot_object_links_without_llvm),
        cmocka_unit_test(test_aot_dense_has_its_own_gemm),
        cmocka_unit_test(test_aot_big_results_at_any_alignment),
        cmocka_unit_test(test_aot_last_lanes_stay_in_their_arrays),
        cmocka_unit_test(test_aot_last_lanes_of_results_past_the_caches),
        cmocka_unit_test(test_aot_llvm_and_asm_and_other_targets),
        cmocka_unit_test(test_aot_header_names_never_clash),
        cmocka_unit_test(test_aot_errors_leave_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
