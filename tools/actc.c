/* actc.c -- the act command line: parses the arguments and runs one command.
   Exit 0 on success, 1 on a user error, 2 on bad usage (CLI.md). */
#include "cli.h"

#include <string.h>

static int run(const cli_options *o)
{
    static const struct {
        const char *name;
        int (*run)(const cli_options *);
    } table[] = {{"check", cli_check}, {"print", cli_print}, {"run", cli_run},
                 {"grad", cli_grad},   {"list", cli_list},   {"train", cli_train},
                 {"emit", cli_emit},   {"bench", cli_bench}};
    for (size_t i = 0; i < sizeof table / sizeof *table; i++)
        if (!strcmp(o->command, table[i].name))
            return table[i].run(o);
    return EXIT_USAGE; /* cli_parse accepts only the commands above */
}

int main(int argc, char **argv)
{
    cli_options o;
    int rc = cli_parse(argc, argv, &o);
    if (!rc && o.version)
        printf("actc %s\n", ACT_VERSION_STRING);
    else if (!rc && o.help)
        cli_usage(stdout, o.command);
    else if (!rc)
        rc = run(&o);
    cli_free(&o);
    return rc;
}
