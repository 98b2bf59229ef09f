/* cli.c -- actc's argument parsing: GNU-style options before or after FILE
   (--name value, --name=value), per-command option sets, usage text. */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Which commands take which option: a letter per command, in the order of
   `commands` below. */
static const char *const commands[] = {"check", "print", "run",  "grad",
                                       "list",  "train", "emit", "bench"};

typedef struct {
    const char *name;
    bool takes_value;
    const char *commands; /* letters: c p r g l t e b (see above), or "*" */
} option_spec;

static const option_spec options[] = {
    {"graph", true, "cprgteb"},
    {"plugin", true, "*"},
    {"engine", true, "cprgtb"},
    {"threads", true, "cprgtb"},
    {"input", true, "rgt"},
    {"param", true, "rgtb"},
    {"output-grad", true, "g"},
    {"out", true, "rgt"},
    {"epochs", true, "t"},
    {"lr", true, "t"},
    {"batch", true, "t"},
    {"shuffle-seed", true, "t"},
    {"kind", true, "e"},
    {"o", true, "e"},
    {"header", true, "e"},
    {"target-cpu", true, "e"},
    {"target-features", true, "e"},
    {"size", true, "b"},
    {"help", false, "*"},
};

static const char *const usage_text[] = {
    "actc check FILE.act [--graph NAME] [--plugin PATH]...\n"
    "  Parse and verify; print the graph's inputs, params, outputs and loss with their types.\n",
    "actc print FILE.act [--plugin PATH]...\n"
    "  Print the file back in canonical form.\n",
    "actc run FILE.act --input NAME=FILE.npy... [--param NAME=FILE.npy...] [--out DIR]\n"
    "  Run forward; write DIR/<output>.npy (and DIR/<loss>.npy when the loss's inputs are\n"
    "  given), or print the results as text without --out.\n",
    "actc grad FILE.act --input NAME=FILE.npy... [--param ...] [--output-grad NAME=FILE.npy...]\n"
    "          --out DIR\n"
    "  Forward and backward: write DIR/<loss>.npy and DIR/d_<name>.npy for every param and\n"
    "  input (with --output-grad: the vector-Jacobian product from those output gradients).\n",
    "actc list [--plugin PATH]...\n"
    "  List every activation known: origin, parameters and defaults, formula, derivative.\n",
    "actc train FILE.act --input NAME=FILE.npy... --epochs E --lr R [--batch B]\n"
    "          [--shuffle-seed S] --out DIR\n"
    "  Minibatch SGD on the graph's loss over the leading axis of the inputs; write the\n"
    "  trained params as DIR/<param>.npy.\n",
    "actc emit FILE.act --kind llvm|asm|obj -o OUT [--header OUT.h] [--target-cpu CPU]\n"
    "          [--target-features F]\n"
    "  Ahead-of-time output: LLVM IR, assembly or an object file, and a C header declaring\n"
    "  its entry points.\n",
    "actc bench FILE.act [--size N=256 ...] [--param NAME=FILE.npy ...] [--engine jit|interp]\n"
    "  Time forward (and backward where there is a loss) on random inputs, after warm-up:\n"
    "  median time, Gelem/s or GFLOP/s, and the JIT compile time.\n",
};

static const char common_text[] =
    "Options shared by the commands that read a graph:\n"
    "  --graph NAME       pick a graph when the file has several\n"
    "  --plugin PATH      load an activation plugin (repeatable; also ACT_PLUGIN_PATH)\n"
    "  --engine jit|interp  engine for commands that run a graph (default jit)\n"
    "  --threads N        threads (default: all cores)\n"
    "  -h, --help         this help;  --version  the version\n";

static int command_index(const char *name)
{
    for (int i = 0; i < (int)(sizeof commands / sizeof *commands); i++)
        if (name && !strcmp(name, commands[i]))
            return i;
    return -1;
}

void cli_usage(FILE *f, const char *command)
{
    int c = command_index(command);
    if (c >= 0) {
        fprintf(f, "usage: %s\n%s", usage_text[c], common_text);
        return;
    }
    fprintf(f, "usage: actc COMMAND FILE.act [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof usage_text / sizeof *usage_text; i++)
        fprintf(f, "  %s", usage_text[i]);
    fprintf(f, "\n%s", common_text);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "actc: error: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(run 'actc --help' for usage)\n");
    va_end(ap);
    return EXIT_USAGE;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int add_binding(cli_binding *list, int *n, const char *opt, const char *value)
{
    const char *eq = strchr(value, '=');
    if (!eq || eq == value || !eq[1] || *n == CLI_MAX_LIST)
        return usage_error("expected NAME=FILE.npy after --%s, found '%s'", opt, value), -1;
    char *name = strndup(value, (size_t)(eq - value));
    if (!name)
        return -1;
    list[*n].name = name; /* freed by cli_free */
    list[(*n)++].path = eq + 1;
    return 0;
}

static int set_option(cli_options *o, const char *name, const char *value)
{
    long n;
    if (!strcmp(name, "graph"))
        o->graph = value;
    else if (!strcmp(name, "plugin")) {
        if (o->nplugins == CLI_MAX_LIST)
            return usage_error("expected at most %d plugins, found more", CLI_MAX_LIST);
        o->plugins[o->nplugins++] = value;
    } else if (!strcmp(name, "engine")) {
        if (strcmp(value, "jit") && strcmp(value, "interp"))
            return usage_error("expected --engine jit or interp, found '%s'", value);
        o->engine = strcmp(value, "jit") ? ACT_ENGINE_INTERP : ACT_ENGINE_JIT;
    } else if (!strcmp(name, "threads")) {
        if (parse_long(value, 1, 4096, &n))
            return usage_error("expected --threads to be a whole number from 1, found '%s'", value);
        o->threads = (int)n;
    } else if (!strcmp(name, "input")) {
        return add_binding(o->inputs, &o->ninputs, name, value) ? EXIT_USAGE : 0;
    } else if (!strcmp(name, "param")) {
        return add_binding(o->params, &o->nparams, name, value) ? EXIT_USAGE : 0;
    } else if (!strcmp(name, "output-grad")) {
        return add_binding(o->output_grads, &o->noutput_grads, name, value) ? EXIT_USAGE : 0;
    } else if (!strcmp(name, "out")) {
        o->out = value;
    } else if (!strcmp(name, "o")) {
        o->output = value;
    } else if (!strcmp(name, "header")) {
        o->header = value;
    } else if (!strcmp(name, "target-cpu")) {
        o->target_cpu = value;
    } else if (!strcmp(name, "target-features")) {
        o->target_features = value;
    } else if (!strcmp(name, "kind")) {
        static const char *const kinds[] = {"llvm", "asm", "obj"};
        o->kind = -1;
        for (int k = 0; k < 3; k++)
            if (!strcmp(value, kinds[k]))
                o->kind = k;
        if (o->kind < 0)
            return usage_error("expected --kind llvm, asm or obj, found '%s'", value);
    } else if (!strcmp(name, "size")) {
        const char *eq = strchr(value, '=');
        if (!eq || eq == value || parse_long(eq + 1, 1, 1L << 40, &n))
            return usage_error("expected --size NAME=N with N a whole number from 1, found '%s'",
                               value);
        return add_binding(o->sizes, &o->nsizes, name, value) ? EXIT_USAGE : 0;
    } else if (!strcmp(name, "epochs")) {
        if (parse_long(value, 1, 1000000000L, &o->epochs))
            return usage_error("expected --epochs to be a whole number from 1, found '%s'", value);
        o->has_epochs = true;
    } else if (!strcmp(name, "batch")) {
        if (parse_long(value, 1, 1000000000L, &o->batch))
            return usage_error("expected --batch to be a whole number from 1, found '%s'", value);
    } else if (!strcmp(name, "lr")) {
        char *end;
        o->lr = strtod(value, &end);
        if (!*value || *end || !(o->lr > 0) || o->lr > 1e30)
            return usage_error("expected --lr to be a positive number, found '%s'", value);
        o->has_lr = true;
    } else if (!strcmp(name, "shuffle-seed")) {
        if (parse_long(value, 0, 2147483647L, &n))
            return usage_error("expected --shuffle-seed to be a whole number, found '%s'", value);
        o->shuffle_seed = (unsigned long long)n;
        o->has_shuffle_seed = true;
    }
    return 0;
}

static const option_spec *find_option(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof options / sizeof *options; i++)
        if (strlen(options[i].name) == len && !strncmp(options[i].name, name, len))
            return &options[i];
    return NULL;
}

static bool allowed(const option_spec *s, int command)
{
    return s->commands[0] == '*' || strchr(s->commands, "cprglteb"[command]);
}

int cli_parse(int argc, char **argv, cli_options *o)
{
    *o = (cli_options){.engine = ACT_ENGINE_JIT, .batch = 32, .kind = -1};
    int command = -1, nseen = 0;
    const option_spec *seen[256];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--version")) {
            o->version = true;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            o->help = true;
            continue;
        }
        if (a[0] == '-' && a[1]) {
            const char *name = a[1] == '-' ? a + 2 : a + 1;
            const char *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            const option_spec *s = a[1] == '-' || len == 1 ? find_option(name, len) : NULL;
            if (!s || (command >= 0 && !allowed(s, command)))
                return usage_error("unknown option '%s'", a);
            if (command < 0 && nseen < 256)
                seen[nseen++] = s;
            const char *value = eq ? eq + 1 : NULL;
            if (s->takes_value && !value) {
                if (i + 1 >= argc)
                    return usage_error("expected a value after '%s', found none", a);
                value = argv[++i];
            }
            int rc = set_option(o, s->name, value);
            if (rc)
                return rc;
            continue;
        }
        if (!o->command) {
            o->command = a;
            if ((command = command_index(a)) < 0)
                return usage_error("unknown command '%s'", a);
        } else if (!o->file && command != 4) {
            o->file = a;
        } else {
            return usage_error("unexpected argument '%s'", a);
        }
    }
    if (o->help || o->version)
        return 0;
    if (!o->command)
        return usage_error("expected a command, found none");
    for (int i = 0; i < nseen; i++) /* options given before the command */
        if (!allowed(seen[i], command))
            return usage_error("unknown option '--%s' for this command", seen[i]->name);
    if (command != 4 && !o->file)
        return usage_error("expected a FILE.act after '%s', found none", o->command);
    return 0;
}

void cli_free(cli_options *o)
{
    for (int i = 0; i < o->ninputs; i++)
        free((char *)o->inputs[i].name);
    for (int i = 0; i < o->nparams; i++)
        free((char *)o->params[i].name);
    for (int i = 0; i < o->noutput_grads; i++)
        free((char *)o->output_grads[i].name);
    for (int i = 0; i < o->nsizes; i++)
        free((char *)o->sizes[i].name);
}
