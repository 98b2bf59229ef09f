/* formulas.c -- a plugin of activations from the literature that act does
   not build in, each given by its formula so that it fuses, vectorises and
   differentiates like a built-in. Built as plugins/libact_formulas.so; it
   includes only <act/plugin.h>, as any user plugin would. */
#include <act/plugin.h>

ACT_PLUGIN_ABI;

int act_plugin_register(act_registry *reg)
{
    /* Bent identity: grows like x/2 and 3x/2 on either side, smooth and
       never flat. It has no single source paper; it is listed in the
       activation tables of the period (e.g. Wikipedia's). */
    act_register_formula(reg, "bent_identity", "", "(sqrt(x^2 + 1) - 1) / 2 + x", NULL);

    /* Inverse square root unit: B. Carlile, G. Delamarter, P. Kinney,
       A. Marti, B. Whitney, "Improving deep learning by inverse square root
       linear units (ISRLUs)", arXiv:1710.09967, 2017. */
    act_register_formula(reg, "isru", "a = 1", "x / sqrt(1 + a * x^2)", NULL);

    /* Soft clipping: R. Klimek, M. Perelstein, "Neural network-based approach
       to phase space integration", arXiv:1810.11509, 2018:
       log((1 + exp(a x)) / (1 + exp(a (x - 1)))) / a. Written as a
       difference of two stable softplus terms, max(z, 0) + log1p(exp(-|z|)),
       because the quotient overflows to inf/inf once a x passes ~709; the
       derivative is given for the same reason. */
    act_register_formula(reg, "soft_clipping", "a = 1",
                         "(max(a * x, 0) + log1p(exp(-abs(a * x)))"
                         " - max(a * (x - 1), 0) - log1p(exp(-abs(a * (x - 1))))) / a",
                         "sigmoid(a * x) - sigmoid(a * (x - 1))");

    /* Sinusoid: G. Parascandolo, H. Huttunen, T. Virtanen, "Taming the
       waves: sine as activation function in deep neural networks", 2016. */
    act_register_formula(reg, "sinusoid", "", "sin(x)", NULL);

    /* Logish: H. Zhu, H. Zeng, J. Liu, X. Zhang, "Logish: A new nonlinear
       nonmonotonic activation function for convolutional neural network",
       Neurocomputing 458, 2021. */
    act_register_formula(reg, "logish", "", "x * log(1 + sigmoid(x))", NULL);
    return 0;
}
