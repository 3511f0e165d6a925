/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The supervisor's calls that name a file by an fd rather than a path:
 * metadata changes (fchmod, fchown, futimens, extended attributes, inode
 * flags), decided and done on a duplicate of the program's fd
 * (lib/fdmeta.c); and what no rule grants: typing into the terminal,
 * keyrings, and under --no-network sockets other than AF_UNIX.
 *
 * The supervisor acts on its own duplicate, taken before the decision,
 * never lets the kernel continue: another thread could put another file
 * at the same fd number in between. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/xattr.h>
#include <termios.h>

#include "fdmeta.h"
#include "seccomp_internal.h"
#include "seccomp_target.h"
#include "util.h"

#define OH_FS_IOC32_SETFLAGS 0x40046602u   /* _IOW('f', 2, int): the compat number */

/* The ioctl requests the filter notifies (compared on their low 32 bits). */
const unsigned long sc_ioctls[] = {
        TIOCSTI, TIOCLINUX, FS_IOC_SETFLAGS, OH_FS_IOC32_SETFLAGS, FS_IOC_FSSETXATTR,
};
const size_t sc_n_ioctls = ELEMENTSOF(sc_ioctls);

/* What a metadata call carries besides its fd. */
struct fmeta_op {
        struct oh_fmeta m;
        char name[XATTR_NAME_MAX + 1];
        union {
                int flags;
                struct fsxattr fsx;
        } arg;
        uint8_t value[];                /* SETXATTR, m.size bytes */
};

int sc_fetch_fd(struct sc_call *c)
{
        int fd = oh_target_dup_fd((pid_t)c->req->pid, sc_arg_int(c, 0));

        if (fd < 0)
                return fd == -ENOENT ? -EBADF : fd;
        c->fd = fd;
        return 0;
}

static struct fmeta_op *fmeta_op_new(struct sc_call *c, enum oh_fmeta_kind kind, size_t value_size)
{
        struct fmeta_op *op = calloc(1, sizeof *op + value_size);

        if (!op)
                return NULL;
        op->m.kind = kind;
        op->m.name = op->name;
        op->m.value = op->value;
        op->m.size = value_size;
        c->op = op;
        return op;
}

static int fetch_xattr(struct sc_call *c, enum oh_fmeta_kind kind)
{
        size_t size = kind == OH_FMETA_SETXATTR ? (size_t)sc_arg(c, 3) : 0;
        struct fmeta_op *op;
        int r;

        if (size > XATTR_SIZE_MAX)
                return -E2BIG;
        op = fmeta_op_new(c, kind, size);
        if (!op)
                return -ENOMEM;
        r = oh_target_read_string((pid_t)c->req->pid, sc_arg(c, 1), op->name, sizeof op->name);
        if (r < 0)
                return r == -ENAMETOOLONG ? -ERANGE : r;
        if (r == 0)
                return -ERANGE;
        op->m.xattr_flags = (int)sc_arg(c, 4);
        if (size == 0)
                return 0;
        return oh_target_read((pid_t)c->req->pid, sc_arg(c, 2), op->value, size);
}

static uint32_t ioctl_request(const struct sc_call *c)
{
        return (uint32_t)c->req->data.args[1];
}

static int fetch_ioctl(struct sc_call *c)
{
        uint32_t request = ioctl_request(c);
        bool fsx = request == (uint32_t)FS_IOC_FSSETXATTR;
        struct fmeta_op *op;

        if (request == TIOCSTI || request == TIOCLINUX)
                return 0;               /* refused whatever the fd */
        op = fmeta_op_new(c, fsx ? OH_FMETA_FSSETXATTR : OH_FMETA_SETFLAGS, 0);
        if (!op)
                return -ENOMEM;
        op->m.arg = &op->arg;
        return oh_target_read((pid_t)c->req->pid, sc_arg(c, 2), &op->arg,
                              fsx ? sizeof op->arg.fsx : sizeof op->arg.flags);
}

/* fchownat(fd, "", ..., AT_EMPTY_PATH) is fchown(fd); with a name it is
 * chown(2) by path (SC_FETCH_PATH: the name is read again as a path). */
static int fetch_fchownat(struct sc_call *c)
{
        char name[2];
        int r;

        r = oh_target_read_string((pid_t)c->req->pid, sc_arg(c, 1), name, sizeof name);
        if (r == -ENAMETOOLONG || r > 0 || !(c->flags & AT_EMPTY_PATH))
                return SC_FETCH_PATH;
        if (r < 0)
                return r;
        if (sc_arg_int(c, 0) == AT_FDCWD)
                return -EPERM;
        return 0;
}

int sc_fetch_fdmeta(struct sc_call *c)
{
        int r;

        if (c->sys->flags_arg != ARG_NONE)
                c->flags = (uint32_t)sc_arg(c, c->sys->flags_arg);
        if (c->sys->mode_arg != ARG_NONE)
                c->mode = (uint32_t)sc_arg(c, c->sys->mode_arg);
        if (c->sys->act == sc_act_fchownat) {
                r = fetch_fchownat(c);
                if (r != 0)
                        return r;
        }
        if (c->sys->act == sc_act_ioctl && (ioctl_request(c) == TIOCSTI || ioctl_request(c) == TIOCLINUX))
                return 0;
        r = sc_fetch_fd(c);
        if (r < 0)
                return r;
        if (c->sys->act == sc_act_fsetxattr)
                return fetch_xattr(c, OH_FMETA_SETXATTR);
        if (c->sys->act == sc_act_fremovexattr)
                return fetch_xattr(c, OH_FMETA_REMOVEXATTR);
        if (c->sys->act == sc_act_ioctl)
                return fetch_ioctl(c);
        return 0;
}

static int fmeta(struct sc_call *c, uint32_t command, const struct oh_fmeta *m)
{
        struct oh_verdict v = {};
        int r = oh_do_fmeta(c->sv->policy, c->fd, m, c->path[0], sizeof c->path[0], &v);

        sc_log(c, command, r, &v);
        return r;
}

int sc_act_fchmod(struct sc_call *c)
{
        struct oh_fmeta m = { .kind = OH_FMETA_CHMOD, .mode = c->mode };

        return fmeta(c, OPENHOOK_DECISION_FCHMOD, &m);
}

static int chown_fd(struct sc_call *c, int uid_arg)
{
        struct oh_fmeta m = {
                .kind = OH_FMETA_CHOWN,
                .uid = (uid_t)sc_arg(c, uid_arg),
                .gid = (gid_t)sc_arg(c, uid_arg + 1),
        };

        return fmeta(c, OPENHOOK_DECISION_FCHOWN, &m);
}

int sc_act_fchown(struct sc_call *c)
{
        return chown_fd(c, 1);
}

int sc_act_fchownat(struct sc_call *c)
{
        return c->fd < 0 ? sc_act_chown(c) : chown_fd(c, 2);
}

/* chown, lchown and fchownat with a name: as the shim's CHOWN, only a
 * change that leaves owner and group as they are (lib/fdmeta.c).  The
 * ids follow the path argument. */
int sc_act_chown(struct sc_call *c)
{
        struct oh_verdict v = {};
        int id = c->sys->p[0].path + 1;
        int r;

        if (c->flags & ~(uint32_t)(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
                return -EINVAL;
        c->flags &= ~(uint32_t)AT_EMPTY_PATH;
        r = oh_do_chown(c->sv->policy, c->path[0], (uint32_t)sc_arg(c, id), (uint32_t)sc_arg(c, id + 1), c->flags,
                        &v);
        sc_log(c, OPENHOOK_CMD_CHOWN, r, &v);
        return r;
}

/* utimensat(fd, NULL, times, 0) and futimesat(fd, NULL, tv). */
int sc_act_futimens(struct sc_call *c)
{
        struct oh_fmeta m = { .kind = OH_FMETA_UTIMENS, .times = { c->times[0], c->times[1] } };

        if (c->flags != 0)
                return -EINVAL;         /* as the kernel, for a NULL path */
        return fmeta(c, OPENHOOK_DECISION_FUTIMENS, &m);
}

int sc_act_fsetxattr(struct sc_call *c)
{
        struct fmeta_op *op = c->op;

        return fmeta(c, OPENHOOK_DECISION_FSETXATTR, &op->m);
}

int sc_act_fremovexattr(struct sc_call *c)
{
        struct fmeta_op *op = c->op;

        return fmeta(c, OPENHOOK_DECISION_FREMOVEXATTR, &op->m);
}

int sc_act_ioctl(struct sc_call *c)
{
        uint32_t request = ioctl_request(c);
        struct fmeta_op *op = c->op;

        if (request == TIOCSTI || request == TIOCLINUX) {
                snprintf(c->path[0], sizeof c->path[0], "%s", request == TIOCSTI ? "TIOCSTI" : "TIOCLINUX");
                return sc_refuse(c, OPENHOOK_DECISION_IOCTL, -EPERM,
                                 "no option allows it: it would type into the terminal outside the sandbox");
        }
        return fmeta(c, OPENHOOK_DECISION_FSETFLAGS, &op->m);
}

int sc_act_keyring(struct sc_call *c)
{
        snprintf(c->path[0], sizeof c->path[0], "%s", c->sys->name);
        return sc_refuse(c, OPENHOOK_DECISION_KEYRING, -EPERM,
                         "no option allows it: the kernel keyrings hold secrets of programs outside");
}

static const char *family_name(int family)
{
        switch (family) {
        case AF_INET:
                return "AF_INET";
        case AF_INET6:
                return "AF_INET6";
        case AF_NETLINK:
                return "AF_NETLINK";
        case AF_PACKET:
                return "AF_PACKET";
        default:
                return NULL;
        }
}

/* Notified only under --no-network, for a family other than AF_UNIX as
 * the filter saw the register; the kernel reads only its low 32 bits. */
int sc_act_socket(struct sc_call *c)
{
        int family = sc_arg_int(c, 0);
        const char *name = family_name(family);

        if (family == AF_UNIX) {
                c->cont = true;
                return 0;
        }
        if (name)
                snprintf(c->path[0], sizeof c->path[0], "%s", name);
        else
                snprintf(c->path[0], sizeof c->path[0], "family %d", family);
        return sc_refuse(c, OPENHOOK_DECISION_SOCKET, -EAFNOSUPPORT,
                         "--no-network allows AF_UNIX sockets only");
}
