/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* File metadata by path: mode and times go to the broker (CHMOD, UTIMENS,
 * both needing w), ownership and extended attributes are refused.
 *
 * Landlock does not restrict chmod, chown, utime or setxattr, so without
 * this a confined program could change them on any file it can name.  The
 * fd forms (fchmod, fchown, futimens, fsetxattr) are left alone: they only
 * reach files the program already holds, which the policy gave it.  `openhook
 * run` backs this with a seccomp filter refusing the raw path syscalls, so
 * a program calling them without libc gets EPERM, not a way around us.
 *
 * Ownership and xattrs are not brokered: the broker would change them with
 * its own privilege, letting a program give files away, take them, or set
 * security.* attributes (file capabilities, labels).  Nothing a confined
 * program legitimately does needs that; if something does, it can be a
 * command of its own later. */
#include <fcntl.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include "openhook.h"
#include "shim.h"

/* Where a change to (DIRFD, PATH) goes: a shim_path_kind, SHIM_PATH_KERNEL
 * meaning libc (also when the shim is off or cannot reach the broker), or
 * -errno. */
static int meta_target(int dirfd, const char *path, char buf[PATH_MAX], int *fd)
{
        if (!shim_enabled())
                return SHIM_PATH_KERNEL;
        int kind = shim_path(dirfd, path, buf, fd);
        return kind == SHIM_PATH_BROKER && !shim_conn_available() ? SHIM_PATH_KERNEL : kind;
}

static int do_fchmodat(int dirfd, const char *path, mode_t mode, int flags)
{
        char buf[PATH_MAX];
        int fd = -1, kind;

        /* As glibc: fchmodat() knows no other flag. */
        if (flags & ~AT_SYMLINK_NOFOLLOW)
                return -EINVAL;
        kind = meta_target(dirfd, path, buf, &fd);
        switch (kind) {
        case SHIM_PATH_BROKER:
                return SHIM_BROKER("chmod", openhook_chmod, buf, mode, flags);
        case SHIM_PATH_FD:
                /* /dev/fd/N of a pipe or tty: the object is the program's own fd. */
                return shim_libc(fchmod(fd, mode));
        case SHIM_PATH_KERNEL:
                return shim_libc(REAL(fchmodat)(dirfd, path, mode, flags));
        default:
                return kind;
        }
}

static int do_utimensat(int dirfd, const char *path, const struct timespec ts[2], int flags)
{
        char buf[PATH_MAX];
        int fd = -1, kind;

        if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
                return -EINVAL;
        /* As glibc, which has futimens() for that. */
        if (!path)
                return -EINVAL;
        /* An empty path with AT_EMPTY_PATH names DIRFD itself: the fd
         * form, done on that fd. */
        if ((flags & AT_EMPTY_PATH) && !*path) {
                if (dirfd != AT_FDCWD)
                        return shim_libc(futimens(dirfd, ts));
                path = ".";
        }
        flags &= ~AT_EMPTY_PATH;
        kind = meta_target(dirfd, path, buf, &fd);
        switch (kind) {
        case SHIM_PATH_BROKER:
                return SHIM_BROKER("utimens", openhook_utimens, buf, ts, flags);
        case SHIM_PATH_FD:
                return shim_libc(futimens(fd, ts));
        case SHIM_PATH_KERNEL:
                return shim_libc(REAL(utimensat)(dirfd, path, ts, flags));
        default:
                return kind;
        }
}

/* utimes() and friends take microseconds; NULL means now. */
static int do_utimes(int dirfd, const char *path, const struct timeval tv[2], int flags)
{
        struct timespec ts[2];

        if (!tv)
                return do_utimensat(dirfd, path, NULL, flags);
        for (int i = 0; i < 2; i++) {
                if (tv[i].tv_usec < 0 || tv[i].tv_usec >= 1000000)
                        return -EINVAL;
                ts[i] = (struct timespec) { .tv_sec = tv[i].tv_sec, .tv_nsec = tv[i].tv_usec * 1000 };
        }
        return do_utimensat(dirfd, path, ts, flags);
}

/* Refused while the shim is on (see the top of this file). */
static int refuse_path(void)
{
        return shim_enabled() ? -EPERM : 0;
}

static int do_fchownat(int dirfd, const char *path, uid_t owner, gid_t group, int flags)
{
        int r;

        /* The fd form changes a file the program holds: as fchown(). */
        if ((flags & AT_EMPTY_PATH) && path && !*path && dirfd != AT_FDCWD)
                return shim_libc(fchown(dirfd, owner, group));
        r = refuse_path();
        return r < 0 ? r : shim_libc(REAL(fchownat)(dirfd, path, owner, group, flags));
}

SHIM_EXPORT int chmod(const char *path, mode_t mode)
{
        return SHIM_ERRNO(do_fchmodat(AT_FDCWD, path, mode, 0));
}

SHIM_EXPORT int lchmod(const char *path, mode_t mode)
{
        return SHIM_ERRNO(do_fchmodat(AT_FDCWD, path, mode, AT_SYMLINK_NOFOLLOW));
}

SHIM_EXPORT int fchmodat(int dirfd, const char *path, mode_t mode, int flags)
{
        return SHIM_ERRNO(do_fchmodat(dirfd, path, mode, flags));
}

SHIM_EXPORT int utimensat(int dirfd, const char *path, const struct timespec times[2], int flags)
{
        return SHIM_ERRNO(do_utimensat(dirfd, path, times, flags));
}

SHIM_EXPORT int utimes(const char *path, const struct timeval times[2])
{
        return SHIM_ERRNO(do_utimes(AT_FDCWD, path, times, 0));
}

SHIM_EXPORT int lutimes(const char *path, const struct timeval times[2])
{
        return SHIM_ERRNO(do_utimes(AT_FDCWD, path, times, AT_SYMLINK_NOFOLLOW));
}

/* futimesat(fd, NULL, tv) is futimes(fd, tv): libc does it on the fd. */
SHIM_EXPORT int futimesat(int dirfd, const char *path, const struct timeval times[2])
{
        if (!path)
                return REAL(futimesat)(dirfd, path, times);
        return SHIM_ERRNO(do_utimes(dirfd, path, times, 0));
}

SHIM_EXPORT int utime(const char *path, const struct utimbuf *times)
{
        struct timespec ts[2];

        if (!times)
                return SHIM_ERRNO(do_utimensat(AT_FDCWD, path, NULL, 0));
        ts[0] = (struct timespec) { .tv_sec = times->actime };
        ts[1] = (struct timespec) { .tv_sec = times->modtime };
        return SHIM_ERRNO(do_utimensat(AT_FDCWD, path, ts, 0));
}

SHIM_EXPORT int chown(const char *path, uid_t owner, gid_t group)
{
        return SHIM_ERRNO(do_fchownat(AT_FDCWD, path, owner, group, 0));
}

SHIM_EXPORT int lchown(const char *path, uid_t owner, gid_t group)
{
        return SHIM_ERRNO(do_fchownat(AT_FDCWD, path, owner, group, AT_SYMLINK_NOFOLLOW));
}

SHIM_EXPORT int fchownat(int dirfd, const char *path, uid_t owner, gid_t group, int flags)
{
        return SHIM_ERRNO(do_fchownat(dirfd, path, owner, group, flags));
}

SHIM_EXPORT int setxattr(const char *path, const char *name, const void *value, size_t size, int flags)
{
        int r = refuse_path();

        return r < 0 ? SHIM_ERRNO(r) : REAL(setxattr)(path, name, value, size, flags);
}

SHIM_EXPORT int lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags)
{
        int r = refuse_path();

        return r < 0 ? SHIM_ERRNO(r) : REAL(lsetxattr)(path, name, value, size, flags);
}

SHIM_EXPORT int removexattr(const char *path, const char *name)
{
        int r = refuse_path();

        return r < 0 ? SHIM_ERRNO(r) : REAL(removexattr)(path, name);
}

SHIM_EXPORT int lremovexattr(const char *path, const char *name)
{
        int r = refuse_path();

        return r < 0 ? SHIM_ERRNO(r) : REAL(lremovexattr)(path, name);
}
