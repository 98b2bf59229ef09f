/* train.c -- actc train: minibatch SGD over the leading axis of the inputs,
   with act_sgd_step, then the trained params written to --out. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    const char *name;
    float *data;
    int64_t shape[IR_MAX_RANK];
    int rank;
    int64_t row; /* floats per sample */
} dataset;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Reads every --input file; all must share the leading (sample) dim. */
static int load_data(const cli_options *o, dataset *d, int64_t *samples)
{
    act_error err = {0};
    for (int i = 0; i < o->ninputs; i++) {
        d[i].name = o->inputs[i].name;
        if (rt_npy_read(o->inputs[i].path, &d[i].data, d[i].shape, &d[i].rank, &err))
            return cli_report(&err);
        if (d[i].rank < 1 || (i && d[i].shape[0] != *samples)) {
            fprintf(stderr, "%s: error: expected %lld samples along the first axis, found %s\n",
                    o->inputs[i].path, (long long)*samples,
                    d[i].rank < 1 ? "a scalar" : "a different count");
            return EXIT_USER;
        }
        *samples = d[i].shape[0];
        d[i].row = rt_count(d[i].shape + 1, d[i].rank - 1);
    }
    return 0;
}

/* The sample order of an epoch: identity, or a Fisher-Yates shuffle drawn
   from the counter-based generator (seed, epoch), reproducible anywhere. */
static void order(int64_t *idx, int64_t n, const cli_options *o, long epoch, bool shuffle)
{
    for (int64_t i = 0; i < n; i++)
        idx[i] = i;
    uint64_t seed = o->shuffle_seed * 1000003u + (uint64_t)epoch;
    for (int64_t i = n - 1; shuffle && i > 0; i--) {
        int64_t j = (int64_t)(rt_rand_uniform(seed, (uint64_t)i) * (double)(i + 1));
        int64_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

static int step(act_program *p, dataset *d, int nd, const int64_t *idx, int64_t b, float *buf,
                double lr, double *loss)
{
    act_error err = {0};
    for (int k = 0; k < nd; k++) {
        for (int64_t i = 0; i < b; i++)
            memcpy(buf + i * d[k].row, d[k].data + idx[i] * d[k].row,
                   (size_t)d[k].row * sizeof *buf);
        int64_t shape[IR_MAX_RANK];
        memcpy(shape, d[k].shape, sizeof shape);
        shape[0] = b;
        if (act_set(p, d[k].name, buf, shape, d[k].rank, &err))
            return cli_report(&err);
    }
    if (act_sgd_step(p, (float)lr, &err))
        return cli_report(&err);
    const float *l = act_get(p, p->g->loss->name, NULL, NULL, &err);
    if (!l)
        return cli_report(&err);
    *loss += (double)*l * (double)b;
    return 0;
}

static int write_params(act_program *p, const char *dir)
{
    cli_result r[CLI_MAX_LIST];
    int n = 0;
    act_error err = {0};
    for (int i = 0; i < p->g->nforward && n < CLI_MAX_LIST; i++) {
        ir_value *v = p->g->values.items[i];
        if (v->op != IR_PARAM)
            continue;
        r[n].file = v->name;
        if (!(r[n].data = act_get(p, v->name, r[n].shape, &r[n].rank, &err)))
            return cli_report(&err);
        n++;
    }
    return cli_write_results(dir, r, n);
}

static int train(const cli_options *o, act_program *p, dataset *d, int64_t samples)
{
    int64_t row_max = 1;
    for (int k = 0; k < o->ninputs; k++)
        row_max = d[k].row > row_max ? d[k].row : row_max;
    int64_t *idx = malloc((size_t)samples * sizeof *idx);
    float *buf = malloc((size_t)(o->batch * row_max) * sizeof *buf);
    int rc = idx && buf ? 0 : (fprintf(stderr, "actc: error: out of memory\n"), EXIT_USER);
    bool tty = isatty(STDOUT_FILENO);
    for (long e = 1; !rc && e <= o->epochs; e++) {
        double loss = 0, t0 = now();
        order(idx, samples, o, e, o->has_shuffle_seed);
        for (int64_t s = 0; !rc && s < samples; s += o->batch) {
            int64_t b = samples - s < o->batch ? samples - s : o->batch;
            rc = step(p, d, o->ninputs, idx + s, b, buf, o->lr, &loss);
            if (!rc && tty)
                printf("\repoch %ld/%ld  %lld/%lld samples", e, o->epochs, (long long)(s + b),
                       (long long)samples),
                    fflush(stdout);
        }
        if (!rc)
            printf("%sepoch %ld/%ld  loss %.6g  %.0f samples/s\n", tty ? "\r" : "", e, o->epochs,
                   loss / (double)samples, (double)samples / (now() - t0 + 1e-12));
    }
    free(idx);
    free(buf);
    return rc;
}

int cli_train(const cli_options *o)
{
    if (!o->out || !o->has_epochs || !o->has_lr || !o->ninputs) {
        fprintf(stderr, "actc: error: expected --input, --epochs, --lr and --out for train, "
                        "found some missing\n");
        return EXIT_USAGE;
    }
    act_context *ctx = act_context_new();
    act_program *p = ctx && !cli_load_plugins(ctx, o) ? cli_compile(ctx, o, o->engine) : NULL;
    dataset d[CLI_MAX_LIST] = {{0}};
    int64_t samples = 0;
    int rc = p ? cli_set_tensors(p, o, false) : EXIT_USER;
    if (!rc && !p->g->loss) {
        fprintf(stderr, "%s: error: expected a loss in graph '%s' to train, found none\n", o->file,
                p->g->name);
        rc = EXIT_USER;
    }
    if (!rc)
        rc = load_data(o, d, &samples);
    if (!rc)
        rc = train(o, p, d, samples);
    if (!rc)
        rc = write_params(p, o->out);
    for (int k = 0; k < o->ninputs; k++)
        free(d[k].data);
    act_program_free(p);
    act_context_free(ctx);
    return rc;
}
