/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <sys/socket.h>
#include <unistd.h>

#include "helper.h"
#include "util.h"

pid_t oh_fork_helper(int type, int *ours, int *theirs)
{
        int sv[2];
        pid_t pid;

        if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) < 0)
                return oh_negerrno();
        pid = fork();
        if (pid < 0) {
                int r = oh_negerrno();

                close(sv[0]);
                close(sv[1]);
                return r;
        }
        close(sv[pid == 0 ? 0 : 1]);
        *(pid == 0 ? theirs : ours) = sv[pid == 0 ? 1 : 0];
        return pid;
}
