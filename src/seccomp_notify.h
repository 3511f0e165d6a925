/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* openhook run --mode seccomp: the confined program's path syscalls become
 * user notifications that the broker answers with the policy engine. */
#ifndef OH_SECCOMP_NOTIFY_H
#define OH_SECCOMP_NOTIFY_H

#include "openhook.h"

/* In the child, after no_new_privs and Landlock, right before execve:
 * installs the filter and returns the notification listener fd (to hand to
 * the supervisor over a socket) or -errno. */
int oh_seccomp_install(void);

/* openhook run --mode preload, in the child right before execve: refuses
 * (EPERM) the raw path syscalls that change file metadata (mode, times,
 * ownership, extended attributes), which the shim handles for libc's
 * wrappers.  0 or -errno. */
int oh_seccomp_install_metadata_guard(void);

/* Whether --mode seccomp can work here: user notification with fd
 * injection that completes the syscall (SECCOMP_ADDFD_FLAG_SEND, Linux
 * 5.14), and a supervisor allowed to read the program's memory.  0,
 * -EOPNOTSUPP when the kernel is too old, -EPERM when Yama's ptrace_scope
 * forbids the reading (CAP_SYS_PTRACE is missing), or another -errno
 * (seccomp refused, e.g. by a filter around us). */
int oh_seccomp_probe(void);

/* In the supervisor: answers notifications from LISTENER with POLICY until
 * no filtered process is left.  LOG (may be NULL) sees every decision.
 * Returns 0 or -errno. */
int oh_seccomp_supervise(int listener, const struct openhook_policy *policy,
                         openhook_log_fn log, void *userdata);

#endif
