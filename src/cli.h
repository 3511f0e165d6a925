/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What every subcommand of the openhook program shares: fatal-error
 * helpers in the style of bubblewrap, and the policy options
 * (--policy FILE, --allow PERMS:PATH, --deny PATH).
 *
 * A subcommand parses its arguments with getopt_long().  It puts
 * OH_CLI_POLICY_LONG_OPTIONS in its option table and hands every option
 * getopt_long() returns to oh_cli_policy_option() first:
 *
 *     struct oh_cli_policy pol = OH_CLI_POLICY_INIT("serve", OH_EXIT_USAGE, OH_EXIT_FAILURE);
 *     static const struct option options[] = {
 *             OH_CLI_POLICY_LONG_OPTIONS,
 *             { "log", required_argument, NULL, OPT_LOG },
 *             {}
 *     };
 *     while ((c = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
 *             if (oh_cli_policy_option(&pol, c, optarg))
 *                     continue;
 *             switch (c) { ... }
 *     }
 *     struct openhook_policy *policy = oh_cli_policy_take(&pol);
 *
 * Rules are added in command-line order; the policy decides by the most
 * specific rule, so the order does not change what is allowed.
 */
#ifndef OH_CLI_H
#define OH_CLI_H

#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdnoreturn.h>

#include "openhook.h"

/* Exit statuses shared by all subcommands (openhook(1), EXIT STATUS).
 * `openhook run` uses 125 instead of 1 and 2, as env(1) does. */
enum {
        OH_EXIT_OK = 0,
        OH_EXIT_FAILURE = 1,    /* check found errors, serve failed at runtime */
        OH_EXIT_USAGE = 2,      /* bad flag, bad rule on the command line */
        OH_EXIT_RUN_FAILED = 125,
        OH_EXIT_CANNOT_EXEC = 126,
        OH_EXIT_NOT_FOUND = 127,
};

/* Long-option values.  Subcommands number their own options from
 * OH_OPT_FIRST_FREE so they never collide with the shared ones. */
enum {
        OH_OPT_POLICY = 0x100,
        OH_OPT_ALLOW,
        OH_OPT_DENY,
        OH_OPT_FIRST_FREE = 0x140,
};

#define OH_CLI_POLICY_LONG_OPTIONS \
        { "policy", required_argument, NULL, OH_OPT_POLICY }, \
        { "allow", required_argument, NULL, OH_OPT_ALLOW }, \
        { "deny", required_argument, NULL, OH_OPT_DENY }

/* One line for each subcommand's --help. */
#define OH_CLI_POLICY_HELP \
        "  --policy FILE        read rules from FILE (see openhook-policy(5)); repeatable\n" \
        "  --allow PERMS:PATH   allow PERMS (letters r w c d) on PATH; a PATH ending\n" \
        "                       in '/' covers the subtree; repeatable\n" \
        "  --deny PATH          refuse PATH even inside an allowed tree; repeatable\n"

/* ---- Messages ---------------------------------------------------------- */

/* Every message starts with "openhook CMD: " where CMD is the subcommand
 * set here (or just "openhook: " before one is known). */
void oh_cli_set_command(const char *command);

void oh_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints the message and exits with STATUS. */
noreturn void oh_die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Same, followed by ": " and strerror(-NEGERRNO). */
noreturn void oh_die_errno(int status, int negerrno, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A usage error: the message, then a pointer to --help, and exit status 2. */
noreturn void oh_die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* For the default: case of a getopt_long() loop.  getopt_long() has
 * already printed what was wrong; this adds the pointer to --help and
 * exits with STATUS. */
noreturn void oh_die_bad_option(int status);

/* ---- Small parsers ------------------------------------------------------ */

/* Parses a whole decimal number in [MIN, MAX].  Returns 0 or -EINVAL
 * (not a number, trailing junk) / -ERANGE. */
int oh_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *ret);

/* Appends PATH (an option's argument, kept by the caller) to *V[*N].
 * 0, -EINVAL when PATH is not absolute, or -ENOMEM. */
int oh_cli_append_path(const char ***v, size_t *n, const char *path);

/* ---- Policy options ---------------------------------------------------- */

struct oh_cli_policy {
        struct openhook_policy *policy;
        const char *command;            /* for messages */
        int usage_status;               /* exit status for a bad --allow/--deny */
        int file_status;                /* exit status for a bad policy file */
        int keep_going;                 /* print errors and continue (openhook check) */
        bool defer;                     /* options are only recorded: oh_cli_policy_load() adds their rules */
        unsigned int n_options;         /* policy options seen */
        unsigned int n_usage_errors;    /* bad --allow/--deny (keep_going) */
        unsigned int n_file_errors;     /* bad or unreadable --policy files (keep_going) */
        struct oh_cli_source *sources;  /* every policy option, in order, to build it again */
        size_t n_sources;
        const char **files;             /* the --policy files among them */
        size_t n_files;
};

struct oh_cli_source {
        int opt;                        /* OH_OPT_POLICY, OH_OPT_ALLOW or OH_OPT_DENY */
        const char *arg;                /* argv's: lives as long as the program */
};

struct oh_policy_snapshot;

#define OH_CLI_POLICY_INIT(cmd, usage_st, file_st) \
        { .command = (cmd), .usage_status = (usage_st), .file_status = (file_st) }

/* If OPT is one of the policy options, adds its rules (ARG is getopt's
 * optarg) and returns 1; otherwise returns 0 and does nothing.  An invalid
 * rule or file is printed as "openhook CMD: what" and, unless keep_going,
 * ends the program with usage_status or file_status. */
int oh_cli_policy_option(struct oh_cli_policy *cp, int opt, const char *arg);

/* With CP->defer, adds the rules of the options recorded, in order, as
 * oh_cli_policy_option() would have (with the same errors). */
void oh_cli_policy_load(struct oh_cli_policy *cp);

/* Hands out the policy (never NULL: an empty one if no option was given);
 * the caller frees it with openhook_policy_free(). */
struct openhook_policy *oh_cli_policy_take(struct oh_cli_policy *cp);

void oh_cli_policy_done(struct oh_cli_policy *cp);

/* The policy the same options give with SNAP as the --policy files' text
 * (policy_reader.h), for a reload: 0 with *RET, or -errno with *ERROR
 * saying what is wrong ("FILE:LINE: ..." one per line, as at start). */
int oh_cli_policy_rebuild(const struct oh_cli_policy *cp, const struct oh_policy_snapshot *snap,
                          struct openhook_policy **ret, char **error);

#endif
