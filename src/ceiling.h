/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The most a broker may ever grant, for its whole life.
 *
 * Landlock can only be narrowed once applied, so a broker whose policy is
 * reloaded cannot grant beyond the Landlock layer it raised at start: that
 * layer is its ceiling.  --confine-to PATH sets it (all rights beneath
 * each PATH: an image pool, say); without it, it is the union of what the
 * start policy can grant.  A reload whose policy would need more is
 * refused, and the old policy stays. */
#ifndef OH_CEILING_H
#define OH_CEILING_H

#include <stdbool.h>
#include <stddef.h>

#include "landlock.h"
#include "ll_set.h"
#include "openhook.h"

struct oh_ceiling {
        struct oh_ll_set set;           /* the broker's Landlock rules, reduced (ll_set.h) */
        struct oh_ll_build *building;   /* oh_ceiling_stream() or _build_start() to _build_end() */
        struct openhook_policy *streamed; /* oh_ceiling_stream() to oh_ceiling_init() */
        bool stale;                     /* what was streamed is of no use */
        struct oh_ll_rule *rest;        /* the rules of SET not streamed, queued */
        bool built;                     /* RULESET holds them, built for RULESET_FLAGS */
        int ruleset;
        unsigned int ruleset_flags;
};

/* From CONFINE_TO[N] (absolute paths) if N > 0, else from POLICY.  C is
 * all zero, or as oh_ceiling_stream() left it.  0 or -errno (-EINVAL: a
 * relative or missing --confine-to path). */
int oh_ceiling_init(struct oh_ceiling *c, const struct openhook_policy *policy, const char *const *confine_to,
                    size_t n);
void oh_ceiling_done(struct oh_ceiling *c);

/* Adds what POLICY can grant to the ceiling (what a command always gets,
 * beside --confine-to).  0 or -errno. */
int oh_ceiling_add_policy(struct oh_ceiling *c, const struct openhook_policy *policy);

/* Raises Landlock on the ceiling plus EXTRA[N_EXTRA], with OH_LL_APPLY_*
 * FLAGS, for the calling thread and its future children.  0 or -errno. */
int oh_ceiling_apply(const struct oh_ceiling *c, const struct oh_ll_rule *extra, size_t n_extra, unsigned int flags);

/* Starts building the Landlock ruleset oh_ceiling_apply() raises with no
 * extra rules and FLAGS, ahead of it: a second thread adds rules while
 * the caller forks its helpers (and writes little memory they would
 * share: each page written while a child shares it is copied).  The
 * ceiling must not change until it is built.  Streamed (above), only
 * the rules not streamed are queued.  0, or -errno (then
 * oh_ceiling_apply() builds the ruleset itself). */
int oh_ceiling_build_start(struct oh_ceiling *c, unsigned int flags);

/* Starts building the ruleset oh_ceiling_build_start() would, before
 * POLICY is loaded: each allow rule whose Landlock rule the load alone
 * tells (a file it listed: most rules of a learned policy) goes into
 * the ceiling and to a second thread at once, which adds them while the
 * rest are loaded.  Then oh_ceiling_init() with POLICY (and no
 * --confine-to) adds the others, and oh_ceiling_build_start() queues
 * those.  Rules of one file more than once, or that others turn out to
 * hold, are in the ruleset as they would be without the set's reduction
 * (ll_set.h): a file's rule gives its letters to the file and to nothing
 * else (never a symlink's target).  If the load drops rules (a policy
 * file with an error), or given other flags, all is built again.  0 or
 * -errno (then C is as if zeroed). */
int oh_ceiling_stream(struct oh_ceiling *c, struct openhook_policy *policy, unsigned int flags);

/* Adds the rules left and waits for the second thread, which is gone
 * afterwards: call it before confining (Landlock is per thread).  The
 * ruleset stays open until oh_ceiling_done(): freeing thousands of rules
 * (1.5 ms for 8,000 on our VM) would hold up the first answer. */
void oh_ceiling_build_end(struct oh_ceiling *c);

/* 0 if everything POLICY can grant lies under the ceiling; -EPERM with
 * WHY[SIZE] naming the first path that does not, or -errno. */
int oh_ceiling_check(const struct oh_ceiling *c, const struct openhook_policy *policy, char *why, size_t size);

#endif
