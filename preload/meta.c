/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* File metadata by path: mode, times and ownership go to the broker
 * (CHMOD, UTIMENS, CHOWN, all needing w; CHOWN only when it changes
 * nothing), extended attributes are refused.
 *
 * Landlock does not restrict chmod, chown, utime or setxattr, so without
 * this a confined program could change them on any file it can name.  The
 * fd forms (fchmod, fchown, futimens, fsetxattr) are left alone: they only
 * reach files the program already holds, which the policy gave it.  `openhook
 * run` backs this with a seccomp filter refusing the raw path syscalls, so
 * a program calling them without libc gets EPERM, not a way around us.
 *
 * Xattrs are not brokered, and ownership only restated: the broker would
 * change them with its own privilege, letting a program give files away,
 * take them, or set security.* attributes (file capabilities, labels).
 * What confined programs do is restore the owner they read (tar x, cp -a,
 * rsync -a as root), which changes nothing; the broker allows that and
 * nothing else (oh_chown_fd()). */
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include "openhook.h"
#include "shim.h"
#include "wire.h"

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
        char buf[PATH_MAX];
        int fd = -1, kind, r;

        if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
                return -EINVAL;
        /* The fd form changes a file the program holds: as fchown(). */
        if ((flags & AT_EMPTY_PATH) && path && !*path) {
                if (dirfd != AT_FDCWD)
                        return shim_libc(fchown(dirfd, owner, group));
                path = ".";
        }
        flags &= ~AT_EMPTY_PATH;
        kind = meta_target(dirfd, path, buf, &fd);
        switch (kind) {
        case SHIM_PATH_BROKER:
                r = SHIM_BROKER("chown", openhook_chown, buf, owner, group, flags);
                /* A broker without CHOWN refused them all. */
                return r == -ENOSYS ? -EPERM : r;
        case SHIM_PATH_FD:
                return shim_libc(fchown(fd, owner, group));
        case SHIM_PATH_KERNEL:
                return shim_libc(REAL(fchownat)(dirfd, path, owner, group, flags));
        default:
                return kind;
        }
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

/* An access ACL of just owner, group and other (cp -a sets one on each
 * directory) restates the mode: it is the chmod it means. */
static bool acl_is_mode(const char *name, const void *value, size_t size, uint32_t *mode)
{
        return shim_enabled() && name && strcmp(name, "system.posix_acl_access") == 0 &&
               oh_wire_acl_mode(value, size, mode) == 0;
}

SHIM_EXPORT int setxattr(const char *path, const char *name, const void *value, size_t size, int flags)
{
        uint32_t mode;
        int r;

        if (acl_is_mode(name, value, size, &mode))
                return SHIM_ERRNO(do_fchmodat(AT_FDCWD, path, mode, 0));
        r = refuse_path();

        return r < 0 ? SHIM_ERRNO(r) : REAL(setxattr)(path, name, value, size, flags);
}

SHIM_EXPORT int lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags)
{
        uint32_t mode;
        int r;

        if (acl_is_mode(name, value, size, &mode))
                return SHIM_ERRNO(do_fchmodat(AT_FDCWD, path, mode, AT_SYMLINK_NOFOLLOW));
        r = refuse_path();

        return r < 0 ? SHIM_ERRNO(r) : REAL(lsetxattr)(path, name, value, size, flags);
}

/* Removing an attribute the file does not have changes nothing, and the
 * kernel answers ENODATA: libacl's acl_delete_def_file(), which cp -a
 * calls on each directory, takes that as done.  Whether it is there the
 * program may ask itself (getxattr is a metadata read). */
static int refuse_remove(const char *path, const char *name, bool follow)
{
        int r = refuse_path();
        ssize_t n;

        if (r == 0)
                return 0;
        n = follow ? getxattr(path, name, NULL, 0) : lgetxattr(path, name, NULL, 0);
        return n < 0 && errno == ENODATA ? -ENODATA : r;
}

SHIM_EXPORT int removexattr(const char *path, const char *name)
{
        int r = refuse_remove(path, name, true);

        return r < 0 ? SHIM_ERRNO(r) : REAL(removexattr)(path, name);
}

SHIM_EXPORT int lremovexattr(const char *path, const char *name)
{
        int r = refuse_remove(path, name, false);

        return r < 0 ? SHIM_ERRNO(r) : REAL(lremovexattr)(path, name);
}
