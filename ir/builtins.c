/* builtins.c -- the table of built-in elementwise activations: one row each,
   read by the registry, the interpreter, the compiler, autodiff and `actc
   list`. Graph ops (prelu, rrelu, maxout, softmax, losses) are in ops.c.
 *
 * Each formula is written so that evaluating it in double on a float input
 * gives the exact value rounded, to about 1e-14 relative, and the edge values
 * of ACT-LANGUAGE.md:
 *  - NaN gives NaN: max, min and clamp propagate it, and a where() whose test
 *    is false for NaN puts a NaN-carrying expression in that branch (the
 *    derivatives end in `where(x <= 0, 0, x)`-style branches reached only by
 *    NaN).
 *  - At +-inf the limit: where x * g(x) would be inf * 0 (swish, gelu, mish,
 *    hard_swish), a guard returns the limit far out, beyond where the exact
 *    result already rounds to zero in double (|x| > 40 for gelu, beta*x <
 *    -1000 for swish). Guard thresholds are representable in float so that a
 *    float lowering keeps them.
 *  - No cancellation or spurious underflow: expm1 for elu, erfc(-x/sqrt(2))
 *    for gelu (x*Phi(x) keeps gelu(-6) = -5.9e-9), x * sigmoid(2u) for the
 *    tanh gelu (0.5x(1 + tanh u) cancels for u << 0), the max + log1p form of
 *    softplus, and b / (2(sqrt(x^2 + b) - x)) for squareplus at x < 0.
 *
 * Derivatives are hand-written (in x, y and the params) where the derived
 * one would lose accuracy or the kink conventions: y*(1-y) loses all
 * relative accuracy of sigmoid' for x >> 0 (1 - y cancels), so sigmoid' is
 * y * sigmoid(-x); tanh' = 1 - y^2 likewise, so it is 4 s(2x) s(-2x) with s
 * the sigmoid; elu' is alpha * exp(x), not y + alpha, which cancels for x << 0.
 * At kinks: the x > 0 branch test for relu (relu'(0) = 0) and the leaky_relu
 * and elu family, 0 on the boundaries of relu6, hard_tanh and hard_sigmoid
 * (PyTorch: strictly inside), and PyTorch's hard_swish' (0 below -3,
 * (2x + 3)/6 up to 3 inclusive, 1 above).
 */
#include "ir.h"

static const ir_builtin_row rows[] = {
    {"identity", "", NULL, "x", NULL, "the identity: x"},
    {"relu", "", NULL, "max(x, 0)", "where(x > 0, 1, where(x <= 0, 0, x))",
     "rectified linear unit: max(x, 0)"},
    {"relu6", "", NULL, "clamp(x, 0, 6)", "where(x > 0, where(x < 6, 1, 0), where(x <= 0, 0, x))",
     "relu capped at 6: min(max(x, 0), 6)"},
    {"leaky_relu", "alpha = 0.01", NULL, "where(x > 0, x, alpha * x)",
     "where(x > 0, 1, where(x <= 0, alpha, x))", "leaky relu: x > 0 ? x : alpha*x"},
    {"elu", "alpha = 1", NULL, "where(x > 0, x, alpha * expm1(x))",
     "where(x > 0, 1, alpha * exp(x))", "exponential linear unit: x > 0 ? x : alpha*(exp(x) - 1)"},
    {"selu", "", NULL, "1.0507009873554805 * where(x > 0, x, 1.6732632423543772 * expm1(x))",
     "where(x > 0, 1.0507009873554805, 1.0507009873554805 * 1.6732632423543772 * exp(x))",
     "scaled elu: 1.0507009873554805*elu(x, 1.6732632423543772)"},
    {"celu", "alpha = 1", NULL, "max(0, x) + min(0, alpha * expm1(x / alpha))",
     "where(x > 0, 1, exp(x / alpha))",
     "continuously differentiable elu: max(0, x) + min(0, alpha*(exp(x/alpha) - 1))"},
    {"gelu", "", "approximate: none tanh",
     "where(x < -40, -0, where(approximate == 1,"
     " x * sigmoid(2 * sqrt(2 / pi) * (x + 0.044715 * x^3)),"
     " x / 2 * erfc(-x / sqrt(2))))",
     "where(x < -40, 0, where(x > 40, 1, where(approximate == 1,"
     " sigmoid(2 * sqrt(2 / pi) * (x + 0.044715 * x^3))"
     " + 2 * x * sigmoid(2 * sqrt(2 / pi) * (x + 0.044715 * x^3))"
     " * sigmoid(-(2 * sqrt(2 / pi) * (x + 0.044715 * x^3)))"
     " * sqrt(2 / pi) * (1 + 3 * 0.044715 * x^2),"
     " erfc(-x / sqrt(2)) / 2 + x * exp(-x^2 / 2) / sqrt(2 * pi))))",
     "gaussian error linear unit: x*Phi(x), or with approximate = \"tanh\" "
     "0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3)))"},
    {"sigmoid", "", NULL, "sigmoid(x)", "y * sigmoid(-x)", "logistic sigmoid: 1/(1 + exp(-x))"},
    {"hard_sigmoid", "", NULL, "clamp((x + 3) / 6, 0, 1)",
     "where(abs(x) < 3, 1 / 6, where(abs(x) >= 3, 0, x))",
     "piecewise linear sigmoid: clamp(x/6 + 1/2, 0, 1)"},
    {"tanh", "", NULL, "tanh(x)", "4 * sigmoid(2 * x) * sigmoid(-(2 * x))", "hyperbolic tangent"},
    {"hard_tanh", "min_val = -1, max_val = 1", NULL, "clamp(x, min_val, max_val)",
     "where(x > min_val, where(x < max_val, 1, 0), where(x <= min_val, 0, x))",
     "clamp(x, min_val, max_val)"},
    /* 0 / x is a zero with the sign of x: the limit whichever sign beta has */
    {"swish", "beta = 1", NULL, "where(beta * x < -1000, 0 / x, x * sigmoid(beta * x))",
     "where(beta * x < -1000, 0, where(beta * x > 1000, 1,"
     " sigmoid(beta * x) * (1 + beta * x * sigmoid(-(beta * x)))))",
     "x*sigmoid(beta*x)"},
    {"silu", "", NULL, "where(x < -1000, -0, x * sigmoid(x))",
     "where(x < -1000, 0, where(x > 1000, 1, sigmoid(x) * (1 + x * sigmoid(-x))))",
     "sigmoid linear unit: x*sigmoid(x), swish with beta = 1"},
    {"hard_swish", "", NULL, "where(x <= -3, -0, x * clamp(x + 3, 0, 6) / 6)",
     "where(x < -3, 0, where(x <= 3, (2 * x + 3) / 6, where(x > 3, 1, x)))", "x*relu6(x + 3)/6"},
    {"mish", "", NULL, "where(x < -1000, -0, x * tanh(log1p(exp(x))))",
     "where(x < -1000, 0, where(x > 1000, 1,"
     " tanh(log1p(exp(x))) + x * (1 - tanh(log1p(exp(x)))^2) * sigmoid(x)))",
     "x*tanh(softplus(x))"},
    {"softplus", "beta = 1, threshold = 20", NULL,
     "where(beta * x > threshold, x, (max(beta * x, 0) + log1p(exp(-abs(beta * x)))) / beta)",
     "where(beta * x > threshold, 1, sigmoid(beta * x))",
     "log(1 + exp(beta*x))/beta; x when beta*x > threshold"},
    /* x / (1 + |x|) is inf / inf at +-inf; beyond 1e20 the result rounds to +-1 */
    {"softsign", "", NULL, "where(x > 1e20, 1, where(x < -1e20, -1, x / (1 + abs(x))))",
     "1 / (1 + abs(x))^2", "x/(1 + |x|)"},
    {"squareplus", "b = 4", NULL,
     "where(x < 0, b / (2 * (sqrt(x^2 + b) - x)), (x + sqrt(x^2 + b)) / 2)",
     "where(x < 0, b / (2 * sqrt(x^2 + b) * (sqrt(x^2 + b) - x)), (1 + 1 / sqrt(1 + b / x^2)) / 2)",
     "(x + sqrt(x^2 + b))/2"},
};

const ir_builtin_row *ir_builtin_rows(int *count)
{
    *count = (int)(sizeof rows / sizeof *rows);
    return rows;
}
