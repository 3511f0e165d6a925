/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The small processes openhook forks beside the broker (the policy
 * reader, the abstract connector), each joined to it by a socket. */
#ifndef OH_HELPER_H
#define OH_HELPER_H

#include <sys/types.h>

/* Forks a helper process joined to us by a socketpair of TYPE
 * (SOCK_CLOEXEC): in the parent returns its pid with *OURS set, in the
 * child 0 with *THEIRS set (each side's other end closed); or -errno. */
pid_t oh_fork_helper(int type, int *ours, int *theirs);

#endif
