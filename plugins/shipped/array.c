/* array.c -- a plugin of native array activations, for code that is fastest
   on whole arrays: the forward and backward functions see n elements at a
   time and the activation's parameters. Built as plugins/libact_array.so. */
#include <act/plugin.h>
#include <math.h>

ACT_PLUGIN_ABI;

/* Parametric soft exponential sign: y = x / (1 + |x|^k)^(1/k), k = 2 by
   default (k = 1 is softsign; k -> inf tends to hard_tanh). A smooth
   saturating family in the spirit of D. Elliott, "A better activation
   function for artificial neural networks", ISR TR 93-8, 1993. */
static void ssign(const float *x, float *y, int64_t n, const double *params)
{
    double k = params[0];
    for (int64_t i = 0; i < n; i++)
        y[i] = (float)(x[i] / pow(1 + pow(fabs(x[i]), k), 1 / k));
}

/* dy/dx = (1 + |x|^k)^(-1/k - 1) */
static void ssign_grad(const float *x, const float *y, const float *dy, float *dx, int64_t n,
                       const double *params)
{
    double k = params[0];
    (void)y;
    for (int64_t i = 0; i < n; i++)
        dx[i] = (float)(dy[i] * pow(1 + pow(fabs(x[i]), k), -1 / k - 1));
}

int act_plugin_register(act_registry *reg)
{
    return act_register_array(reg, "ssign", "k = 2", ssign, ssign_grad);
}
