/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#include "cmsg.h"

static int rewrite_rights(uint8_t *data, size_t len, struct oh_cmsg_rewrite *rw)
{
        for (size_t off = 0; len - off >= sizeof(int); off += sizeof(int)) {
                int fd;

                if (rw->nfds == rw->max_fds)
                        return -ETOOMANYREFS;
                memcpy(&fd, data + off, sizeof fd);
                fd = rw->dup_fd(fd, rw->userdata);
                if (fd < 0)
                        return fd;
                rw->fds[rw->nfds++] = fd;
                memcpy(data + off, &fd, sizeof fd);
        }
        return 0;
}

int oh_cmsg_rewrite(uint8_t *buf, size_t len, struct oh_cmsg_rewrite *rw)
{
        size_t off = 0;

        while (len - off >= sizeof(struct cmsghdr)) {
                struct cmsghdr h;
                uint8_t *data = buf + off + CMSG_LEN(0);
                size_t data_len;
                int r;

                memcpy(&h, buf + off, sizeof h);
                if (h.cmsg_len < CMSG_LEN(0) || h.cmsg_len > len - off)
                        return -EINVAL;
                data_len = h.cmsg_len - CMSG_LEN(0);
                if (h.cmsg_level == SOL_SOCKET && h.cmsg_type == SCM_RIGHTS) {
                        r = rewrite_rights(data, data_len, rw);
                        if (r < 0)
                                return r;
                } else if (h.cmsg_level == SOL_SOCKET && h.cmsg_type == SCM_CREDENTIALS &&
                           data_len >= sizeof(struct ucred)) {
                        memcpy(data + offsetof(struct ucred, pid), &rw->self, sizeof rw->self);
                }
                if (CMSG_ALIGN(h.cmsg_len) >= len - off)
                        break;
                off += CMSG_ALIGN(h.cmsg_len);
        }
        return 0;
}
