/* test_npy.c -- runtime/npy.c: reads what numpy writes, writes the bytes numpy
   writes, rejects each damaged file (tests/fixtures/npy/gen_npy.py) with its
   code and message, and writes whole or not at all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "runtime/rt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NPY_DIR ACT_FIXTURES "/npy/"

static void join(char path[512], const char *dir, const char *name)
{
    snprintf(path, 512, "%s/%s", dir, name);
}

/* Each test gets a fresh empty directory (in *state) under the build tree. */
static int make_dir(void **state)
{
    char *dir = malloc(512);
    snprintf(dir, 512, "%s/npy_test_XXXXXX", ACT_BINARY_DIR);
    if (!mkdtemp(dir)) {
        free(dir);
        return -1;
    }
    *state = dir;
    return 0;
}

static int remove_dir(void **state)
{
    char *dir = *state;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            char path[512];
            join(path, dir, e->d_name);
            remove(path);
        }
    }
    if (d)
        closedir(d);
    int rc = rmdir(dir);
    free(dir);
    return rc;
}

/* The directory holds exactly n entries and no temporary file. */
static void assert_dir_holds(const char *dir, int n)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int count = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (strstr(e->d_name, ".tmp"))
            fail_msg("temporary file left behind: %s", e->d_name);
        count++;
    }
    closedir(d);
    assert_int_equal(count, n);
}

static size_t slurp(const char *path, unsigned char *buf, size_t size)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, size, f);
    fclose(f);
    return n;
}

static void assert_message_has(const act_error *err, const char *want)
{
    if (!strstr(err->message, want))
        fail_msg("message \"%s\" lacks \"%s\"", err->message, want);
}

/* ---- reading ------------------------------------------------------------ */

static const struct {
    const char *file;
    int rank;
    int64_t shape[IR_MAX_RANK];
} valid_files[] = {
    {"valid_scalar.npy", 0, {1, 1, 1, 1}},
    {"valid_vector.npy", 1, {5, 1, 1, 1}},
    {"valid_2x3.npy", 2, {2, 3, 1, 1}},
    {"valid_rank4.npy", 4, {2, 1, 3, 2}},
    {"valid_empty.npy", 2, {0, 3, 1, 1}},
    {"valid_v2.npy", 2, {3, 2, 1, 1}},
    {"valid_dquote_reordered.npy", 2, {2, 3, 1, 1}},
    {"valid_py2_long.npy", 2, {2, 3, 1, 1}},
};

static void test_read_accepts_numpy_files(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof valid_files / sizeof valid_files[0]; i++) {
        char path[512];
        join(path, NPY_DIR, valid_files[i].file);
        float *data = NULL;
        int64_t shape[IR_MAX_RANK];
        int rank = -1;
        act_error err = {0};
        if (rt_npy_read(path, &data, shape, &rank, &err))
            fail_msg("%s: %s", valid_files[i].file, err.message);
        assert_int_equal(err.code, ACT_OK);
        assert_int_equal(rank, valid_files[i].rank);
        assert_memory_equal(shape, valid_files[i].shape, sizeof shape);
        int64_t n = shape[0] * shape[1] * shape[2] * shape[3];
        for (int64_t k = 0; k < n; k++) /* gen_npy.py: arange(n) * 0.5 - 1 */
            assert_true(data[k] == (float)k * 0.5f - 1.0f);
        free(data);
    }
}

static const struct {
    const char *file;
    int code;
    const char *message;
} bad_files[] = {
    {"bad_f8.npy", ACT_ERR_NPY, "expected dtype '<f4' (float32), found '<f8'"},
    {"bad_big_endian.npy", ACT_ERR_NPY, "found '>f4' (big-endian)"},
    {"bad_int32.npy", ACT_ERR_NPY, "expected dtype '<f4' (float32), found '<i4'"},
    {"bad_structured.npy", ACT_ERR_NPY, "found a structured dtype"},
    {"bad_fortran.npy", ACT_ERR_NPY, "expected C order, found Fortran order"},
    {"bad_rank5.npy", ACT_ERR_NPY, "expected at most 4 dimensions, found 5"},
    {"bad_version3.npy", ACT_ERR_NPY, "expected 1.0 or 2.0, found 3.0"},
    {"bad_version9.npy", ACT_ERR_NPY, "unsupported .npy version: expected 1.0 or 2.0, found 9.0"},
    {"bad_not_npy.npy", ACT_ERR_NPY,
     "not a .npy file: expected it to start with '\\x93NUMPY', found 'hello,'"},
    {"bad_zero_bytes.npy", ACT_ERR_NPY,
     "not a .npy file: expected it to start with '\\x93NUMPY', found an empty file"},
    {"bad_truncated.npy", ACT_ERR_NPY, "truncated data: expected 24 bytes of data, found 10"},
    {"bad_trailing.npy", ACT_ERR_NPY,
     "trailing bytes after the data: expected 24 bytes of data, found 27"},
    {"bad_truncated_header.npy", ACT_ERR_NPY, "truncated header: expected 118 bytes, found 20"},
    {"bad_header_too_long.npy", ACT_ERR_NPY, "at most 10000 bytes, found 100000 bytes"},
    {"bad_malformed.npy", ACT_ERR_NPY, "expected ',' or ')' in the shape tuple, found '}'"},
    {"bad_missing_key.npy", ACT_ERR_NPY, "expected key 'shape', found none"},
    {"bad_unknown_key.npy", ACT_ERR_NPY,
     "expected key 'descr', 'fortran_order' or 'shape', found 'order'"},
    {"bad_duplicate_key.npy", ACT_ERR_NPY, "found 'shape' twice"},
    {"bad_not_tuple.npy", ACT_ERR_NPY, "expected ',' after the only dimension of a 1-tuple"},
    {"bad_negative_dim.npy", ACT_ERR_NPY, "expected a non-negative dimension, found -2"},
    {"bad_huge_dim.npy", ACT_ERR_NPY,
     "expected a dimension below 2^63, found 99999999999999999999"},
    {"bad_overflow_shape.npy", ACT_ERR_NPY,
     "expected a shape that fits in memory, found (4611686018427387904, 4611686018427387904)"},
    {"bad_huge_shape.npy", ACT_ERR_NPY, "expected 4000000000000 bytes of data, found 24"},
    {"bad_fortran_value.npy", ACT_ERR_NPY, "expected True or False for 'fortran_order', found '0'"},
    {"bad_unclosed_string.npy", ACT_ERR_NPY, "expected a closing quote, found '\\x0a'"},
};

static void test_read_rejects_bad_files(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_files / sizeof bad_files[0]; i++) {
        char path[512];
        join(path, NPY_DIR, bad_files[i].file);
        float sentinel = 0, *data = &sentinel;
        int64_t shape[IR_MAX_RANK] = {7, 7, 7, 7};
        int rank = 7;
        act_error err = {0};
        int rc = rt_npy_read(path, &data, shape, &rank, &err);
        if (rc != bad_files[i].code)
            fail_msg("%s: code %d (%s), expected %d", bad_files[i].file, rc, err.message,
                     bad_files[i].code);
        assert_int_equal(err.code, bad_files[i].code);
        assert_string_equal(err.file, path);
        assert_int_equal(err.line, 0);
        assert_int_equal(err.col, 0);
        assert_message_has(&err, bad_files[i].message);
        /* a failed call changes nothing */
        assert_ptr_equal(data, &sentinel);
        assert_int_equal(rank, 7);
        assert_int_equal(shape[0], 7);
        /* and needs no act_error to report into */
        assert_int_equal(rt_npy_read(path, &data, shape, &rank, NULL), bad_files[i].code);
    }
}

static void test_read_missing_file_is_io_error(void **state)
{
    char path[512];
    join(path, *state, "absent.npy");
    float *data = NULL;
    int64_t shape[IR_MAX_RANK];
    int rank;
    act_error err = {0};
    assert_int_equal(rt_npy_read(path, &data, shape, &rank, &err), ACT_ERR_IO);
    assert_string_equal(err.file, path);
    assert_message_has(&err, "cannot open: No such file or directory");
}

static void test_read_directory_is_io_error(void **state)
{
    float *data = NULL;
    int64_t shape[IR_MAX_RANK];
    int rank;
    act_error err = {0};
    assert_int_equal(rt_npy_read(*state, &data, shape, &rank, &err), ACT_ERR_IO);
    assert_string_equal(err.file, (const char *)*state);
}

/* Feeds bytes through a FIFO, where the file size is unknown up front and
   truncation and trailing bytes are found by reading. */
static int read_through_fifo(const char *dir, const unsigned char *bytes, size_t n, act_error *err,
                             int64_t *count)
{
    char fifo[512];
    join(fifo, dir, "pipe");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        int fd = open(fifo, O_WRONLY);
        ssize_t written = fd >= 0 ? write(fd, bytes, n) : -1;
        _exit(written == (ssize_t)n ? 0 : 1);
    }
    float *data = NULL;
    int64_t shape[IR_MAX_RANK];
    int rank;
    int rc = rt_npy_read(fifo, &data, shape, &rank, err);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    *count = rc ? -1 : shape[0] * shape[1] * shape[2] * shape[3];
    free(rc ? NULL : data);
    remove(fifo);
    return rc;
}

static void test_read_checks_size_of_a_pipe(void **state)
{
    unsigned char good[256];
    size_t n = slurp(NPY_DIR "valid_2x3.npy", good, sizeof good);
    act_error err = {0};
    int64_t count;
    assert_int_equal(read_through_fifo(*state, good, n, &err, &count), 0);
    assert_int_equal(count, 6);
    assert_int_equal(read_through_fifo(*state, good, n - 14, &err, &count), ACT_ERR_NPY);
    assert_message_has(&err, "truncated data: expected 24 bytes of data, found 10");
    good[n] = good[n + 1] = 0;
    assert_int_equal(read_through_fifo(*state, good, n + 2, &err, &count), ACT_ERR_NPY);
    assert_message_has(&err, "trailing bytes after the data: expected 24 bytes of data, found 26");
}

/* ---- writing ------------------------------------------------------------ */

/* act writes the very bytes numpy.save wrote for the same array. */
static void test_write_matches_numpy_bytes(void **state)
{
    const char *names[] = {"valid_scalar.npy", "valid_vector.npy", "valid_2x3.npy",
                           "valid_rank4.npy", "valid_empty.npy"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char src[512];
        join(src, NPY_DIR, names[i]);
        char dst[512];
        join(dst, *state, names[i]);
        float *data;
        int64_t shape[IR_MAX_RANK];
        int rank;
        assert_int_equal(rt_npy_read(src, &data, shape, &rank, NULL), 0);
        act_error err = {0};
        if (rt_npy_write(dst, data, shape, rank, &err))
            fail_msg("%s: %s", names[i], err.message);
        free(data);
        unsigned char want[512], got[512];
        size_t nwant = slurp(src, want, sizeof want), ngot = slurp(dst, got, sizeof got);
        assert_int_equal(ngot, nwant);
        assert_memory_equal(got, want, nwant);
        assert_int_equal((10 + got[8] + 256 * got[9]) % 64, 0); /* aligned data */
    }
    assert_dir_holds(*state, 5);
}

static void test_write_read_round_trips(void **state)
{
    static const struct {
        int rank;
        int64_t shape[IR_MAX_RANK];
    } cases[] = {{0, {0}},          {1, {1}},    {1, {7}},          {2, {3, 5}},   {3, {2, 3, 4}},
                 {4, {2, 3, 1, 5}}, {2, {0, 4}}, {4, {1, 1, 1, 1}}, {1, {100000}}, {2, {1000, 0}}};
    char path[512];
    join(path, *state, "round.npy");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t n = 1;
        for (int d = 0; d < cases[i].rank; d++)
            n *= cases[i].shape[d];
        float *in = malloc((size_t)(n ? n : 1) * sizeof(float));
        for (int64_t k = 0; k < n; k++) /* every bit pattern class: nan, inf, -0, subnormal */
            in[k] = k % 5 == 0   ? NAN
                    : k % 5 == 1 ? -INFINITY
                    : k % 5 == 2 ? -0.0f
                    : k % 5 == 3 ? 1e-40f
                                 : (float)k / 3.0f;
        act_error err = {0};
        assert_int_equal(rt_npy_write(path, in, cases[i].shape, cases[i].rank, &err), 0);
        float *out;
        int64_t shape[IR_MAX_RANK];
        int rank;
        assert_int_equal(rt_npy_read(path, &out, shape, &rank, &err), 0);
        assert_int_equal(rank, cases[i].rank);
        for (int d = 0; d < IR_MAX_RANK; d++)
            assert_int_equal(shape[d], d < rank ? cases[i].shape[d] : 1);
        assert_memory_equal(out, in, (size_t)n * sizeof(float));
        free(in);
        free(out);
    }
    assert_dir_holds(*state, 1);
}

static void test_write_into_missing_directory_fails(void **state)
{
    char path[512];
    join(path, *state, "no/such/dir/x.npy");
    float v = 1;
    act_error err = {0};
    assert_int_equal(rt_npy_write(path, &v, NULL, 0, &err), ACT_ERR_IO);
    assert_string_equal(err.file, path);
    assert_int_equal(err.line, 0);
    assert_message_has(&err, "No such file or directory");
    assert_dir_holds(*state, 0);
}

static void test_write_replaces_existing_file(void **state)
{
    char path[512];
    join(path, *state, "w.npy");
    float a[2] = {1, 2}, b[3] = {3, 4, 5};
    int64_t sa = 2, sb = 3;
    assert_int_equal(rt_npy_write(path, a, &sa, 1, NULL), 0);
    assert_int_equal(rt_npy_write(path, b, &sb, 1, NULL), 0);
    float *out;
    int64_t shape[IR_MAX_RANK];
    int rank;
    assert_int_equal(rt_npy_read(path, &out, shape, &rank, NULL), 0);
    assert_int_equal(shape[0], 3);
    assert_memory_equal(out, b, sizeof b);
    free(out);
    assert_dir_holds(*state, 1);
}

/* A write that fails half-way (the file size limit stops it) leaves the old
   file as it was and no temporary file. */
static void test_failed_write_keeps_existing_file(void **state)
{
    char path[512];
    join(path, *state, "w.npy");
    float old[2] = {1, 2};
    int64_t sold = 2, sbig = 10000;
    assert_int_equal(rt_npy_write(path, old, &sold, 1, NULL), 0);
    float *big = calloc((size_t)sbig, sizeof(float));
    struct rlimit saved, small;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
    small = saved;
    small.rlim_cur = 4096;
    void (*handler)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    act_error err = {0};
    int rc = rt_npy_write(path, big, &sbig, 1, &err);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
    signal(SIGXFSZ, handler);
    free(big);
    assert_int_equal(rc, ACT_ERR_IO);
    assert_string_equal(err.file, path);
    assert_message_has(&err, "cannot write");
    float *out;
    int64_t shape[IR_MAX_RANK];
    int rank;
    assert_int_equal(rt_npy_read(path, &out, shape, &rank, NULL), 0);
    assert_int_equal(shape[0], 2);
    assert_memory_equal(out, old, sizeof old);
    free(out);
    assert_dir_holds(*state, 1);
}

/* The rename fails when path is a directory: the temporary file goes. */
static void test_failed_rename_removes_temporary(void **state)
{
    char path[512];
    join(path, *state, "sub");
    assert_int_equal(mkdir(path, 0700), 0);
    float v = 1;
    act_error err = {0};
    assert_int_equal(rt_npy_write(path, &v, NULL, 0, &err), ACT_ERR_IO);
    assert_message_has(&err, "cannot replace");
    assert_dir_holds(*state, 1);
}

static void test_write_rejects_bad_shape(void **state)
{
    char path[512];
    join(path, *state, "x.npy");
    float v[4] = {0};
    int64_t five[5] = {1, 1, 1, 1, 1}, negative[2] = {2, -2}, huge[2] = {INT64_MAX, 2};
    act_error err = {0};
    assert_int_equal(rt_npy_write(path, v, five, 5, &err), ACT_ERR_NPY);
    assert_message_has(&err, "expected rank 0 to 4, found 5");
    assert_int_equal(rt_npy_write(path, v, negative, 2, &err), ACT_ERR_NPY);
    assert_message_has(&err, "expected a non-negative dimension, found -2");
    assert_int_equal(rt_npy_write(path, v, huge, 2, &err), ACT_ERR_NPY);
    assert_message_has(&err, "fits in memory");
    assert_dir_holds(*state, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_accepts_numpy_files),
        cmocka_unit_test(test_read_rejects_bad_files),
        cmocka_unit_test_setup_teardown(test_read_missing_file_is_io_error, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_read_directory_is_io_error, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_read_checks_size_of_a_pipe, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_write_matches_numpy_bytes, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_write_read_round_trips, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_write_into_missing_directory_fails, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(test_write_replaces_existing_file, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_failed_write_keeps_existing_file, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(test_failed_rename_removes_temporary, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_write_rejects_bad_shape, make_dir, remove_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
