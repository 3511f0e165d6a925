/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include "seccomp_notify.h"

int oh_seccomp_install(void) { return -ENOSYS; }
int oh_seccomp_supervise(int listener, const struct openhook_policy *policy, openhook_log_fn log, void *userdata) { return -ENOSYS; }
