/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Landlock rules as a set: one rule per path, and what the rules on a
 * path's directories grant it together.
 *
 * Within one Landlock layer an access is allowed when a rule on the
 * object, or on any directory above it, grants it: the rights along the
 * path add up.  So a rule adds nothing when the rules on the directories
 * above its path already hold its rights between them, and rules of one
 * path are one rule.  A policy of thousands of rules, most of them files
 * in directories some other rule already grants (a learned policy), needs
 * a few dozen Landlock rules: each left out saves an open, a
 * landlock_add_rule and a close at start (doc/DESIGN.md "Policy lookup").
 *
 * Left out is exactly what the kernel would grant anyway, along the paths
 * the rules name.  The rule on a file's inode also reached that inode by
 * any other name (a hard link, a bind mount, after a rename); the broker
 * only ever acts on canonical paths the policy decides, and those pass
 * through the directory whose rule holds the rights. */
#ifndef OH_LL_SET_H
#define OH_LL_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hashtab.h"
#include "landlock.h"

/* What a rule grants on its own path (OH_LL_* rights): a directory
 * everything its rights name, a file only the rights a file can have
 * (Landlock refuses the others on a file).  A rule whose path is not
 * known to be a directory (OH_LL_IS_*) is taken as a file here, the
 * least it can grant. */
unsigned int oh_ll_effective(const struct oh_ll_rule *rule);

/* Sorts RULES[*N] by path, parents before what lies below them, merges
 * rules of one path and moves the rules that add nothing to the end; *N
 * becomes how many are left at the front, in that order.  The paths are
 * only compared, never freed, and need not exist.  A rule whose type is
 * known (OH_LL_IS_*) names a canonical path (policy.h); one of unknown
 * type may not (the
 * direct set as given: a symlink, "..") and is never left out, but what
 * lies below it in canonical paths is below its directory.  0, or
 * -ENOMEM with the rules merged only. */
int oh_ll_rules_reduce(struct oh_ll_rule *rules, size_t *n);

/* Not a right: a rule of the set that the ruleset being built holds
 * already, with all its rights, so that it need not be added again
 * (ceiling.h).  oh_ll_set_add() keeps it only while that stays true;
 * nothing else looks at it. */
#define OH_LL_ADDED (1u << 10)

#define OH_LL_SET_LENGTHS 1024

struct oh_ll_set {
        struct oh_ll_rule *v;           /* unique paths, each malloc'ed */
        size_t n, allocated;
        struct oh_hashtab by_path;
        /* Bit L: a path of L bytes was added.  A directory above a path
         * is looked up only if a rule's path may be that long: of a
         * file's five or six, one or none (longer paths: always). */
        uint64_t lengths[OH_LL_SET_LENGTHS / 64];
};

void oh_ll_set_done(struct oh_ll_set *s);

/* Adds PATH[0..LEN) (copied) with ACCESS (OH_LL_*, OH_LL_IS_*,
 * OH_LL_ADDED); with a rule of that path already there, ORs ACCESS into
 * it.  0 or -ENOMEM. */
int oh_ll_set_add(struct oh_ll_set *s, const char *path, size_t len, unsigned int access);

/* The union of what the rules on the directories above PATH grant it,
 * with WITH_SELF also what a rule on PATH itself grants (as
 * oh_ll_effective() tells).  "/" is above every other path. */
unsigned int oh_ll_set_granted(const struct oh_ll_set *s, const char *path, bool with_self);

/* True if the rules of S grant on RULE's path all that RULE can (a rule
 * not known to be a file: as much as on a directory). */
bool oh_ll_set_covers(const struct oh_ll_set *s, const struct oh_ll_rule *rule);

/* oh_ll_rules_reduce() on the set: what adds nothing is dropped. */
int oh_ll_set_reduce(struct oh_ll_set *s);

#endif
