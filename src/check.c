/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* openhook check: load a policy exactly as serve and run would, report
 * every error, and show each rule as the broker understands it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "openhook.h"
#include "policy.h"

static void check_help(void)
{
        printf("Usage: openhook check [--policy FILE]... [--allow PERMS:PATH]... [--deny PATH]...\n"
               "Validate a policy; print each rule as understood (canonical path,\n"
               "permission letters, where it came from).\n"
               "\n"
               OH_CLI_POLICY_HELP
               "  -h, --help           show this help\n"
               "\n"
               "Exit status: 0 if the policy is valid, 1 if it has errors (each printed\n"
               "as FILE:LINE: what), 2 for a usage error or a bad rule on the command line.\n");
}

static void parse_args(int argc, char **argv, struct oh_cli_policy *pol)
{
        static const struct option options[] = {
                OH_CLI_POLICY_LONG_OPTIONS,
                { "help", no_argument, NULL, 'h' },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
                if (oh_cli_policy_option(pol, c, optarg))
                        continue;
                if (c == 'h') {
                        check_help();
                        exit(OH_EXIT_OK);
                }
                oh_die_bad_option(OH_EXIT_USAGE);
        }
        if (optind < argc)
                oh_die_usage("unexpected argument '%s' (policy files are given with --policy)", argv[optind]);
        if (pol->n_options == 0)
                oh_die_usage("nothing to check: give --policy FILE, --allow or --deny");
}

/* PATH plus SUFFIX ("/" for a subtree) as a policy file spells it. */
static void print_path(const char *path, const char *suffix)
{
        char joined[OPENHOOK_PATH_MAX + 2], spelled[OH_POLICY_PATH_FORMATTED_MAX + 4];

        snprintf(joined, sizeof(joined), "%s%s", path, suffix);
        if (oh_policy_format_path(joined, spelled, sizeof(spelled)) < 0)
                fputs(joined, stdout);  /* cannot happen: rule paths are shorter than OPENHOOK_PATH_MAX */
        else
                fputs(spelled, stdout);
}

/* One line per rule: the rule in policy-file syntax (the canonical path,
 * the letters), then where it came from, and how it was written when the
 * broker reads it differently. */
static void print_rules(const struct openhook_policy *policy)
{
        size_t n;
        const struct oh_rule *rules = oh_policy_rules(policy, &n);

        for (size_t i = 0; i < n; i++) {
                const struct oh_rule *r = &rules[i];
                const char *slash = r->subtree && strcmp(r->path, "/") != 0 ? "/" : "";
                char letters[OH_PERMS_FORMATTED_MAX];

                if (r->deny)
                        printf("deny ");
                else
                        printf("allow %s ", oh_perms_format(r->perms, letters));
                print_path(r->path, slash);
                printf("\t# %s", r->origin);
                if (r->written && (strncmp(r->written, r->path, r->len) != 0 ||
                                   strcmp(r->written + r->len, slash) != 0))
                        printf(" (written %s)", r->written);
                putchar('\n');
        }
}

int cmd_check(int argc, char **argv)
{
        struct oh_cli_policy pol = OH_CLI_POLICY_INIT("check", OH_EXIT_USAGE, OH_EXIT_FAILURE);

        pol.keep_going = 1;
        parse_args(argc, argv, &pol);

        if (pol.n_usage_errors || pol.n_file_errors) {
                oh_cli_policy_done(&pol);
                return pol.n_usage_errors ? OH_EXIT_USAGE : OH_EXIT_FAILURE;
        }
        print_rules(pol.policy);
        oh_cli_policy_done(&pol);
        return OH_EXIT_OK;
}
