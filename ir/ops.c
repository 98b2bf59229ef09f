/* ops.c -- the graph ops users can call besides the elementwise activations
   (ACT-LANGUAGE.md, "Layers and tensor ops", the non-elementwise
   activations and "Losses"), one row each, and the names of every op,
   backward ones included, for messages and debugging. */
#include "ir.h"

#include <string.h>

/* Named-argument defaults. scale's s defaults to 2.0 because the contract
   writes its signature `scale(x, s = 2.0)` in the same notation as every other
   default (`alpha = 0.01`). rrelu's lower and upper are PyTorch's 1/8 and 1/3. */
static const ir_op_info ops[] = {
    {"dense", IR_DENSE, 2, 3, {0}, "x.W + b: x [.., K], W [K, M], optional b [M] -> [.., M]"},
    {"add", IR_ADD, 2, 2, {0}, "elementwise a + b with numpy broadcasting of trailing dims"},
    {"mul", IR_MUL, 2, 2, {0}, "elementwise a * b with numpy broadcasting of trailing dims"},
    {"scale", IR_SCALE, 1, 1, {1, {{.name = "s", .def = 2.0}}}, "s * x"},
    {"prelu",
     IR_PRELU,
     2,
     2,
     {0},
     "x > 0 ? x : slope*x; slope a param [M] per channel of the last axis, or [1]"},
    {"rrelu",
     IR_RRELU,
     1,
     1,
     {4,
      {{.name = "lower", .def = 0.125},
       {.name = "upper", .def = 1.0 / 3.0},
       {.name = "training", .def = 0},
       {.name = "seed", .def = 0}}},
     "leaky relu with slope (lower + upper)/2, or with training = 1 a seeded random slope "
     "in [lower, upper] per element"},
    {"maxout",
     IR_MAXOUT,
     1,
     1,
     {1, {{.name = "k", .def = 2}}},
     "max over consecutive groups of k on the last axis: [.., M] -> [.., M/k]"},
    {"softmax",
     IR_SOFTMAX,
     1,
     1,
     {1, {{.name = "axis", .def = -1}}},
     "exp(x_i - max) / sum exp(x_j - max) along axis"},
    {"log_softmax",
     IR_LOG_SOFTMAX,
     1,
     1,
     {1, {{.name = "axis", .def = -1}}},
     "x_i - max - log sum exp(x_j - max) along axis"},
    {"softmax_cross_entropy",
     IR_SCE,
     2,
     2,
     {0},
     "loss: mean over leading dims of -sum target*log_softmax(logits) over the last axis"},
    {"sigmoid_cross_entropy",
     IR_BCE,
     2,
     2,
     {0},
     "loss: mean of max(x, 0) - x*t + log(1 + exp(-|x|)) (binary cross entropy with logits)"},
    {"mse", IR_MSE, 2, 2, {0}, "loss: mean of (y - target)^2"},
};

const ir_op_info *ir_op_find(const char *name)
{
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
        if (!strcmp(ops[i].name, name))
            return &ops[i];
    return NULL;
}

const ir_op_info *ir_op_table(int *count)
{
    *count = (int)(sizeof ops / sizeof *ops);
    return ops;
}

static const char *const names[IR_OP_COUNT_] = {
    [IR_INPUT] = "input",
    [IR_PARAM] = "param",
    [IR_DENSE] = "dense",
    [IR_ADD] = "add",
    [IR_MUL] = "mul",
    [IR_SCALE] = "scale",
    [IR_ACT] = "activation",
    [IR_PRELU] = "prelu",
    [IR_RRELU] = "rrelu",
    [IR_MAXOUT] = "maxout",
    [IR_SOFTMAX] = "softmax",
    [IR_LOG_SOFTMAX] = "log_softmax",
    [IR_SCE] = "softmax_cross_entropy",
    [IR_BCE] = "sigmoid_cross_entropy",
    [IR_MSE] = "mse",
    [IR_SEED] = "seed",
    [IR_ONE] = "one",
    [IR_ACT_GRAD] = "activation_grad",
    [IR_MATMUL_NT] = "matmul_nt",
    [IR_MATMUL_TN] = "matmul_tn",
    [IR_SUM_TO] = "sum_to",
    [IR_ACCUM] = "accum",
    [IR_PRELU_GRAD_X] = "prelu_grad_x",
    [IR_PRELU_GRAD_SLOPE] = "prelu_grad_slope",
    [IR_RRELU_GRAD] = "rrelu_grad",
    [IR_MAXOUT_GRAD] = "maxout_grad",
    [IR_SOFTMAX_GRAD] = "softmax_grad",
    [IR_LOG_SOFTMAX_GRAD] = "log_softmax_grad",
    [IR_SCE_GRAD_LOGITS] = "softmax_cross_entropy_grad_logits",
    [IR_SCE_GRAD_TARGET] = "softmax_cross_entropy_grad_target",
    [IR_BCE_GRAD_X] = "sigmoid_cross_entropy_grad_x",
    [IR_BCE_GRAD_T] = "sigmoid_cross_entropy_grad_t",
    [IR_MSE_GRAD_Y] = "mse_grad_y",
    [IR_MSE_GRAD_T] = "mse_grad_t",
};

const char *ir_op_name(ir_op op)
{
    return (unsigned)op < IR_OP_COUNT_ && names[op] ? names[op] : "?";
}
