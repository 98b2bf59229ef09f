/* commands.c -- the actc commands that read a graph once: check, print, run,
   grad, list. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

/* A context with the options' plugins loaded, or NULL after reporting. */
static act_context *open_context(const cli_options *o)
{
    act_context *ctx = act_context_new();
    if (!ctx) {
        fprintf(stderr, "actc: error: out of memory\n");
        return NULL;
    }
    if (cli_load_plugins(ctx, o)) {
        act_context_free(ctx);
        return NULL;
    }
    return ctx;
}

static void print_params(const ir_params *ps)
{
    for (int i = 0; i < ps->n; i++) {
        char num[32];
        ir_format_number(num, ps->p[i].def);
        if (ps->p[i].words[0])
            printf("%s%s = \"%s\"", i ? ", " : "", ps->p[i].name,
                   ps->p[i].words[(int)ps->p[i].def]);
        else
            printf("%s%s = %s", i ? ", " : "", ps->p[i].name, num);
    }
}

int cli_check(const cli_options *o)
{
    act_context *ctx = open_context(o);
    act_program *p = ctx ? cli_compile(ctx, o, ACT_ENGINE_INTERP) : NULL;
    if (!p) {
        act_context_free(ctx);
        return EXIT_USER;
    }
    printf("graph %s: ok\n", p->g->name);
    static const char *const kinds[] = {"input", "param", "output", "loss"};
    for (int k = 0; k < 4; k++) {
        const char **names;
        int n = act_program_names(p, k, &names);
        for (int i = 0; i < n; i++)
            printf("%-6s %s : %s\n", kinds[k], names[i], act_program_type(p, names[i]));
    }
    act_program_free(p);
    act_context_free(ctx);
    return 0;
}

/* Prints the canonical text after verifying every graph, so that what is
   printed is a valid file. */
int cli_print(const cli_options *o)
{
    act_context *ctx = open_context(o);
    act_error err = {0};
    char *src = ctx ? rt_read_file(o->file, &err) : NULL;
    ir_module *m = src ? ir_parse(o->file, src, &err) : NULL;
    int rc = m ? 0 : EXIT_USER;
    for (int i = 0; m && !rc && i < m->graphs.n; i++)
        rc = ir_verify(m, m->graphs.items[i], ctx->reg, &err);
    char *text = rc ? NULL : ir_print(m);
    if (ctx && (!m || rc))
        cli_report(&err);
    else if (text)
        fputs(text, stdout);
    else if (ctx)
        fprintf(stderr, "actc: error: out of memory\n");
    free(text);
    ir_module_free(m);
    free(src);
    act_context_free(ctx);
    return text ? 0 : EXIT_USER;
}

/* The results of a run: every output, then the loss when it was computed. */
static int collect_outputs(act_program *p, cli_result *r, const char **kind)
{
    int n = 0;
    act_error err = {0};
    for (int j = 0; j < p->g->outputs.n && n < CLI_MAX_LIST; j++, n++) {
        r[n].file = ((ir_value *)p->g->outputs.items[j])->name;
        r[n].data = act_get(p, r[n].file, r[n].shape, &r[n].rank, &err);
        kind[n] = "output";
    }
    if (p->loss_done) {
        r[n].file = p->g->loss->name;
        r[n].data = act_get(p, r[n].file, r[n].shape, &r[n].rank, &err);
        kind[n++] = "loss";
    }
    for (int i = 0; i < n; i++)
        if (!r[i].data)
            return -1;
    return n;
}

static int finish(act_program *p, act_context *ctx, int rc)
{
    act_program_free(p);
    act_context_free(ctx);
    return rc;
}

static int emit_results(const cli_options *o, const cli_result *r, const char **kind, int n)
{
    if (o->out)
        return cli_write_results(o->out, r, n);
    for (int i = 0; i < n; i++)
        cli_print_result(stdout, kind[i], &r[i]);
    return 0;
}

int cli_run(const cli_options *o)
{
    act_context *ctx = open_context(o);
    act_program *p = ctx ? cli_compile(ctx, o, o->engine) : NULL;
    if (!p || cli_set_tensors(p, o, true))
        return finish(p, ctx, EXIT_USER);
    act_error err = {0};
    if (act_forward(p, &err))
        return finish(p, ctx, cli_report(&err));
    cli_result r[CLI_MAX_LIST + 1];
    const char *kind[CLI_MAX_LIST + 1];
    int n = collect_outputs(p, r, kind);
    if (n < 0) {
        fprintf(stderr, "actc: error: out of memory\n");
        return finish(p, ctx, EXIT_USER);
    }
    return finish(p, ctx, emit_results(o, r, kind, n));
}

static int set_output_grads(act_program *p, const cli_options *o)
{
    int rc = 0;
    for (int i = 0; !rc && i < o->noutput_grads; i++)
        rc = cli_set_from_npy(p, &o->output_grads[i], act_set_output_grad);
    return rc;
}

int cli_grad(const cli_options *o)
{
    if (!o->out) {
        fprintf(stderr, "actc: error: expected --out DIR for grad, found none\n");
        return EXIT_USAGE;
    }
    act_context *ctx = open_context(o);
    act_program *p = ctx ? cli_compile(ctx, o, o->engine) : NULL;
    if (!p || cli_set_tensors(p, o, true) || set_output_grads(p, o))
        return finish(p, ctx, EXIT_USER);
    act_error err = {0};
    if (act_backward(p, &err))
        return finish(p, ctx, cli_report(&err));
    int n = 0;
    cli_result *r = calloc((size_t)p->g->nforward + 1, sizeof *r);
    char **names = calloc((size_t)p->g->nforward + 1, sizeof *names);
    if (r && names && p->loss_done) {
        r[n].file = p->g->loss->name;
        r[n].data = act_get(p, r[n].file, r[n].shape, &r[n].rank, &err);
        n++;
    }
    for (int i = 0; r && names && i < p->g->nforward; i++) {
        ir_value *v = p->g->values.items[i];
        if (v->op != IR_INPUT && v->op != IR_PARAM)
            continue;
        size_t len = strlen(v->name) + 3;
        if (!(names[n] = malloc(len)))
            break;
        snprintf(names[n], len, "d_%s", v->name);
        r[n].file = names[n];
        r[n].data = act_get(p, names[n], r[n].shape, &r[n].rank, &err);
        n++;
    }
    int rc = 0;
    for (int i = 0; !rc && i < n; i++)
        if (!r[i].data)
            rc = cli_report(&err);
    if (!r || !names)
        rc = (fprintf(stderr, "actc: error: out of memory\n"), EXIT_USER);
    if (!rc)
        rc = cli_write_results(o->out, r, n);
    for (int i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
    free(r);
    return finish(p, ctx, rc);
}

static void print_activation(const ir_activation *a)
{
    printf("%s (%s)\n  params: ", a->name, a->origin);
    if (!a->params.n)
        printf("none");
    print_params(&a->params);
    char *f = ir_expr_to_string(a->f, a->var, &a->params);
    char *df = a->df ? ir_expr_to_string(a->df, a->var, &a->params) : NULL;
    printf("\n  f(%s)  = %s\n", a->var, f ? f : "?");
    if (df)
        printf("  f'(%s) = %s\n", a->var, df);
    else
        printf("  f'(%s): none (%s)\n", a->var, a->df_error ? a->df_error : "cannot be formed");
    free(f);
    free(df);
}

int cli_list(const cli_options *o)
{
    act_context *ctx = open_context(o);
    if (!ctx)
        return EXIT_USER;
    printf("Elementwise activations (y is the forward output in f'):\n\n");
    for (int i = 0; i < ir_registry_count(ctx->reg); i++)
        print_activation(ir_registry_at(ctx->reg, i));
    int n;
    const ir_op_info *ops = ir_op_table(&n);
    printf("\nOther ops (built-in):\n\n");
    for (int i = 0; i < n; i++) {
        printf("%s\n  params: ", ops[i].name);
        if (!ops[i].params.n)
            printf("none");
        print_params(&ops[i].params);
        printf("\n  %s\n", ops[i].doc);
    }
    act_context_free(ctx);
    return 0;
}
