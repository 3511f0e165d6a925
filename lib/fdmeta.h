/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Metadata changes through a descriptor a peer holds (fchmod, fchown,
 * futimens, extended attributes, inode flags), done for it on a duplicate
 * of the same open file.  Landlock does not govern these, so without a
 * check a program could make any file it may only read (or any file of
 * the direct set) setuid or world-writable.
 *
 * Each is decided on the file the fd names: the policy must grant w at
 * its path, as the path forms (lib/resolve.c) require.  A file with no
 * name anywhere (a pipe, a socket, a memfd, a deleted or O_TMPFILE file)
 * concerns no path the policy could grant or refuse and is the peer's
 * own: allowed.  Refusals are -EPERM, as the kernel answers. */
#ifndef OH_FDMETA_H
#define OH_FDMETA_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "resolve.h"

enum oh_fmeta_kind {
        OH_FMETA_CHMOD,
        OH_FMETA_CHOWN,
        OH_FMETA_UTIMENS,
        OH_FMETA_SETXATTR,
        OH_FMETA_REMOVEXATTR,
        OH_FMETA_SETFLAGS,      /* FS_IOC_SETFLAGS */
        OH_FMETA_FSSETXATTR,    /* FS_IOC_FSSETXATTR */
};

struct oh_fmeta {
        enum oh_fmeta_kind kind;
        uint32_t mode;                  /* CHMOD: setuid, setgid and sticky are dropped */
        uid_t uid;                      /* CHOWN: -1 keeps */
        gid_t gid;
        struct timespec times[2];       /* UTIMENS, as utimensat(2) */
        const char *name;               /* *XATTR: NUL-terminated */
        const void *value;              /* SETXATTR */
        size_t size;
        int xattr_flags;
        const void *arg;                /* the ioctls: what the request points to */
};

/* Writes the name FD's file is reached by into PATH[SIZE]: an absolute
 * path, or "" when it has none (see above).  0 or -errno. */
int oh_fd_name(int fd, char *path, size_t size);

/* chown(2) of FD's file (FD may be O_PATH) to UID and GID, (uid_t) -1
 * and (gid_t) -1 keeping them: done only when it leaves both as they are
 * (tar, cp -a and rsync -a restore the owner they read), else -EPERM,
 * whatever the caller's privilege: no letter gives a file away or takes
 * it.  The one check for the fd and path forms.  0 or -errno. */
int oh_chown_fd(int fd, uid_t uid, gid_t gid);

/* Decides OP on FD (the broker's duplicate of the peer's fd) and does it.
 * PATH[SIZE] receives the name decided on (for the log).  0 or -errno;
 * V says whether the policy refused. */
int oh_do_fmeta(const struct openhook_policy *p, int fd, const struct oh_fmeta *op, char *path, size_t size,
                struct oh_verdict *v);

#endif
