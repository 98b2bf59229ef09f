/* scalar.c -- a plugin of native scalar activations: C functions of double
   called per element (through libffi by the interpreter, directly inside the
   fused kernels by the JIT), each with its derivative, which receives the
   forward output y after x. Built as plugins/libact_scalar.so. */
#include <act/plugin.h>
#include <math.h>

ACT_PLUGIN_ABI;

/* Inverse square root linear unit (ISRLU): x for x >= 0, else
   x / sqrt(1 + a x^2). B. Carlile, G. Delamarter, P. Kinney, A. Marti,
   B. Whitney, "Improving deep learning by inverse square root linear units
   (ISRLUs)", arXiv:1710.09967, 2017. */
static double isrlu(double x, double a)
{
    return x >= 0 ? x : x / sqrt(1 + a * x * x);
}

/* d/dx = (1 / sqrt(1 + a x^2))^3 for x < 0: the cube of y / x. */
static double isrlu_grad(double x, double y, double a)
{
    (void)y;
    if (x >= 0)
        return 1;
    double r = 1 / sqrt(1 + a * x * x);
    return r * r * r;
}

/* Square nonlinearity (SQNL): A. Wuraola, N. Patel, "SQNL: A New
   Computationally Efficient Activation Function", IJCNN 2018. Piecewise
   quadratic, saturating at +-1 beyond |x| = 2. */
static double sqnl(double x)
{
    if (x > 2)
        return 1;
    if (x >= 0)
        return x - x * x / 4;
    if (x >= -2)
        return x + x * x / 4;
    return x < -2 ? -1 : x; /* NaN stays NaN */
}

static double sqnl_grad(double x, double y)
{
    (void)y;
    return fabs(x) > 2 ? 0 : 1 - fabs(x) / 2;
}

int act_plugin_register(act_registry *reg)
{
    int rc = act_register_scalar(reg, "isrlu", "a = 1", ACT_F64, ACT_FN(isrlu), ACT_FN(isrlu_grad));
    return rc ? rc : act_register_scalar(reg, "sqnl", "", ACT_F64, ACT_FN(sqnl), ACT_FN(sqnl_grad));
}
