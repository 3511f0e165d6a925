/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The broker confines itself once its policy is loaded: a bug in its own
 * checks still cannot reach anything the policy could not grant. */
#ifndef OH_CONFINE_H
#define OH_CONFINE_H

#include <stdbool.h>

#include "openhook.h"

#include "landlock.h"

enum {
        OH_CONFINE_SECCOMP_SUPERVISOR = 1u << 0, /* also needs /proc/PID access and the notify ioctls */
        OH_CONFINE_NO_LANDLOCK = 1u << 1,        /* the floor is already raised (or must not be) */
        /* Just forked (so with one thread) by openhook run, which emptied
         * the bounding set where it could (run_drop_bounding()) and read
         * the time zone: none of that is looked at again. */
        OH_CONFINE_FORKED = 1u << 2,
};

/* 1 under AddressSanitizer, whose runtime makes syscalls the broker
 * never does, and checks for leaks at exit. */
#if defined(__SANITIZE_ADDRESS__)
#define OH_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define OH_ASAN 1
#endif
#endif
#ifndef OH_ASAN
#define OH_ASAN 0
#endif

struct oh_ceiling;
struct oh_ll_set;

/* Adds to S the Landlock rules that hold the union of what POLICY can
 * grant, and drops from S what adds nothing (ll_set.h).  0 or -errno. */
int oh_landlock_policy_set(const struct openhook_policy *policy, struct oh_ll_set *s);

struct oh_rule;

/* True if the load alone tells R's Landlock rule (an allow rule that
 * gives its letters to the file it names, listed as one: no system call
 * needed), with *ACCESS its OH_LL_* rights and OH_LL_IS_FILE: the rule
 * oh_landlock_policy_set() adds for R, unless others hold its rights. */
bool oh_landlock_policy_rule_known(const struct oh_rule *r, unsigned int *access);

/* Adds what the broker itself needs beyond any policy (under a sanitizer:
 * its runtime's files).  0 or -errno. */
int oh_landlock_own_set(struct oh_ll_set *s);

/* Landlock on CEILING (ceiling.h; NULL or OH_CONFINE_NO_LANDLOCK: none),
 * no_new_privs, a seccomp allowlist of the syscalls the broker uses, and
 * no capabilities it does not need.  Must be called while the process has
 * one thread.  Returns 0 or -errno (-EOPNOTSUPP: no Landlock here, and
 * nothing else was done). */
int oh_broker_confine(const struct oh_ceiling *ceiling, unsigned int flags);

#endif
