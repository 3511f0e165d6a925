/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The broker's seccomp allowlist: every syscall it makes once confined
 * (more for a seccomp supervisor), tgkill only to its own pid; anything
 * else kills it. */
#ifndef OH_SECCOMP_BROKER_H
#define OH_SECCOMP_BROKER_H

#include <sys/types.h>

struct oh_seccomp_filter;

/* Builds the broker's program for FLAGS (with
 * OH_CONFINE_SECCOMP_SUPERVISOR, confine.h, the supervisor's syscalls and
 * ioctls too; the other flags change nothing) and PID with libseccomp into
 * *RET (oh_seccomp_filter_done() frees it, also after a failure).  0 or
 * -errno. */
int oh_broker_filter_build(unsigned int flags, pid_t pid, struct oh_seccomp_filter *ret);

#endif
