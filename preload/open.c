/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The open(2) family.  Each entry point funnels into shim_openat(), which
 * decides between the kernel (O_PATH, the direct set, files of this process)
 * and the broker. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "openhook.h"
#include "open_mark.h"
#include "shim.h"
#include "util.h"

/* glibc's _FORTIFY_SOURCE entry points, declared only under fortify. */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);

/* The program's umask, tracked so files the broker creates get the mode the
 * program would have got itself (the broker runs with its own umask). */
static mode_t program_umask;

__attribute__((constructor)) static void umask_init(void)
{
        /* Single-threaded here, so reading the umask by setting it is safe. */
        program_umask = umask(022);
        umask(program_umask);
}

SHIM_EXPORT mode_t umask(mode_t mask)
{
        mode_t old = REAL(umask)(mask);

        __atomic_store_n(&program_umask, mask & 0777, __ATOMIC_RELAXED);
        return old;
}

mode_t shim_umask(void)
{
        return __atomic_load_n(&program_umask, __ATOMIC_RELAXED);
}

bool shim_flags_readonly(int flags)
{
        return (flags & O_ACCMODE) == O_RDONLY && !(flags & (O_CREAT | O_TRUNC)) &&
               (flags & O_TMPFILE) != O_TMPFILE;
}

static bool needs_mode(int flags)
{
        return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

static int real_openat(int dirfd, const char *path, int flags, mode_t mode)
{
        return shim_libc(REAL(openat)(dirfd, path, flags, mode));
}

static bool access_covers(int have, int want)
{
        have &= O_ACCMODE;
        want &= O_ACCMODE;
        return have == want || have == O_RDWR;
}

/* Reopening the program's own pipe, socket or tty through /proc/self/fd/N:
 * the kernel may refuse the path of a tty under Landlock, but the program
 * already holds the file, so a duplicate with compatible access is what it
 * asked for. */
static int reopen_own_fd(int n, int flags, mode_t mode)
{
        char link[32] = "/proc/self/fd/";
        int r, have;

        /* The kernel's own lookup of the magic link, by fd number. */
        r = snprintf(link + 14, sizeof(link) - 14, "%d", n);
        if (r < 0)
                return -EINVAL;
        r = real_openat(AT_FDCWD, link, flags, mode);
        if (r != -EACCES)
                return r;
        have = fcntl(n, F_GETFL);
        if (have < 0 || !access_covers(have, flags))
                return -EACCES;
        r = fcntl(n, (flags & O_CLOEXEC) ? F_DUPFD_CLOEXEC : F_DUPFD, 0);
        return r < 0 ? oh_negerrno() : r;
}

/* Whether the kernel may serve an open of BUF itself: reads in the direct
 * set, and writes to the devices there (`2>/dev/null`), which no policy
 * names.  Other writes always go to the broker, even where Landlock is off. */
bool shim_direct_ok(const char *buf, int flags)
{
        struct stat st;

        if (!shim_direct(buf))
                return false;
        if (shim_flags_readonly(flags))
                return true;
        return (flags & O_TMPFILE) != O_TMPFILE && stat(buf, &st) == 0 && S_ISCHR(st.st_mode);
}

/* A read relative to a directory fd in the direct set, opened by the
 * kernel from that very fd: tree walkers (grep -r, find) open every file
 * this way, and shim_path() would check the directory's remembered path
 * with two stats per open.  Here the path only classifies (what is
 * opened is what the program named, from its own fd), so one fstat
 * tells the fd still is the directory remembered (path.c).  Were the
 * directory moved out of the direct set since, Landlock refuses, and
 * EACCES goes the usual way, with the path checked, to the broker.
 * True when the kernel's answer, in *R, is final. */
static bool direct_at(int dirfd, const char *path, int flags, mode_t mode, int *r)
{
        char buf[PATH_MAX];

        if (dirfd == AT_FDCWD || !path || path[0] == '/' || path[0] == '\0' || !shim_flags_readonly(flags) ||
            !shim_direct_any() || shim_dir_path_unverified(dirfd, path, buf) < 0 || !shim_direct(buf))
                return false;
        *r = real_openat(dirfd, path, flags | (int) OH_OPEN_MARK, mode);
        return *r != -EACCES;
}

int shim_openat(int dirfd, const char *path, int flags, mode_t mode)
{
        char buf[PATH_MAX];
        struct shim_conn conn;
        int kind, fdnum = -1, r;

        if (!needs_mode(flags))
                mode = 0;
        /* Landlock does not restrict O_PATH: the kernel answers exactly as
         * it would for an unconfined program. */
        if (!shim_enabled() || (flags & O_PATH))
                return real_openat(dirfd, path, flags, mode);
        /* Before making the path absolute: a held file needs no path. */
        r = shim_ahead_take(dirfd, path, flags);
        if (r >= 0)
                return r;
        if (direct_at(dirfd, path, flags, mode, &r))
                return r;

        kind = shim_path(dirfd, path, buf, &fdnum);
        if (kind < 0)
                return kind;
        if (kind == SHIM_PATH_KERNEL)
                return real_openat(dirfd, path, flags, mode);
        if (kind == SHIM_PATH_FD)
                return reopen_own_fd(fdnum, flags, mode);

        if (shim_direct_ok(buf, flags)) {
                /* A symlink out of the direct set is refused by Landlock;
                 * the broker may still allow its target.  A read goes
                 * marked, past the seccomp filter (lib/open_mark.h). */
                int mark = shim_flags_readonly(flags) ? (int)OH_OPEN_MARK : 0;

                r = real_openat(AT_FDCWD, buf, flags | mark, mode);
                if (r != -EACCES)
                        return r;
        }
        /* shim_conn_get() alone both tells whether the broker is reachable
         * and gets its socket; asking shim_conn_available() first would
         * cost a second getpid() syscall on every open. */
        r = shim_conn_get(&conn);
        if (r == -EIO)
                return r;
        if (r < 0)
                return real_openat(dirfd, path, flags, mode);
        r = shim_broker_lost(shim_ahead_open(&conn, buf, flags, mode & ~shim_umask()));
        shim_conn_put(&conn);
        if (r == -ENOSYS)
                shim_warn_unsupported("open");
        return r;
}

static int saved_errno_openat(int dirfd, const char *path, int flags, mode_t mode)
{
        return SHIM_ERRNO(shim_openat(dirfd, path, flags, mode));
}

#define MODE_ARG(flags, mode) do { \
        if (needs_mode(flags)) { \
                va_list ap; \
                va_start(ap, flags); \
                mode = (mode_t) va_arg(ap, int); \
                va_end(ap); \
        } \
} while (0)

SHIM_EXPORT int open(const char *path, int flags, ...)
{
        mode_t mode = 0;

        MODE_ARG(flags, mode);
        return saved_errno_openat(AT_FDCWD, path, flags, mode);
}

SHIM_EXPORT int open64(const char *path, int flags, ...)
{
        mode_t mode = 0;

        MODE_ARG(flags, mode);
        return saved_errno_openat(AT_FDCWD, path, flags | O_LARGEFILE, mode);
}

SHIM_EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
        mode_t mode = 0;

        MODE_ARG(flags, mode);
        return saved_errno_openat(dirfd, path, flags, mode);
}

SHIM_EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
        mode_t mode = 0;

        MODE_ARG(flags, mode);
        return saved_errno_openat(dirfd, path, flags | O_LARGEFILE, mode);
}

SHIM_EXPORT int creat(const char *path, mode_t mode)
{
        return saved_errno_openat(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

SHIM_EXPORT int creat64(const char *path, mode_t mode)
{
        return saved_errno_openat(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC | O_LARGEFILE, mode);
}

/* The fortified variants are used when the compiler proved no mode is
 * needed; glibc aborts when one is, and so do we. */
static int fortified(int dirfd, const char *path, int flags)
{
        if (needs_mode(flags)) {
                static const char msg[] = "*** invalid open call: O_CREAT or O_TMPFILE without mode ***\n";

                (void) !write(STDERR_FILENO, msg, sizeof(msg) - 1);
                abort();
        }
        return saved_errno_openat(dirfd, path, flags, 0);
}

SHIM_EXPORT int __open_2(const char *path, int flags)
{
        return fortified(AT_FDCWD, path, flags);
}

SHIM_EXPORT int __open64_2(const char *path, int flags)
{
        return fortified(AT_FDCWD, path, flags | O_LARGEFILE);
}

SHIM_EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
        return fortified(dirfd, path, flags);
}

SHIM_EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
        return fortified(dirfd, path, flags | O_LARGEFILE);
}
