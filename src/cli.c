/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "policy.h"
#include "policy_reader.h"
#include "util.h"

static const char *cli_command;

void oh_cli_set_command(const char *command)
{
        cli_command = command;
}

__attribute__((format(printf, 1, 0)))
static void vmessage(const char *fmt, va_list ap, int negerrno)
{
        /* One fputs per message, so lines from a dying program and from
         * worker threads do not interleave. */
        char text[OPENHOOK_PATH_MAX * 2];
        char line[sizeof(text) + 256];

        vsnprintf(text, sizeof(text), fmt, ap);
        if (negerrno)
                snprintf(line, sizeof(line), "openhook%s%s: %s: %s\n",
                         cli_command ? " " : "", cli_command ? cli_command : "",
                         text, strerror(-negerrno));
        else
                snprintf(line, sizeof(line), "openhook%s%s: %s\n",
                         cli_command ? " " : "", cli_command ? cli_command : "", text);
        fputs(line, stderr);
}

void oh_warn(const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vmessage(fmt, ap, 0);
        va_end(ap);
}

void oh_die(int status, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vmessage(fmt, ap, 0);
        va_end(ap);
        exit(status);
}

void oh_die_errno(int status, int negerrno, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vmessage(fmt, ap, negerrno < 0 ? negerrno : -EIO);
        va_end(ap);
        exit(status);
}

static noreturn void point_at_help(int status)
{
        fprintf(stderr, "Try 'openhook%s%s --help' for more information.\n",
                cli_command ? " " : "", cli_command ? cli_command : "");
        exit(status);
}

void oh_die_usage(const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vmessage(fmt, ap, 0);
        va_end(ap);
        point_at_help(OH_EXIT_USAGE);
}

void oh_die_bad_option(int status)
{
        point_at_help(status);
}

int oh_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *ret)
{
        char *end;
        unsigned long v;

        /* strtoul() would accept " 12", "-1" and "+3"; a flag value is
         * digits only. */
        if (s[0] < '0' || s[0] > '9')
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (*end != '\0')
                return -EINVAL;
        if (errno == ERANGE || v < min || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

int oh_cli_append_path(const char ***v, size_t *n, const char *path)
{
        const char **grown;

        if (path[0] != '/')
                return -EINVAL;
        grown = reallocarray(*v, *n + 1, sizeof(*grown));
        if (!grown)
                return -ENOMEM;
        *v = grown;
        (*v)[(*n)++] = path;
        return 0;
}

static int policy_error(struct oh_cli_policy *cp, int is_file, const char *what, const char *arg,
                        int r, const char *error)
{
        if (error) {
                /* A file with several errors gives one line each. */
                for (const char *line = error, *end; *line; line = end + (*end != '\0')) {
                        end = strchrnul(line, '\n');
                        oh_warn("%.*s", (int)(end - line), line);
                }
        } else if (is_file)
                oh_warn("cannot read policy file '%s': %s", arg, strerror(-r));
        else
                oh_warn("invalid %s '%s': %s", what, arg, strerror(-r));

        if (!cp->keep_going) {
                if (is_file)
                        exit(cp->file_status);
                point_at_help(cp->usage_status);
        }
        if (is_file)
                cp->n_file_errors++;
        else
                cp->n_usage_errors++;
        return 1;
}

static void remember(struct oh_cli_policy *cp, int opt, const char *arg)
{
        struct oh_cli_source *v = reallocarray(cp->sources, cp->n_sources + 1, sizeof(*v));
        const char **f = opt == OH_OPT_POLICY ? reallocarray(cp->files, cp->n_files + 1, sizeof(*f)) : NULL;

        if (!v || (opt == OH_OPT_POLICY && !f))
                oh_die_errno(cp->file_status, -ENOMEM, "policy options");
        cp->sources = v;
        cp->sources[cp->n_sources++] = (struct oh_cli_source) { opt, arg };
        if (f) {
                cp->files = f;
                cp->files[cp->n_files++] = arg;
        }
}

/* Adds the rules of the option SRC.  Returns 1, as
 * oh_cli_policy_option(). */
static int load_source(struct oh_cli_policy *cp, const struct oh_cli_source *src)
{
        _cleanup_free_ char *error = NULL;
        const char *what;
        int r;

        if (!cp->policy) {
                r = openhook_policy_new(&cp->policy);
                if (r < 0)
                        oh_die_errno(cp->file_status, r, "cannot create a policy");
        }
        switch (src->opt) {
        case OH_OPT_POLICY:
                what = "--policy";
                r = openhook_policy_load_file(cp->policy, src->arg, &error);
                break;
        case OH_OPT_ALLOW:
                what = "--allow";
                r = openhook_policy_allow_arg(cp->policy, src->arg, &error);
                break;
        default:
                what = "--deny";
                r = openhook_policy_deny(cp->policy, src->arg, &error);
                break;
        }
        if (r < 0)
                return policy_error(cp, src->opt == OH_OPT_POLICY, what, src->arg, r, error);
        return 1;
}

int oh_cli_policy_option(struct oh_cli_policy *cp, int opt, const char *arg)
{
        if (opt != OH_OPT_POLICY && opt != OH_OPT_ALLOW && opt != OH_OPT_DENY)
                return 0;

        cp->n_options++;
        remember(cp, opt, arg);
        return cp->defer ? 1 : load_source(cp, &cp->sources[cp->n_sources - 1]);
}

void oh_cli_policy_load(struct oh_cli_policy *cp)
{
        for (size_t i = 0; cp->defer && i < cp->n_sources; i++)
                (void) load_source(cp, &cp->sources[i]);
        cp->defer = false;
}

struct openhook_policy *oh_cli_policy_take(struct oh_cli_policy *cp)
{
        if (!cp->policy) {
                int r = openhook_policy_new(&cp->policy);
                if (r < 0)
                        oh_die_errno(cp->file_status, r, "cannot create a policy");
        }
        return TAKE_PTR(cp->policy);
}

void oh_cli_policy_done(struct oh_cli_policy *cp)
{
        openhook_policy_free(TAKE_PTR(cp->policy));
        free(TAKE_PTR(cp->sources));
        free(TAKE_PTR(cp->files));
        cp->n_sources = cp->n_files = 0;
}

static int rebuild_one(struct openhook_policy *p, const struct oh_cli_source *src, const struct oh_policy_file *f,
                       char **error)
{
        switch (src->opt) {
        case OH_OPT_POLICY:
                if (f->status < 0) {
                        if (asprintf(error, "%s: cannot read: %s", f->name, strerror(-f->status)) < 0)
                                *error = NULL;
                        return f->status;
                }
                return oh_policy_parse_buffer(p, f->name, f->text, f->len, error);
        case OH_OPT_ALLOW:
                return openhook_policy_allow_arg(p, src->arg, error);
        default:
                return openhook_policy_deny(p, src->arg, error);
        }
}

int oh_cli_policy_rebuild(const struct oh_cli_policy *cp, const struct oh_policy_snapshot *snap,
                          struct openhook_policy **ret, char **error)
{
        struct openhook_policy *p;
        size_t file = 0;
        int r;

        *error = NULL;
        if (snap->n != cp->n_files)
                return -EINVAL;
        r = openhook_policy_new(&p);
        for (size_t i = 0; r >= 0 && i < cp->n_sources; i++) {
                const struct oh_cli_source *src = &cp->sources[i];

                r = rebuild_one(p, src, src->opt == OH_OPT_POLICY ? &snap->files[file++] : NULL, error);
        }
        if (r < 0) {
                openhook_policy_free(p);
                return r;
        }
        *ret = p;
        return 0;
}
