/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The broker confines itself once its policy is loaded: a bug in its own
 * checks still cannot reach anything the policy could not grant. */
#ifndef OH_CONFINE_H
#define OH_CONFINE_H

#include "openhook.h"

enum {
        OH_CONFINE_SECCOMP_SUPERVISOR = 1u << 0, /* also needs /proc/PID access and the notify ioctls */
};

/* Landlock limited to the union of what POLICY can grant, no_new_privs, a
 * seccomp allowlist of the syscalls the broker uses, and no capabilities it
 * does not need.  Returns 0 or -errno. */
int oh_broker_confine(const struct openhook_policy *policy, unsigned int flags);

#endif
