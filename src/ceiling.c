/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ceiling.h"
#include "confine.h"
#include "ll_set.h"
#include "util.h"

#define ALL_RIGHTS (OH_LL_READ | OH_LL_WRITE | OH_LL_CREATE | OH_LL_DELETE)

static int ceiling_from_paths(struct oh_ceiling *c, const char *const *paths, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *real = NULL;
                struct stat st;

                if (paths[i][0] != '/')
                        return -EINVAL;
                real = realpath(paths[i], NULL);
                if (!real)
                        return errno == ENOMEM ? -ENOMEM : -EINVAL;
                unsigned int type = stat(real, &st) < 0 ? 0 : S_ISDIR(st.st_mode) ? OH_LL_IS_DIR : OH_LL_IS_FILE;
                int r = oh_ll_set_add(&c->set, real, strlen(real), ALL_RIGHTS | type);
                if (r < 0)
                        return r;
        }
        return oh_ll_set_reduce(&c->set);
}

int oh_ceiling_init(struct oh_ceiling *c, const struct openhook_policy *policy, const char *const *confine_to,
                    size_t n)
{
        int r;

        *c = (struct oh_ceiling) {};
        r = n > 0 ? ceiling_from_paths(c, confine_to, n) : oh_landlock_policy_set(policy, &c->set);
        if (r < 0)
                oh_ceiling_done(c);
        return r;
}

int oh_ceiling_add_policy(struct oh_ceiling *c, const struct openhook_policy *policy)
{
        return oh_landlock_policy_set(policy, &c->set);
}

void oh_ceiling_done(struct oh_ceiling *c)
{
        oh_ceiling_build_end(c);
        if (c->built)
                close(c->ruleset);
        c->built = false;
        oh_ll_set_done(&c->set);
}

/* The ceiling's rules, what the broker itself needs and EXTRA[N_EXTRA]
 * as a ruleset: its fd, or -errno.  The ceiling's rules alone are
 * reduced already, and taken as they are. */
static int ceiling_ruleset(const struct oh_ceiling *c, const struct oh_ll_rule *extra, size_t n_extra,
                           unsigned int flags)
{
        struct oh_ll_set own = {};
        int r = oh_landlock_own_set(&own);
        size_t n = c->set.n + n_extra + own.n;
        _cleanup_free_ struct oh_ll_rule *all = NULL;

        if (r >= 0 && n == c->set.n)
                r = oh_landlock_ruleset_reduced(c->set.v, n, flags);
        else if (r >= 0 && !(all = calloc(n + 1, sizeof(*all))))
                r = -ENOMEM;
        else if (r >= 0) {
                memcpy(all, c->set.v, c->set.n * sizeof(*all));
                if (n_extra)
                        memcpy(all + c->set.n, extra, n_extra * sizeof(*all));
                if (own.n)
                        memcpy(all + c->set.n + n_extra, own.v, own.n * sizeof(*all));
                r = oh_landlock_ruleset(all, n, flags);
        }
        oh_ll_set_done(&own);
        return r;
}

/* Only the ceiling's own rules are built ahead: what the broker itself
 * needs beside them (under ASan) is left to oh_ceiling_apply(). */
int oh_ceiling_build_start(struct oh_ceiling *c, unsigned int flags)
{
        struct oh_ll_set own = {};
        int r = oh_landlock_own_set(&own);
        bool alone = own.n == 0;

        oh_ll_set_done(&own);
        if (r < 0)
                return r;
        if (!alone || c->building || c->built)
                return -EOPNOTSUPP;
        r = oh_landlock_build_start(c->set.v, c->set.n, flags, &c->building);
        if (r == 0)
                c->ruleset_flags = flags;
        return r;
}

void oh_ceiling_build_end(struct oh_ceiling *c)
{
        if (!c->building)
                return;
        int ruleset = oh_landlock_build_finish(TAKE_PTR(c->building));
        c->built = ruleset >= 0;
        c->ruleset = ruleset;
}

int oh_ceiling_apply(const struct oh_ceiling *c, const struct oh_ll_rule *extra, size_t n_extra, unsigned int flags)
{
        if (c->built && n_extra == 0 && flags == c->ruleset_flags)
                return oh_landlock_restrict(c->ruleset);

        _cleanup_close_ int ruleset = ceiling_ruleset(c, extra, n_extra, flags);
        if (ruleset < 0)
                return ruleset;
        return oh_landlock_restrict(ruleset);
}

/* Landlock grants along the path: what the ceiling's rules on a path
 * and on the directories above it hold together is what the broker's
 * layer allows there. */
int oh_ceiling_check(const struct oh_ceiling *c, const struct openhook_policy *policy, char *why, size_t size)
{
        struct oh_ll_set next = {};
        int r = oh_landlock_policy_set(policy, &next);

        for (size_t i = 0; r == 0 && i < next.n; i++)
                if (!oh_ll_set_covers(&c->set, &next.v[i])) {
                        snprintf(why, size, "it grants at %s more than the broker's Landlock ceiling "
                                 "(set at start: the start policy, or --confine-to)", next.v[i].path);
                        r = -EPERM;
                }
        oh_ll_set_done(&next);
        return r;
}
