/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* access(), faccessat(), euidaccess() and eaccess(), answered by the broker
 * (ACCESS) by the rules open() meets, so that a program that checks first
 * takes the branch its open will take.  Landlock does not govern
 * access(2): the kernel alone would answer by the file's mode (R_OK yes for
 * /etc/shadow as root, which the broker refuses to open).
 *
 * What the program opens itself the kernel answers: files of this process
 * and the direct set (read and execute; writes to its devices), by the
 * same rule as open (shim_direct_ok()).  A broker without ACCESS (-ENOSYS)
 * leaves the question to the kernel, as before it had one. */
#include <fcntl.h>
#include <unistd.h>

#include "openhook.h"
#include "shim.h"

static int real_faccessat(int dirfd, const char *path, int mode, int flags)
{
        return shim_libc(REAL(faccessat)(dirfd, path, mode, flags));
}

/* The question the broker answers for BUF, or -ENOSYS when it has none. */
static int broker_access(const char *buf, int mode, int flags)
{
        struct shim_conn conn;
        int r = shim_conn_get(&conn);

        if (r < 0)
                return r == -EIO ? r : -ENOSYS;
        r = shim_broker_lost(openhook_access(conn.fd, buf, mode, flags));
        shim_conn_put(&conn);
        return r;
}

static int do_faccessat(int dirfd, const char *path, int mode, int flags)
{
        char buf[PATH_MAX];
        int fdnum = -1, kind, r;

        /* As the kernel; AT_EMPTY_PATH with "" asks about DIRFD, the
         * program's own. */
        if ((mode & ~(R_OK | W_OK | X_OK)) || (flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)))
                return -EINVAL;
        if (!shim_enabled() || !path || ((flags & AT_EMPTY_PATH) && !*path))
                return real_faccessat(dirfd, path, mode, flags);
        kind = shim_path(dirfd, path, buf, &fdnum);
        if (kind < 0)
                return kind;
        if (kind != SHIM_PATH_BROKER || shim_direct_ok(buf, mode & W_OK ? O_WRONLY : O_RDONLY))
                return real_faccessat(dirfd, path, mode, flags);
        r = broker_access(buf, mode, flags & ~AT_EMPTY_PATH);
        return r == -ENOSYS ? real_faccessat(dirfd, path, mode, flags) : r;
}

SHIM_EXPORT int access(const char *path, int mode)
{
        return SHIM_ERRNO(do_faccessat(AT_FDCWD, path, mode, 0));
}

SHIM_EXPORT int faccessat(int dirfd, const char *path, int mode, int flags)
{
        return SHIM_ERRNO(do_faccessat(dirfd, path, mode, flags));
}

SHIM_EXPORT int euidaccess(const char *path, int mode)
{
        return SHIM_ERRNO(do_faccessat(AT_FDCWD, path, mode, AT_EACCESS));
}

SHIM_EXPORT int eaccess(const char *path, int mode)
{
        return SHIM_ERRNO(do_faccessat(AT_FDCWD, path, mode, AT_EACCESS));
}
