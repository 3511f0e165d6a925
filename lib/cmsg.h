/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Control messages a confined program wrote for sendmsg(2), rewritten in
 * the supervisor's copy before the supervisor sends them for it: the
 * bytes are the program's, so every length is checked here, in one place
 * (fuzz/fuzz-cmsg.c). */
#ifndef OH_CMSG_H
#define OH_CMSG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct oh_cmsg_rewrite {
        /* Returns our duplicate of the program's fd N (O_CLOEXEC), or
         * -errno. */
        int (*dup_fd)(int n, void *userdata);
        void *userdata;
        pid_t self;             /* the sender SCM_CREDENTIALS must name now */
        int *fds;               /* receives the duplicates made, to close */
        size_t max_fds;
        size_t nfds;
};

/* Walks BUF[LEN] as a control buffer: each SCM_RIGHTS fd number becomes a
 * duplicate (recorded in RW->fds), each SCM_CREDENTIALS names RW->self.
 * Returns 0, -EINVAL for a header whose length does not fit, -ETOOMANYREFS
 * past RW->max_fds, or dup_fd's error. */
int oh_cmsg_rewrite(uint8_t *buf, size_t len, struct oh_cmsg_rewrite *rw);

#endif
