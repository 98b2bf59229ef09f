/* cli.h -- the actc command-line program: option parsing (cli.c), the
   commands (commands.c, train.c), diagnostics and output files (output.c).
   Only this module prints. */
#ifndef ACT_CLI_H
#define ACT_CLI_H

#include "../runtime/rt.h"

#include <stdio.h>

enum { EXIT_USER = 1, EXIT_USAGE = 2, CLI_MAX_LIST = 64 };

typedef struct {
    const char *name, *path; /* NAME=PATH */
} cli_binding;

typedef struct {
    const char *command;
    const char *file; /* FILE.act, or the activation NAME for plot */
    const char *graph;
    const char *plugins[CLI_MAX_LIST];
    int nplugins;
    act_engine engine;
    int threads;
    cli_binding inputs[CLI_MAX_LIST], params[CLI_MAX_LIST], output_grads[CLI_MAX_LIST];
    cli_binding sizes[CLI_MAX_LIST]; /* bench: NAME=N, the number in path */
    int ninputs, nparams, noutput_grads, nsizes;
    /* emit */
    int kind; /* cc_emit_kind, -1 when not given */
    const char *output, *header, *target_cpu, *target_features;
    const char *out;
    bool help, version;
    /* train */
    long epochs;
    double lr;
    long batch;
    unsigned long long shuffle_seed;
    bool has_epochs, has_lr, has_shuffle_seed;
} cli_options;

/* Parses argv into o; on bad usage prints a message and returns EXIT_USAGE. */
int cli_parse(int argc, char **argv, cli_options *o);
void cli_usage(FILE *f, const char *command);
/* Frees what cli_parse allocated. */
void cli_free(cli_options *o);

/* Prints an error as FILE:LINE:COL: error: MESSAGE with the source line and
   a caret under the column; returns EXIT_USER. */
int cli_report(const act_error *e);

/* Compiles the options' file with the options' graph, engine, threads. */
act_program *cli_compile(act_context *ctx, const cli_options *o, act_engine engine);
/* Loads --plugin and ACT_PLUGIN_PATH plugins into ctx. */
int cli_load_plugins(act_context *ctx, const cli_options *o);
/* act_set or act_set_output_grad. */
typedef int (*cli_setter)(act_program *p, const char *name, const float *data, const int64_t *shape,
                          int rank, act_error *err);
/* Reads NAME=PATH's file and gives it to set; errors are reported at PATH. */
int cli_set_from_npy(act_program *p, const cli_binding *b, cli_setter set);
/* Reads every --param file (and --input file when inputs) and sets it;
   every file is read and checked before anything runs. */
int cli_set_tensors(act_program *p, const cli_options *o, bool inputs);

/* One result to write to DIR/<file>.npy. */
typedef struct {
    const char *file; /* name without .npy */
    const float *data;
    int64_t shape[4];
    int rank;
} cli_result;

/* Writes every result into dir (created when missing) whole or not at all:
   all files go to temporary names first and are renamed only when every one
   was written; on failure nothing is left behind. */
int cli_write_results(const char *dir, const cli_result *r, int n);
/* Prints a result as text: a header line, then one line per row. */
void cli_print_result(FILE *f, const char *kind, const cli_result *r);

int cli_check(const cli_options *o);
int cli_print(const cli_options *o);
int cli_run(const cli_options *o);
int cli_grad(const cli_options *o);
int cli_list(const cli_options *o);
int cli_train(const cli_options *o);
int cli_emit(const cli_options *o);
int cli_bench(const cli_options *o);

#endif
