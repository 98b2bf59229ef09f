/* emit.c -- actc emit: ahead-of-time LLVM IR, assembly or an object file and
   its C header, for the host or another CPU. */
#include "cli.h"

int cli_emit(const cli_options *o)
{
    if (o->kind < 0 || !o->output) {
        fprintf(stderr,
                "actc: error: expected --kind llvm|asm|obj and -o OUT for emit, found "
                "%s missing\n(run 'actc --help' for usage)\n",
                o->kind < 0 ? "--kind" : "-o");
        return EXIT_USAGE;
    }
    act_context *ctx = act_context_new();
    int rc = ctx ? cli_load_plugins(ctx, o) : EXIT_USER;
    act_program *p = rc ? NULL : cli_compile(ctx, o, ACT_ENGINE_INTERP); /* verify only */
    act_error err = {0};
    if (!p)
        rc = EXIT_USER;
    else if (cc_emit(p->mod, p->g, (cc_emit_kind)o->kind, o->output, o->header, o->target_cpu,
                     o->target_features, &err))
        rc = cli_report(&err);
    act_program_free(p);
    act_context_free(ctx);
    return rc;
}
