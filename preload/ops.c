/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Path operations other than open: each becomes one broker request on the
 * absolute path(s), or goes to libc when the shim is off or the path is a
 * file of this process (/proc/self/...). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>

#include "openhook.h"
#include "shim.h"

/* Fills BUF with the path the broker should act on.  Returns 1 if the
 * broker decides, 0 if libc should act (also when the broker cannot be
 * reached), or -errno. */
static int broker_path(int dirfd, const char *path, char buf[PATH_MAX])
{
        int fdnum, kind;

        if (!shim_enabled())
                return 0;
        kind = shim_path(dirfd, path, buf, &fdnum);
        if (kind < 0)
                return kind;
        return kind == SHIM_PATH_BROKER && shim_conn_available();
}

static int broker_paths(int d1, const char *p1, char b1[PATH_MAX], int d2, const char *p2, char b2[PATH_MAX])
{
        int r = broker_path(d1, p1, b1);

        if (r <= 0)
                return r;
        return broker_path(d2, p2, b2);
}

int shim_mkdirat(int dirfd, const char *path, mode_t mode)
{
        char buf[PATH_MAX];
        int r = broker_path(dirfd, path, buf);

        if (r <= 0)
                return r < 0 ? r : shim_libc(REAL(mkdirat)(dirfd, path, mode));
        return SHIM_BROKER("mkdir", openhook_mkdir, buf, mode & 07777 & ~shim_umask());
}

int shim_unlinkat(int dirfd, const char *path, int flags)
{
        char buf[PATH_MAX];
        int r;

        if (flags & ~AT_REMOVEDIR)
                return -EINVAL;
        r = broker_path(dirfd, path, buf);
        if (r <= 0)
                return r < 0 ? r : shim_libc(REAL(unlinkat)(dirfd, path, flags));
        if (flags & AT_REMOVEDIR)
                return SHIM_BROKER("rmdir", openhook_rmdir, buf);
        return SHIM_BROKER("unlink", openhook_unlink, buf);
}

static int do_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags)
{
        char a[PATH_MAX], b[PATH_MAX];
        int r = broker_paths(olddirfd, oldpath, a, newdirfd, newpath, b);

        if (r <= 0)
                return r < 0 ? r : shim_libc(REAL(renameat2)(olddirfd, oldpath, newdirfd, newpath, flags));
        return SHIM_BROKER("rename", openhook_rename, a, b, flags);
}

static int do_symlinkat(const char *target, int newdirfd, const char *linkpath)
{
        char buf[PATH_MAX];
        int r;

        if (!target)
                return -EFAULT;
        r = broker_path(newdirfd, linkpath, buf);
        if (r <= 0)
                return r < 0 ? r : shim_libc(REAL(symlinkat)(target, newdirfd, linkpath));
        /* The target is stored as written: it is not a path of this call. */
        return SHIM_BROKER("symlink", openhook_symlink, target, buf);
}

static int do_linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags)
{
        char a[PATH_MAX], b[PATH_MAX];
        int r;

        if (flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH))
                return -EINVAL;
        /* Linking an fd needs CAP_DAC_READ_SEARCH; the kernel decides. */
        if (flags & AT_EMPTY_PATH)
                return shim_libc(REAL(linkat)(olddirfd, oldpath, newdirfd, newpath, flags));
        r = broker_paths(olddirfd, oldpath, a, newdirfd, newpath, b);
        if (r <= 0)
                return r < 0 ? r : shim_libc(REAL(linkat)(olddirfd, oldpath, newdirfd, newpath, flags));
        if (flags & AT_SYMLINK_FOLLOW) {
                /* The broker links the name itself; follow it here (lstat
                 * and readlink are not confined, and the broker still checks
                 * the target). */
                char resolved[PATH_MAX];

                if (!realpath(a, resolved))
                        return shim_libc(-1);
                return SHIM_BROKER("link", openhook_link, resolved, b);
        }
        return SHIM_BROKER("link", openhook_link, a, b);
}

static int do_truncate(const char *path, off_t length)
{
        char buf[PATH_MAX];
        int r;

        if (length < 0)
                return -EINVAL;
        r = broker_path(AT_FDCWD, path, buf);
        if (r <= 0)
                return r < 0 ? r : shim_libc(REAL(truncate)(path, length));
        return SHIM_BROKER("truncate", openhook_truncate, buf, (uint64_t) length);
}

SHIM_EXPORT int mkdir(const char *path, mode_t mode)
{
        return SHIM_ERRNO(shim_mkdirat(AT_FDCWD, path, mode));
}

SHIM_EXPORT int mkdirat(int dirfd, const char *path, mode_t mode)
{
        return SHIM_ERRNO(shim_mkdirat(dirfd, path, mode));
}

SHIM_EXPORT int unlink(const char *path)
{
        return SHIM_ERRNO(shim_unlinkat(AT_FDCWD, path, 0));
}

SHIM_EXPORT int unlinkat(int dirfd, const char *path, int flags)
{
        return SHIM_ERRNO(shim_unlinkat(dirfd, path, flags));
}

SHIM_EXPORT int rmdir(const char *path)
{
        return SHIM_ERRNO(shim_unlinkat(AT_FDCWD, path, AT_REMOVEDIR));
}

/* As glibc: unlink, and rmdir when it is a directory. */
static int do_remove(const char *path)
{
        int r = shim_unlinkat(AT_FDCWD, path, 0);

        return r == -EISDIR ? shim_unlinkat(AT_FDCWD, path, AT_REMOVEDIR) : r;
}

SHIM_EXPORT int remove(const char *path)
{
        return SHIM_ERRNO(do_remove(path));
}

SHIM_EXPORT int rename(const char *oldpath, const char *newpath)
{
        return SHIM_ERRNO(do_renameat2(AT_FDCWD, oldpath, AT_FDCWD, newpath, 0));
}

SHIM_EXPORT int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
{
        return SHIM_ERRNO(do_renameat2(olddirfd, oldpath, newdirfd, newpath, 0));
}

SHIM_EXPORT int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags)
{
        return SHIM_ERRNO(do_renameat2(olddirfd, oldpath, newdirfd, newpath, flags));
}

SHIM_EXPORT int symlink(const char *target, const char *linkpath)
{
        return SHIM_ERRNO(do_symlinkat(target, AT_FDCWD, linkpath));
}

SHIM_EXPORT int symlinkat(const char *target, int newdirfd, const char *linkpath)
{
        return SHIM_ERRNO(do_symlinkat(target, newdirfd, linkpath));
}

SHIM_EXPORT int link(const char *oldpath, const char *newpath)
{
        return SHIM_ERRNO(do_linkat(AT_FDCWD, oldpath, AT_FDCWD, newpath, 0));
}

SHIM_EXPORT int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags)
{
        return SHIM_ERRNO(do_linkat(olddirfd, oldpath, newdirfd, newpath, flags));
}

SHIM_EXPORT int truncate(const char *path, off_t length)
{
        return SHIM_ERRNO(do_truncate(path, length));
}

SHIM_EXPORT int truncate64(const char *path, off64_t length)
{
        return SHIM_ERRNO(do_truncate(path, (off_t) length));
}
