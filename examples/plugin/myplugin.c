/* myplugin.c -- an activation plugin as a user writes one: PLUGIN.md's
   example, with one activation of each kind. It includes only
   <act/plugin.h> and links nothing of act. */
#include <act/plugin.h>
#include <math.h>

ACT_PLUGIN_ABI;

/* Bent identity, by native scalar functions; the derivative receives the
   forward output y after x. */
static double my_bent(double x)
{
    return (sqrt(x * x + 1) - 1) / 2 + x;
}

static double my_bent_grad(double x, double y)
{
    (void)y;
    return x / (2 * sqrt(x * x + 1)) + 1;
}

/* A softsign scaled by k, by native array functions (a whole tensor at a
   time). */
static void my_forward(const float *x, float *y, int64_t n, const double *params)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = (float)(params[0] * x[i] / (1 + fabs(x[i])));
}

static void my_backward(const float *x, const float *y, const float *dy, float *dx, int64_t n,
                        const double *params)
{
    (void)y;
    for (int64_t i = 0; i < n; i++)
        dx[i] = (float)(dy[i] * params[0] / ((1 + fabs(x[i])) * (1 + fabs(x[i]))));
}

int act_plugin_register(act_registry *reg) /* 0 = success */
{
    /* 1. by formula: full fusion, vectorisation and derivative, like a built-in */
    act_register_formula(reg, "softclip", "a = 1", "log((1 + exp(a*x)) / (1 + exp(a*(x - 1)))) / a",
                         NULL /* derivative: derived symbolically */);

    /* 2. by native scalar functions: f(x, p1..pk) and optionally df(x, y, p1..pk) */
    act_register_scalar(reg, "bent_identity", "", ACT_F64, ACT_FN(my_bent), ACT_FN(my_bent_grad));

    /* 3. by native array functions, for code that is fastest on whole arrays */
    act_register_array(reg, "my_act", "k = 2", my_forward, my_backward);
    return 0;
}
