/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The broker confines itself once its policy is loaded: a bug in its own
 * checks still cannot reach anything the policy could not grant. */
#ifndef OH_CONFINE_H
#define OH_CONFINE_H

#include "openhook.h"

#include "landlock.h"

enum {
        OH_CONFINE_SECCOMP_SUPERVISOR = 1u << 0, /* also needs /proc/PID access and the notify ioctls */
        OH_CONFINE_NO_LANDLOCK = 1u << 1,        /* the floor is already raised (or must not be) */
};

struct oh_ceiling;

/* Landlock on the union of what POLICY can grant plus EXTRA (openhook
 * run: the command's direct set), with OH_LL_APPLY_* FLAGS, for the
 * calling thread and its future children.  0 or -errno. */
/* The Landlock rules that hold the union of what POLICY can grant (an
 * array and paths, malloc'ed: oh_ll_rules_free()).  0 or -errno. */
int oh_landlock_policy_rules(const struct openhook_policy *policy, struct oh_ll_rule **ret, size_t *n);
void oh_ll_rules_free(struct oh_ll_rule *rules, size_t n);

/* What the broker itself needs beyond any policy (under a sanitizer: its
 * runtime's files), as oh_landlock_policy_rules() gives them. */
int oh_landlock_own_rules(struct oh_ll_rule **ret, size_t *n);

int oh_landlock_floor(const struct openhook_policy *policy, const struct oh_ll_rule *extra, size_t n_extra,
                      unsigned int ll_flags);

/* Landlock on CEILING (ceiling.h; NULL or OH_CONFINE_NO_LANDLOCK: none),
 * no_new_privs, a seccomp allowlist of the syscalls the broker uses, and
 * no capabilities it does not need.  Must be called while the process has
 * one thread.  Returns 0 or -errno (-EOPNOTSUPP: no Landlock here, and
 * nothing else was done). */
int oh_broker_confine(const struct oh_ceiling *ceiling, unsigned int flags);

#endif
