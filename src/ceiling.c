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
#include "policy.h"
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

/* Each allow rule of the policy being loaded (lib/policy.h) whose
 * Landlock rule the load alone tells goes into the set at once, marked
 * as added, and to the ruleset being built.  R NULL: the rules given so
 * far may be dropped from the policy, and the set and ruleset hold them:
 * of no use any more. */
static void ceiling_take_rule(void *data, const struct oh_rule *r)
{
        struct oh_ceiling *c = data;
        unsigned int access;

        if (!r)
                c->stale = true;
        else if (!c->stale && oh_landlock_policy_rule_known(r, &access) &&
                 (oh_ll_set_add(&c->set, r->path, r->len, access | OH_LL_ADDED) < 0 ||
                  oh_landlock_build_add(c->building, r->path, r->len, access) < 0))
                c->stale = true;
}

int oh_ceiling_stream(struct oh_ceiling *c, struct openhook_policy *policy, unsigned int flags)
{
        *c = (struct oh_ceiling) {};
        int r = oh_landlock_build_start(NULL, 0, flags, &c->building);
        if (r < 0)
                return r;
        c->ruleset_flags = flags;
        c->streamed = policy;
        oh_policy_on_rule(policy, ceiling_take_rule, c);
        return 0;
}

/* Stops being told of POLICY's rules.  True if the rules it was told of
 * are all there and may stay: POLICY is the one streamed, and the
 * ceiling is made of it. */
static bool ceiling_stream_end(struct oh_ceiling *c, const struct openhook_policy *policy, size_t n_confine_to)
{
        bool keep = !c->stale && c->streamed == policy && n_confine_to == 0;

        oh_policy_on_rule(TAKE_PTR(c->streamed), NULL, NULL);
        if (!keep) {
                oh_landlock_build_cancel(TAKE_PTR(c->building));
                oh_ll_set_done(&c->set);
        }
        return keep;
}

int oh_ceiling_init(struct oh_ceiling *c, const struct openhook_policy *policy, const char *const *confine_to,
                    size_t n)
{
        int r;

        if (!c->streamed || !ceiling_stream_end(c, policy, n))
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
        if (c->streamed)
                oh_policy_on_rule(TAKE_PTR(c->streamed), NULL, NULL);
        if (c->building)
                oh_landlock_build_cancel(TAKE_PTR(c->building));
        if (c->built)
                close(c->ruleset);
        c->built = false;
        free(TAKE_PTR(c->rest));
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

/* The rules of the set the ruleset does not hold yet: all, unless it was
 * streamed (then C->REST, in the set's order); queued. */
static int ceiling_queue_rest(struct oh_ceiling *c, bool streamed)
{
        size_t n = 0;

        if (!streamed)
                return oh_landlock_build_queue(c->building, c->set.v, c->set.n);
        c->rest = reallocarray(NULL, c->set.n ? c->set.n : 1, sizeof(*c->rest));
        if (!c->rest)
                return -ENOMEM;
        for (size_t i = 0; i < c->set.n; i++)
                if (!(c->set.v[i].access & OH_LL_ADDED))
                        c->rest[n++] = c->set.v[i];
        return oh_landlock_build_queue(c->building, c->rest, n);
}

/* What the broker itself needs (under ASan) is queued too, copied. */
static int ceiling_queue_own(struct oh_ceiling *c)
{
        struct oh_ll_set own = {};
        int r = oh_landlock_own_set(&own);

        for (size_t i = 0; r >= 0 && i < own.n; i++)
                r = oh_landlock_build_add(c->building, own.v[i].path, strlen(own.v[i].path), own.v[i].access);
        oh_ll_set_done(&own);
        return r;
}

int oh_ceiling_build_start(struct oh_ceiling *c, unsigned int flags)
{
        bool streamed = c->building != NULL;
        int r = 0;

        if (c->built || c->streamed || (streamed && flags != c->ruleset_flags))
                return -EOPNOTSUPP;
        if (!streamed)
                r = oh_landlock_build_start(NULL, 0, flags, &c->building);
        if (r < 0)
                return r;
        c->ruleset_flags = flags;
        r = ceiling_queue_rest(c, streamed);
        if (r >= 0)
                r = ceiling_queue_own(c);
        if (r < 0)
                oh_landlock_build_cancel(TAKE_PTR(c->building));
        return r;
}

void oh_ceiling_build_end(struct oh_ceiling *c)
{
        if (!c->building)
                return;
        int ruleset = oh_landlock_build_finish(TAKE_PTR(c->building));
        c->built = ruleset >= 0;
        c->ruleset = ruleset;
        free(TAKE_PTR(c->rest));
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
