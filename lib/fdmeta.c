/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fdmeta.h"
#include "policy.h"
#include "resolve.h"
#include "util.h"

#define MODE_BITS 0777          /* as oh_do_chmod: never setuid, setgid or sticky */

int oh_fd_name(int fd, char *path, size_t size)
{
        char link[64];
        struct stat st;
        ssize_t n;

        if (fstat(fd, &st) < 0)
                return oh_negerrno();
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        n = readlink(link, path, size);
        if (n < 0)
                return oh_negerrno();
        if ((size_t)n >= size)
                return -ENAMETOOLONG;
        path[n] = '\0';
        /* "pipe:[123]", "anon_inode:[eventfd]"; or no link left: a
         * deleted file, a memfd, an O_TMPFILE not yet linked. */
        if (path[0] != '/' || st.st_nlink == 0)
                path[0] = '\0';
        return 0;
}

/* The extended attributes an owner may set without privilege, and ACLs
 * (no more than chmod, which w also allows).  trusted.* and security.*
 * (file capabilities among them) are never set for a peer. */
static bool xattr_allowed(const char *name)
{
        return strncmp(name, "user.", 5) == 0 || strcmp(name, "system.posix_acl_access") == 0 ||
               strcmp(name, "system.posix_acl_default") == 0;
}

int oh_chown_fd(int fd, uid_t uid, gid_t gid)
{
        struct stat st;

        if (fstat(fd, &st) < 0)
                return oh_negerrno();
        if ((uid != (uid_t)-1 && uid != st.st_uid) || (gid != (gid_t)-1 && gid != st.st_gid))
                return -EPERM;
        /* The kernel judges even this with our credentials, which lack
         * CAP_CHOWN: as for an owner restating what is there. */
        return fchownat(fd, "", uid, gid, AT_EMPTY_PATH) < 0 ? oh_negerrno() : 0;
}

static int fmeta_act(int fd, const struct oh_fmeta *op)
{
        int r;

        switch (op->kind) {
        case OH_FMETA_CHMOD:
                r = fchmod(fd, (mode_t)(op->mode & MODE_BITS));
                break;
        case OH_FMETA_CHOWN:
                return oh_chown_fd(fd, op->uid, op->gid);
        case OH_FMETA_UTIMENS:
                r = futimens(fd, op->times);
                break;
        case OH_FMETA_SETXATTR:
                r = fsetxattr(fd, op->name, op->value, op->size, op->xattr_flags);
                break;
        case OH_FMETA_REMOVEXATTR:
                r = fremovexattr(fd, op->name);
                break;
        case OH_FMETA_SETFLAGS:
                r = ioctl(fd, FS_IOC_SETFLAGS, op->arg);
                break;
        case OH_FMETA_FSSETXATTR:
                r = ioctl(fd, FS_IOC_FSSETXATTR, op->arg);
                break;
        default:
                return -EINVAL;
        }
        return r < 0 ? oh_negerrno() : 0;
}

/* What no policy letter can grant (ownership: oh_chown_fd()). */
static int fmeta_forbidden(const struct oh_fmeta *op)
{
        if ((op->kind == OH_FMETA_SETXATTR || op->kind == OH_FMETA_REMOVEXATTR) && !xattr_allowed(op->name))
                return -EPERM;
        return 0;
}

int oh_do_fmeta(const struct openhook_policy *p, int fd, const struct oh_fmeta *op, char *path, size_t size,
                struct oh_verdict *v)
{
        int r;

        v->denied = 0;
        v->hint[0] = '\0';
        r = oh_fd_name(fd, path, size);
        if (r < 0)
                return r;
        if (path[0] && !oh_fd_grants(p, path, fd, OPENHOOK_PERM_W)) {
                v->denied = 1;
                oh_policy_hint(p, path, OPENHOOK_PERM_W, v->hint, sizeof v->hint);
                return -EPERM;
        }
        r = fmeta_forbidden(op);
        if (r < 0)
                return r;
        return fmeta_act(fd, op);
}
