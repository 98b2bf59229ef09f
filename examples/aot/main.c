/* main.c -- calls a graph compiled ahead of time by actc emit: clip_forward
   and its vector-Jacobian product clip_vjp, declared in the generated
   clip.h, and checks them against the formula in double. No LLVM, no libact:
   the object needs only libc and libm. */
#include "clip.h"

#include <math.h>
#include <stdio.h>

enum { N = 37 };

static double softclip(double x, double a)
{
    return log((1 + exp(a * x)) / (1 + exp(a * (x - 1)))) / a;
}

/* d/dx softclip = sigmoid(a x) - sigmoid(a (x - 1)) */
static double softclip_grad(double x, double a)
{
    return 1 / (1 + exp(-a * x)) - 1 / (1 + exp(-a * (x - 1)));
}

int main(void)
{
    float x[N], y[N], dy[N], dx[N];
    for (int i = 0; i < N; i++) {
        x[i] = -6.0f + 12.0f * (float)i / (N - 1);
        dy[i] = 1;
    }
    clip_forward(x, y, N);
    clip_vjp(x, dy, y, dx, N);
    double worst = 0;
    for (int i = 0; i < N; i++) {
        double f = softclip(x[i], 2), g = softclip_grad(x[i], 2);
        worst = fmax(worst, fabs(y[i] - f) / fmax(fabs(f), 1e-30));
        worst = fmax(worst, fabs(dx[i] - g) / fmax(fabs(g), 1e-6));
    }
    printf("clip(%g) = %g, clip'(%g) = %g\n", x[N / 2], y[N / 2], x[N / 2], dx[N / 2]);
    printf("largest relative error %.3g\n", worst);
    return worst < 1e-5 ? 0 : 1;
}
