/* support.h -- helpers shared by the tests: temporary folders, running a
   command, reading the golden op fixtures, compiling a graph from text, and
   reading a program's values in double. */
#ifndef ACT_TEST_SUPPORT_H
#define ACT_TEST_SUPPORT_H

#include "runtime/rt.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h> /* after the headers it needs */

/* A new empty folder under /tmp (malloc'ed path); ts_rmtree removes it. */
char *ts_tmpdir(void);
void ts_rmtree(const char *dir);
/* Number of entries in a folder (0 if missing), "." and ".." excluded. */
int ts_count_entries(const char *dir);

/* Runs a shell command; returns its exit code and, when out/err are not
   NULL, its stdout and stderr (malloc'ed). */
int ts_run(const char *cmd, char **out, char **err);
char *ts_read_text(const char *path);
void ts_write_text(const char *path, const char *text);
/* Writes a float32 .npy. */
void ts_write_npy(const char *path, const float *data, const int64_t *shape, int rank);

/* A program compiled for the interpreter from text; fails the test on error. */
act_program *ts_compile(act_context *ctx, const char *src);
/* The same for an engine. */
act_program *ts_compile_for(act_context *ctx, const char *src, act_engine engine);
/* The double tensor of a forward value, or of the gradient "d_<name>"
   (NULL when no gradient flows to it). */
const rt_tensor *ts_value(act_program *p, const char *name);

/* One case of tests/fixtures/ops.txt. */
typedef struct {
    char name[64], args[128];
    int nin;
    char in_name[4][16];
    int in_rank[4];
    int64_t in_shape[4][4];
    double *in[4];
    bool has_w;
    int w_rank;
    int64_t w_shape[4];
    double *w;
    int out_rank;
    int64_t out_shape[4];
    double *out;
    int ngrad;
    char grad_name[4][16];
    double *grad[4];
    int64_t grad_n[4];
    int64_t out_n, in_n[4];
} ts_op_case;

/* Reads every case; caller frees with ts_op_cases_free. */
int ts_op_cases(const char *path, ts_op_case **cases);
void ts_op_cases_free(ts_op_case *cases, int n);

/* df(x, f(x)) of an activation against a central difference of f at x. */
void ts_check_df_at(const ir_activation *act, const double *p, double x);

/* Floats in the order of the reals, as integers: neighbours differ by 1,
   through the denormals and across zero (both zeros are 0); and back. */
int64_t ts_ordered(float f);
float ts_from_ordered(int64_t k);
/* Distance in float ULPs, counting through zero and the denormals; 0 for
   two NaNs, infinite for a NaN and a number. */
double ts_ulps(float a, float b);

/* Calls of the activations and ops with parameters other than the
   defaults, on an input x whose last dim is a multiple of 6; NULL-terminated. */
extern const char *const ts_other_calls[];

/* |got - want| <= rtol |want| + atol */
bool ts_close(double got, double want, double rtol, double atol);

#endif
