/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the control messages a confined program hands to
 * sendmsg(2), which the supervisor rewrites in its copy (lib/cmsg.c): no
 * read or write outside the buffer, never more duplicates than allowed,
 * and every SCM_RIGHTS number left in the buffer is one of ours. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OURS 100000

/* Stands for pidfd_getfd: a negative number is a closed fd. */
static int fake_dup(int n, void *userdata)
{
        int *calls = userdata;

        (*calls)++;
        if (n < 0)
                return -EBADF;
        return OURS + (n & 0xffff);
}

static void check_rights(const uint8_t *buf, size_t len, const struct oh_cmsg_rewrite *rw)
{
        size_t off = 0, seen = 0;

        while (len - off >= sizeof(struct cmsghdr)) {
                struct cmsghdr h;

                memcpy(&h, buf + off, sizeof h);
                if (h.cmsg_len < CMSG_LEN(0) || h.cmsg_len > len - off)
                        return;
                if (h.cmsg_level == SOL_SOCKET && h.cmsg_type == SCM_RIGHTS)
                        for (size_t i = CMSG_LEN(0); h.cmsg_len - i >= sizeof(int) && seen < rw->nfds;
                             i += sizeof(int), seen++) {
                                int fd;

                                memcpy(&fd, buf + off + i, sizeof fd);
                                if (fd != rw->fds[seen])
                                        abort();
                        }
                if (CMSG_ALIGN(h.cmsg_len) >= len - off)
                        return;
                off += CMSG_ALIGN(h.cmsg_len);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        uint8_t *buf = malloc(size ? size : 1);
        int fds[8], calls = 0;
        struct oh_cmsg_rewrite rw = {
                .dup_fd = fake_dup, .userdata = &calls, .self = 4242, .fds = fds, .max_fds = 8,
        };
        int r;

        if (!buf)
                return 0;
        memcpy(buf, data, size);
        r = oh_cmsg_rewrite(buf, size, &rw);
        if (rw.nfds > rw.max_fds || (size_t)calls < rw.nfds)
                abort();
        for (size_t i = 0; i < rw.nfds; i++)
                if (fds[i] < OURS)
                        abort();
        if (r == 0)
                check_rights(buf, size, &rw);
        free(buf);
        return 0;
}
