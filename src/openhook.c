/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* openhook: a broker that opens files for confined programs under a
 * policy.  main() only picks the subcommand; each lives in its own file. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "util.h"
#include "openhook.h"

struct command {
        const char *name;
        const char *full_name;  /* argv[0] for the subcommand: getopt's messages start with it */
        int (*fn)(int argc, char **argv);
        const char *summary;
};

static const struct command commands[] = {
        { "serve", "openhook serve", cmd_serve, "answer open requests on a socket under a policy" },
        { "run", "openhook run", cmd_run, "run a program whose file access goes through the broker" },
        { "check", "openhook check", cmd_check, "validate a policy and print its rules" },
};

static void help(void)
{
        printf("Usage: openhook COMMAND [OPTION]...\n"
               "Open files for confined programs, under a policy, and pass them the\n"
               "descriptors over a Unix socket (the QEMU -open-hook-fd protocol).\n"
               "\n"
               "Commands:\n");
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                printf("  %-8s %s\n", commands[i].name, commands[i].summary);
        printf("  help [COMMAND]  show this help, or the help of COMMAND\n"
               "\n"
               "Options:\n"
               "  -h, --help     show this help\n"
               "  --version      show the version\n"
               "\n"
               "Exit status:\n"
               "  0    success\n"
               "  1    check found errors; serve failed at runtime\n"
               "  2    usage error (bad option, bad rule on the command line)\n"
               "  run: the status of COMMAND, or 125 if openhook run itself failed,\n"
               "       126 if COMMAND cannot be executed, 127 if it was not found\n"
               "\n"
               "See openhook(1) and openhook-policy(5).\n");
}

static const struct command *find_command(const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (strcmp(commands[i].name, name) == 0)
                        return &commands[i];
        return NULL;
}

/* "openhook help serve" is "openhook serve --help". */
static int help_command(int argc, char **argv)
{
        const struct command *c;
        char help_flag[] = "--help";
        char *sub_argv[3];

        if (argc < 2) {
                help();
                return OH_EXIT_OK;
        }
        if (argc > 2)
                oh_die_usage("help: too many arguments");
        c = find_command(argv[1]);
        if (!c)
                oh_die_usage("help: unknown command '%s'", argv[1]);
        sub_argv[0] = (char *)c->full_name;
        sub_argv[1] = help_flag;
        sub_argv[2] = NULL;
        oh_cli_set_command(c->name);
        return c->fn(2, sub_argv);
}

int main(int argc, char **argv)
{
        const struct command *c;

        if (argc < 2)
                oh_die_usage("missing command (serve, run or check)");
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
                help();
                return OH_EXIT_OK;
        }
        if (strcmp(argv[1], "--version") == 0) {
                printf("openhook %s\n", OPENHOOK_VERSION);
                return OH_EXIT_OK;
        }
        if (strcmp(argv[1], "help") == 0)
                return help_command(argc - 1, argv + 1);
        if (argv[1][0] == '-')
                oh_die_usage("unknown option '%s' (options go after the command)", argv[1]);

        c = find_command(argv[1]);
        if (!c)
                oh_die_usage("unknown command '%s' (expected serve, run or check)", argv[1]);
        oh_cli_set_command(c->name);
        argv[1] = (char *)c->full_name;
        return c->fn(argc - 1, argv + 1);
}
