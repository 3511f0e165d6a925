/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ceiling.h"
#include "confine.h"
#include "util.h"

#define ALL_RIGHTS (OH_LL_READ | OH_LL_WRITE | OH_LL_CREATE | OH_LL_DELETE)

static int ceiling_from_paths(struct oh_ceiling *c, const char *const *paths, size_t n)
{
        c->rules = calloc(n, sizeof(*c->rules));
        if (!c->rules)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (paths[i][0] != '/')
                        return -EINVAL;
                c->rules[i].path = realpath(paths[i], NULL);
                if (!c->rules[i].path)
                        return errno == ENOMEM ? -ENOMEM : -EINVAL;
                c->rules[i].access = ALL_RIGHTS;
                c->n = i + 1;
        }
        return 0;
}

static void note_dirs(struct oh_ceiling *c)
{
        for (size_t i = 0; i < c->n; i++) {
                struct stat st;

                c->dirs[i] = stat(c->rules[i].path, &st) == 0 && S_ISDIR(st.st_mode);
        }
}

int oh_ceiling_init(struct oh_ceiling *c, const struct openhook_policy *policy, const char *const *confine_to,
                    size_t n)
{
        int r;

        *c = (struct oh_ceiling) {};
        r = n > 0 ? ceiling_from_paths(c, confine_to, n) : oh_landlock_policy_rules(policy, &c->rules, &c->n);
        if (r >= 0 && !(c->dirs = calloc(c->n ? c->n : 1, sizeof(*c->dirs))))
                r = -ENOMEM;
        if (r < 0) {
                oh_ceiling_done(c);
                return r;
        }
        note_dirs(c);
        return 0;
}

int oh_ceiling_add_policy(struct oh_ceiling *c, const struct openhook_policy *policy)
{
        struct oh_ll_rule *more;
        size_t n;
        int r = oh_landlock_policy_rules(policy, &more, &n);

        if (r < 0)
                return r;
        struct oh_ll_rule *rules = reallocarray(c->rules, c->n + n, sizeof(*rules));
        bool *dirs = rules ? reallocarray(c->dirs, c->n + n ? c->n + n : 1, sizeof(*dirs)) : NULL;
        if (rules)
                c->rules = rules;
        if (dirs)
                c->dirs = dirs;
        if (!rules || !dirs) {
                oh_ll_rules_free(more, n);
                return -ENOMEM;
        }
        memcpy(c->rules + c->n, more, n * sizeof(*more));
        free(more);             /* the paths now belong to C */
        c->n += n;
        note_dirs(c);
        return 0;
}

void oh_ceiling_done(struct oh_ceiling *c)
{
        oh_ll_rules_free(c->rules, c->n);
        free(c->dirs);
        *c = (struct oh_ceiling) {};
}

int oh_ceiling_apply(const struct oh_ceiling *c, const struct oh_ll_rule *extra, size_t n_extra, unsigned int flags)
{
        struct oh_ll_rule *own = NULL;
        size_t n_own = 0;
        int r = oh_landlock_own_rules(&own, &n_own);

        if (r < 0)
                return r;
        struct oh_ll_rule *all = calloc(c->n + n_extra + n_own + 1, sizeof(*all));
        if (all) {
                memcpy(all, c->rules, c->n * sizeof(*all));
                if (n_extra)
                        memcpy(all + c->n, extra, n_extra * sizeof(*all));
                if (n_own)
                        memcpy(all + c->n + n_extra, own, n_own * sizeof(*all));
                r = oh_landlock_apply(all, c->n + n_extra + n_own, flags);
        } else {
                r = -ENOMEM;
        }
        free(all);
        oh_ll_rules_free(own, n_own);
        return r;
}

static bool beneath(const char *path, const char *dir)
{
        size_t n = strlen(dir);

        if (strcmp(dir, "/") == 0)
                return true;
        return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

static bool covered(const struct oh_ceiling *c, const struct oh_ll_rule *rule)
{
        for (size_t i = 0; i < c->n; i++) {
                bool place = c->dirs[i] ? beneath(rule->path, c->rules[i].path)
                                        : strcmp(rule->path, c->rules[i].path) == 0;

                if (place && (rule->access & ~c->rules[i].access) == 0)
                        return true;
        }
        return false;
}

int oh_ceiling_check(const struct oh_ceiling *c, const struct openhook_policy *policy, char *why, size_t size)
{
        struct oh_ll_rule *rules;
        size_t n;
        int r = oh_landlock_policy_rules(policy, &rules, &n);

        if (r < 0)
                return r;
        for (size_t i = 0; r == 0 && i < n; i++)
                if (!covered(c, &rules[i])) {
                        snprintf(why, size, "it grants at %s more than the broker's Landlock ceiling "
                                 "(set at start: the start policy, or --confine-to)", rules[i].path);
                        r = -EPERM;
                }
        oh_ll_rules_free(rules, n);
        return r;
}
