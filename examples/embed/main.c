/* main.c -- embedding act: compile the XOR network of examples/xor.act,
   train it with act_sgd_step on its four samples, and print what it learnt.
   Build: see CMakeLists.txt beside this file (or pkg-config --cflags --libs act). */
#include <act/act.h>

#include <stdio.h>

static int fail(const act_error *e)
{
    fprintf(stderr, "%s:%d:%d: error: %s\n", e->file, e->line, e->col, e->message);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: embed path/to/xor.act\n");
        return 2;
    }
    const float x[8] = {0, 0, 0, 1, 1, 0, 1, 1};
    const float t[4] = {0, 1, 1, 0};
    const int64_t sx[2] = {4, 2}, st[2] = {4, 1};
    act_error err;
    act_context *ctx = act_context_new();
    act_program *p = act_compile_file(ctx, argv[1], NULL, ACT_ENGINE_JIT, &err);
    if (!p || act_set(p, "x", x, sx, 2, &err) || act_set(p, "t", t, st, 2, &err))
        return fail(&err);
    for (int step = 0; step < 3000; step++)
        if (act_sgd_step(p, 2.0f, &err))
            return fail(&err);
    if (act_forward(p, &err))
        return fail(&err);
    const float *y = act_get(p, "y", NULL, NULL, &err);
    const float *loss = act_get(p, "L", NULL, NULL, &err);
    if (!y || !loss)
        return fail(&err);
    for (int i = 0; i < 4; i++)
        printf("xor(%g, %g) = %.3f\n", x[2 * i], x[2 * i + 1], y[i]);
    printf("loss %.5f\n", *loss);
    act_program_free(p);
    act_context_free(ctx);
    return 0;
}
