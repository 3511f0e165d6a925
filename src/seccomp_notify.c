/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* openhook run --mode seccomp.
 *
 * The confined program's path syscalls stop in the kernel and become user
 * notifications.  For each one the supervisor reads the arguments out of
 * the stopped task once, checks the notification is still alive (so the
 * TID it read from was not recycled), makes the path absolute as the task
 * would have seen it, lets the policy engine decide and act (lib/resolve.c),
 * and answers: the fd it opened is installed in the task with
 * SECCOMP_IOCTL_NOTIF_ADDFD + SECCOMP_ADDFD_FLAG_SEND, any other result is
 * the syscall's return value.  The kernel never re-reads the program's
 * memory for a brokered call, so a thread rewriting the path buffer after
 * the check changes nothing.
 *
 * The one exception (SECCOMP_USER_NOTIF_FLAG_CONTINUE) is an open of a
 * path in the Landlock "direct" set: see sc_direct_eligible(). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "open_mark.h"
#include "policy.h"
#include "resolve.h"
#include "seccomp_internal.h"
#include "seccomp_notify.h"
#include "seccomp_target.h"
#include "server.h"
#include "spin.h"
#include "util.h"

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif
#ifndef SECCOMP_ADDFD_FLAG_SEND
#define SECCOMP_ADDFD_FLAG_SEND (1UL << 1)
#endif


/* The kernel's O_LARGEFILE on x86; glibc's x86_64 headers define it as 0,
 * but i386 programs pass it on every open and it means nothing to a 64-bit
 * broker. */
#define OH_X86_O_LARGEFILE 0100000u

static int act_open(struct sc_call *c);
static int act_mkdir(struct sc_call *c);
static int act_mknod(struct sc_call *c);
static int act_unlink(struct sc_call *c);
static int act_rmdir(struct sc_call *c);
static int act_rename(struct sc_call *c);
static int act_symlink(struct sc_call *c);
static int act_link(struct sc_call *c);
static int act_truncate(struct sc_call *c);
static int act_chmod(struct sc_call *c);
static int act_utimens(struct sc_call *c);
static int act_exec(struct sc_call *c);

#define P(path, dirfd) { path, dirfd }
#define NOP P(ARG_NONE, ARG_NONE)

/* Every syscall that creates, opens, removes, renames or resizes by path
 * (notified in seccomp mode), then what Landlock cannot hold (notified in
 * every mode, SC_ALWAYS).  The names are resolved per architecture; a name
 * an architecture lacks (truncate64 on x86_64) is skipped there. */
static const struct sc_syscall syscalls[] = {
        { "open",       act_open,     { P(0, DIRFD_CWD), NOP }, 1, 2, 0, 0, 0, NULL },
        { "openat",     act_open,     { P(1, 0), NOP }, 2, 3, 0, 0, 0, NULL },
        { "openat2",    act_open,     { P(1, 0), NOP }, ARG_NONE, ARG_NONE, 0, SC_HOW, 0, NULL },
        { "creat",      act_open,     { P(0, DIRFD_CWD), NOP }, ARG_NONE, 1, O_CREAT | O_WRONLY | O_TRUNC, 0, 0, NULL },
        { "mkdir",      act_mkdir,    { P(0, DIRFD_CWD), NOP }, ARG_NONE, 1, 0, 0, 0, NULL },
        { "mkdirat",    act_mkdir,    { P(1, 0), NOP }, ARG_NONE, 2, 0, 0, 0, NULL },
        { "mknod",      act_mknod,    { P(0, DIRFD_CWD), NOP }, ARG_NONE, 1, 0, 0, 0, NULL },
        { "mknodat",    act_mknod,    { P(1, 0), NOP }, ARG_NONE, 2, 0, 0, 0, NULL },
        { "unlink",     act_unlink,   { P(0, DIRFD_CWD), NOP }, ARG_NONE, ARG_NONE, 0, 0, 0, NULL },
        { "unlinkat",   act_unlink,   { P(1, 0), NOP }, 2, ARG_NONE, 0, 0, 0, NULL },
        { "rmdir",      act_rmdir,    { P(0, DIRFD_CWD), NOP }, ARG_NONE, ARG_NONE, 0, 0, 0, NULL },
        { "rename",     act_rename,   { P(0, DIRFD_CWD), P(1, DIRFD_CWD) }, ARG_NONE, ARG_NONE, 0, 0, 0, NULL },
        { "renameat",   act_rename,   { P(1, 0), P(3, 2) }, ARG_NONE, ARG_NONE, 0, 0, 0, NULL },
        { "renameat2",  act_rename,   { P(1, 0), P(3, 2) }, 4, ARG_NONE, 0, 0, 0, NULL },
        { "symlink",    act_symlink,  { P(0, DIRFD_RAW), P(1, DIRFD_CWD) }, ARG_NONE, ARG_NONE, 0, 0, 0, NULL },
        { "symlinkat",  act_symlink,  { P(0, DIRFD_RAW), P(2, 1) }, ARG_NONE, ARG_NONE, 0, 0, 0, NULL },
        { "link",       act_link,     { P(0, DIRFD_CWD), P(1, DIRFD_CWD) }, ARG_NONE, ARG_NONE, 0, 0, 0, NULL },
        { "linkat",     act_link,     { P(1, 0), P(3, 2) }, 4, ARG_NONE, 0, 0, 0, NULL },
        { "truncate",   act_truncate, { P(0, DIRFD_CWD), NOP }, ARG_NONE, ARG_NONE, 0, 0, 0, NULL },
        { "truncate64", act_truncate, { P(0, DIRFD_CWD), NOP }, ARG_NONE, ARG_NONE, 0, SC_LEN64, 0, NULL },
        /* Landlock does not restrict file metadata: these would otherwise
         * reach any file the program can name.  In preload mode the shim
         * brokers libc's and the filter refuses the raw calls. */
        { "chmod",      act_chmod,    { P(0, DIRFD_CWD), NOP }, ARG_NONE, 1, 0, SC_PATH_META, EPERM, NULL },
        { "fchmodat",   act_chmod,    { P(1, 0), NOP }, ARG_NONE, 2, 0, SC_PATH_META, EPERM, NULL },
        { "fchmodat2",  act_chmod,    { P(1, 0), NOP }, 3, 2, 0, SC_PATH_META, EPERM, NULL },
        { "utime",      act_utimens,  { P(0, DIRFD_CWD), NOP }, ARG_NONE, ARG_NONE, 0, SC_UTIMBUF | SC_PATH_META, EPERM, NULL },
        { "utimes",     act_utimens,  { P(0, DIRFD_CWD), NOP }, ARG_NONE, ARG_NONE, 0, SC_TIMEVAL | SC_PATH_META, EPERM, NULL },
        { "futimesat",  act_utimens,  { P(1, 0), NOP }, ARG_NONE, ARG_NONE, 0,
          SC_TIMEVAL | SC_NULL_PATH_IS_FD | SC_PATH_META, EPERM, NULL },
        { "utimensat",  act_utimens,  { P(1, 0), NOP }, 3, ARG_NONE, 0,
          SC_TIMESPEC | SC_NULL_PATH_IS_FD | SC_PATH_META, EPERM, NULL },
        { "utimensat_time64", act_utimens, { P(1, 0), NOP }, 3, ARG_NONE, 0,
          SC_TIMESPEC | SC_TIME64 | SC_NULL_PATH_IS_FD | SC_PATH_META, EPERM, NULL },
        /* Ownership: only a change that changes nothing (seccomp_fdmeta.c),
         * in every mode as fchownat, which has an fd form.  i386's chown
         * and lchown take 16-bit ids: refused. */
        { "chown",      sc_act_chown, { P(0, DIRFD_CWD), NOP }, ARG_NONE, ARG_NONE, 0, SC_ALWAYS | SC_NATIVE, EPERM, NULL },
        { "lchown",     sc_act_chown, { P(0, DIRFD_CWD), NOP }, ARG_NONE, ARG_NONE, AT_SYMLINK_NOFOLLOW,
          SC_ALWAYS | SC_NATIVE, EPERM, NULL },
        /* Landlock does not govern access(2): without the supervisor the
         * kernel would say yes for files open() is refused
         * (seccomp_access.c).  Its answer tells nothing stat(2) does not,
         * so without a listener the kernel answers. */
        { "access",     sc_act_access, { P(0, DIRFD_CWD), NOP }, ARG_NONE, 1, 0, SC_ALWAYS, 0, NULL },
        { "faccessat",  sc_act_access, { P(1, 0), NOP }, ARG_NONE, 2, 0, SC_ALWAYS, 0, NULL },
        { "faccessat2", sc_act_access, { P(1, 0), NOP }, 3, 2, 0, SC_ALWAYS, 0, NULL },
        /* Sockets by address (seccomp_sockets.c): a UNIX socket is a file
         * the policy decides on, and the address lives in memory the
         * program can rewrite, so the supervisor makes these calls itself. */
        { "connect",    sc_act_connect,  { NOP, NOP }, ARG_NONE, ARG_NONE, 0, SC_ALWAYS | SC_NATIVE, EACCES, sc_fetch_socket },
        { "sendto",     sc_act_sendto,   { NOP, NOP }, 3, ARG_NONE, 0, SC_ALWAYS | SC_NATIVE | SC_ADDR_ARG4, EACCES, sc_fetch_socket },
        { "sendmsg",    sc_act_sendmsg,  { NOP, NOP }, 2, ARG_NONE, 0, SC_ALWAYS | SC_NATIVE, EACCES, sc_fetch_socket },
        { "sendmmsg",   sc_act_sendmmsg, { NOP, NOP }, 3, ARG_NONE, 0, SC_ALWAYS | SC_NATIVE, EACCES, sc_fetch_socket },
        /* Metadata through an fd (seccomp_fdmeta.c). */
        { "fchmod",     sc_act_fchmod,   { NOP, NOP }, ARG_NONE, 1, 0, SC_ALWAYS | SC_NATIVE, EPERM, sc_fetch_fdmeta },
        { "fchown",     sc_act_fchown,   { NOP, NOP }, ARG_NONE, ARG_NONE, 0, SC_ALWAYS | SC_NATIVE, EPERM, sc_fetch_fdmeta },
        { "fchown32",   sc_act_fchown,   { NOP, NOP }, ARG_NONE, ARG_NONE, 0, SC_ALWAYS | SC_NATIVE, EPERM, sc_fetch_fdmeta },
        { "fchownat",   sc_act_fchownat, { P(1, 0), NOP }, 4, ARG_NONE, 0, SC_ALWAYS | SC_NATIVE, EPERM, sc_fetch_fdmeta },
        { "fsetxattr",  sc_act_fsetxattr, { NOP, NOP }, 4, ARG_NONE, 0, SC_ALWAYS | SC_NATIVE, EPERM, sc_fetch_fdmeta },
        { "fremovexattr", sc_act_fremovexattr, { NOP, NOP }, ARG_NONE, ARG_NONE, 0, SC_ALWAYS | SC_NATIVE, EPERM, sc_fetch_fdmeta },
        /* TIOCSTI, TIOCLINUX and the inode-flag ioctls (sc_ioctls[]). */
        { "ioctl",      sc_act_ioctl,    { NOP, NOP }, ARG_NONE, ARG_NONE, 0, SC_ALWAYS | SC_IOCTL, EPERM, sc_fetch_fdmeta },
        /* The kernel's keyrings hold secrets of the user's other
         * programs (Kerberos tickets, ecryptfs keys): refused, as flatpak
         * does. */
        { "keyctl",     sc_act_keyring,  { NOP, NOP }, ARG_NONE, ARG_NONE, 0, SC_ALWAYS, EPERM, NULL },
        { "add_key",    sc_act_keyring,  { NOP, NOP }, ARG_NONE, ARG_NONE, 0, SC_ALWAYS, EPERM, NULL },
        { "request_key", sc_act_keyring, { NOP, NOP }, ARG_NONE, ARG_NONE, 0, SC_ALWAYS, EPERM, NULL },
        /* A program is run by the kernel, and Landlock decides whether it
         * may be (the direct set, x rules); the supervisor only tells a
         * refusal apart, with the rule that would allow it.  The filter
         * lets execveat with AT_EMPTY_PATH through: a file named by an fd
         * (fexecve) has no path to tell a refusal by.  Given a path as
         * well, the flag changes nothing, and Landlock's refusal then comes
         * without a denial line; run starts COMMAND so (run_command.c), a
         * file it has put in the direct set. */
        { "execve",     act_exec,     { P(0, DIRFD_CWD), NOP }, ARG_NONE, ARG_NONE, 0, SC_ALWAYS, 0, NULL },
        { "execveat",   act_exec,     { P(1, 0), NOP }, 4, ARG_NONE, 0, SC_ALWAYS | SC_PATH_ONLY, 0, NULL },
        /* --no-network: sockets other than AF_UNIX. */
        { "socket",     sc_act_socket,   { NOP, NOP }, ARG_NONE, ARG_NONE, 0,
          SC_ALWAYS | SC_NATIVE | SC_NOT_UNIX | SC_NO_NETWORK, EAFNOSUPPORT, NULL },
};

/* Syscalls answered in the filter itself, without a round trip.  Each
 * would reach a file without a path the policy could judge:
 * open_by_handle_at and open_tree (an O_PATH fd of any path, not checked
 * by Landlock), chroot (absolute paths would stop meaning what the
 * supervisor reads), uselib (opens a library by path).  io_uring would
 * open files, connect and send inside the kernel without a syscall to
 * notify: refusing it makes programs fall back to the plain calls. */
static const struct {
        const char *name;
        int error;
        bool every_mode;        /* refused in --mode preload too */
} refused[] = {
        { "open_by_handle_at", EPERM, true },
        { "open_tree", EPERM, true },
        { "chroot", EPERM, false },
        { "uselib", EPERM, true },
        { "io_uring_setup", ENOSYS, true },
        /* Extended attributes by path are not brokered (preload/meta.c
         * says why), nor i386's chown32 and lchown32; the fd forms and
         * chown, lchown are decided above. */
        { "chown32", EPERM, true },
        { "lchown32", EPERM, true },
        { "setxattr", EPERM, true },
        { "lsetxattr", EPERM, true },
        { "removexattr", EPERM, true },
        { "lremovexattr", EPERM, true },
};

/* ---- Arguments -------------------------------------------------------- */

uint64_t sc_arg(const struct sc_call *c, int i)
{
        uint64_t v = c->req->data.args[i];

        return c->compat ? (uint32_t)v : v;
}

int sc_arg_int(const struct sc_call *c, int i)
{
        return (int)(uint32_t)c->req->data.args[i];
}

static int fetch_how(struct sc_call *c)
{
        uint64_t size = sc_arg(c, 3);
        uint8_t buf[4096];
        struct open_how how;

        if (size < sizeof how)
                return -EINVAL;
        if (size > sizeof buf)
                return -E2BIG;
        int r = oh_target_read(c->req->pid, sc_arg(c, 2), buf, size);
        if (r < 0)
                return r;
        /* As the kernel: a larger struct from a newer libc is fine as long
         * as the fields this kernel does not know are zero. */
        for (size_t i = sizeof how; i < size; i++)
                if (buf[i] != 0)
                        return -E2BIG;
        memcpy(&how, buf, sizeof how);
        if (how.flags > UINT32_MAX || how.mode > 07777)
                return -EINVAL;
        if (how.mode != 0 && !(how.flags & O_CREAT) && (how.flags & O_TMPFILE) != O_TMPFILE)
                return -EINVAL;
        /* The policy engine resolves under its own rules; it cannot promise
         * RESOLVE_BENEATH and friends relative to the program's dirfd.
         * ENOSYS makes callers take their openat() fallback. */
        if (how.resolve & ~(uint64_t)RESOLVE_CACHED)
                return -ENOSYS;
        /* An O_PATH open is answered with CONTINUE (act_open()), and the
         * kernel would then read open_how again: another thread could have
         * turned it into O_RDWR|O_CREAT by then. */
        if (how.flags & O_PATH)
                return -ENOSYS;
        c->flags = (uint32_t)how.flags;
        c->mode = (uint32_t)how.mode;
        return 0;
}

static bool creates(const struct sc_call *c)
{
        if (c->sys->act == act_mkdir || c->sys->act == act_mknod)
                return true;
        return c->sys->act == act_open &&
                ((c->flags & O_CREAT) || (c->flags & O_TMPFILE) == O_TMPFILE);
}

static int fetch_numbers(struct sc_call *c)
{
        const struct sc_syscall *s = c->sys;
        mode_t umask_value;
        int r;

        if (s->opts & SC_HOW) {
                r = fetch_how(c);
                if (r < 0)
                        return r;
        }
        if (s->flags_arg != ARG_NONE)
                c->flags = (uint32_t)sc_arg(c, s->flags_arg);
        c->flags |= s->fixed_flags;
        if (c->compat)
                c->flags &= ~OH_X86_O_LARGEFILE;
        /* The kernel ignores the mark (lib/open_mark.h), as every bit
         * open() and openat() do not know. */
        if (c->sys->act == act_open && !(s->opts & SC_HOW))
                c->flags &= ~OH_OPEN_MARK;
        if (s->mode_arg != ARG_NONE)
                c->mode = (uint32_t)sc_arg(c, s->mode_arg);
        if (s->opts & SC_LEN64)
                c->length = (uint64_t)(uint32_t)sc_arg(c, 1) | (uint64_t)sc_arg(c, 2) << 32;
        else if (c->compat)
                c->length = (uint64_t)(int64_t)(int32_t)sc_arg(c, 1);
        else
                c->length = c->req->data.args[1];
        if (!creates(c))
                return 0;
        /* The program's umask, not the broker's, is what the kernel would
         * apply (the broker's still applies on top, see DESIGN.md). */
        r = oh_target_status(c->req->pid, NULL, &umask_value);
        if (r < 0)
                return r;
        c->mode = (c->mode & (S_IFMT | 07777)) & ~(uint32_t)umask_value;
        return 0;
}

static int fetch_path(struct sc_call *c, int i)
{
        const struct sc_path_arg *p = &c->sys->p[i];
        char raw[PATH_MAX];
        int r;

        r = oh_target_read_string(c->req->pid, sc_arg(c, p->path), raw, sizeof raw);
        if (r < 0)
                return r;
        if (p->dirfd == DIRFD_RAW) {
                if (r == 0)
                        return -ENOENT;
                memcpy(c->path[i], raw, (size_t)r + 1);
                return 0;
        }
        r = oh_target_abspath(c->req->pid, p->dirfd == DIRFD_CWD ? AT_FDCWD : sc_arg_int(c, p->dirfd),
                              raw, c->path[i], sizeof c->path[i]);
        return r < 0 ? r : 0;
}

/* One of the program's own fds named by path (/dev/stdin,
 * /proc/self/fd/N): opened, or given to chmod, utimes or truncate (glibc's
 * fchmodat(AT_SYMLINK_NOFOLLOW) chmods /proc/self/fd/N of an O_PATH fd).
 * A regular file or directory is named by the path it was opened at,
 * which the policy judges as any other; a pipe, tty or deleted file has
 * no such path, and the program already holds it: an open gets a
 * duplicate (act_open checks the access), as in preload mode, while the
 * other calls are refused, since an O_PATH fd grants no access. */
static int fetch_own_fd(struct sc_call *c)
{
        char target[PATH_MAX], link[64];
        const char *rest;
        struct stat st;
        bool pathless;
        pid_t pid;
        int n, r;

        n = oh_target_own_fd((pid_t)c->req->pid, c->path[0], &rest, &pid);
        if (n < 0)
                return 0;
        snprintf(link, sizeof link, "/proc/%d/fd/%d", (int)pid, n);
        if (stat(link, &st) < 0)
                return errno == ENOENT ? -ENOENT : oh_negerrno();
        pathless = *rest == '\0' && ((!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) || st.st_nlink == 0);
        /* access(2) of its own pipe or socket asks what stat(2) tells. */
        if (c->sys->act == sc_act_access && *rest == '\0' && (pathless || S_ISSOCK(st.st_mode))) {
                c->cont = true;
                return 0;
        }
        if (pathless && c->sys->act != act_open)
                return -EACCES;
        if (*rest == '\0' && S_ISSOCK(st.st_mode))
                return -ENXIO;
        if (pathless) {
                c->newfd = oh_target_dup_fd(pid, n);
                return c->newfd < 0 ? c->newfd : 0;
        }
        r = oh_target_fd_path(pid, n, target, sizeof target);
        if (r < 0)
                return r;
        if (target[0] != '/')
                return -ENOTDIR;
        /* REST points into path[0], which is being rewritten. */
        if (strlen(target) + strlen(rest) >= sizeof c->path[0])
                return -ENAMETOOLONG;
        memmove(c->path[0] + r, rest, strlen(rest) + 1);
        memcpy(c->path[0], target, (size_t)r);
        return 0;
}

/* The two times of a utime-family call as utimensat's timespecs (NULL
 * is "both now").  Fields are 64-bit natively and 32-bit for i386 calls,
 * except in the *_time64 calls. */
static int fetch_times(struct sc_call *c)
{
        unsigned int opts = c->sys->opts;
        uint64_t addr = sc_arg(c, c->sys->p[0].path + 1);
        size_t width = c->compat && !(opts & SC_TIME64) ? 4 : 8;
        size_t count = opts & SC_UTIMBUF ? 2 : 4;
        int64_t v[4] = {};
        uint8_t buf[32];
        int r;

        if (!addr) {
                c->times[0] = c->times[1] = (struct timespec) { .tv_nsec = UTIME_NOW };
                return 0;
        }
        r = oh_target_read(c->req->pid, addr, buf, width * count);
        if (r < 0)
                return r;
        for (size_t i = 0; i < count; i++) {
                int32_t v32;

                if (width == 8) {
                        memcpy(&v[i], buf + 8 * i, 8);
                        continue;
                }
                memcpy(&v32, buf + 4 * i, 4);
                v[i] = v32;
        }
        if (opts & SC_UTIMBUF) {
                v[2] = v[1];
                v[1] = 0;
        }
        for (int i = 0; i < 2; i++) {
                int64_t sub = v[2 * i + 1];

                if (opts & SC_TIMEVAL) {
                        if (sub < 0 || sub >= 1000000)
                                return -EINVAL;
                        sub *= 1000;
                }
                c->times[i] = (struct timespec) { .tv_sec = (time_t)v[2 * i], .tv_nsec = (long)sub };
        }
        return 0;
}

/* utimensat(fd, NULL, ...) and futimesat(fd, NULL, ...): the file FD
 * names, as futimens(). */
static int fetch_fd_form(struct sc_call *c)
{
        int r;

        c->fd_form = true;
        if (sc_arg_int(c, c->sys->p[0].dirfd) == AT_FDCWD)
                return -EFAULT;         /* the kernel reads the NULL name */
        r = sc_fetch_fd(c);
        if (r < 0)
                return r;
        r = fetch_times(c);
        if (r < 0)
                return r;
        return fetch_numbers(c);
}

static int fetch(struct sc_call *c)
{
        int r;

        if (c->sys->fetch) {
                r = c->sys->fetch(c);
                if (r != SC_FETCH_PATH)
                        return r;
        }
        if ((c->sys->opts & SC_NULL_PATH_IS_FD) && sc_arg(c, c->sys->p[0].path) == 0)
                return fetch_fd_form(c);
        for (int i = 0; i < 2; i++) {
                if (c->sys->p[i].path == ARG_NONE)
                        continue;
                r = fetch_path(c, i);
                if (r < 0)
                        return r;
        }
        if (c->sys->act == act_open || c->sys->act == act_chmod || c->sys->act == act_utimens ||
            c->sys->act == act_truncate || c->sys->act == sc_act_access || c->sys->act == sc_act_chown ||
            c->sys->act == sc_act_fchownat) {
                r = fetch_own_fd(c);
                if (r < 0)
                        return r;
        }
        if (c->sys->opts & SC_TIMES) {
                r = fetch_times(c);
                if (r < 0)
                        return r;
        }
        return fetch_numbers(c);
}

/* ---- Decisions -------------------------------------------------------- */

void sc_log_denied(openhook_log_fn log, void *userdata, pid_t pid, uint32_t command, const char *path,
                   int error, const char *why)
{
        struct openhook_decision d = {
                .pid = pid,
                .command = command,
                .path = path,
                .result = error,
                .denied = 1,
                .hint = why,
        };

        if (log)
                log(&d, userdata);
}

void sc_log(const struct sc_call *c, uint32_t command, int result, const struct oh_verdict *v)
{
        struct openhook_decision d = {
                .pid = (pid_t)c->req->pid,
                .command = command,
                .path = c->path[0][0] ? c->path[0] : NULL,
                .path2 = c->path[1][0] ? c->path[1] : NULL,
                .flags = c->flags,
                .mode = c->mode,
                .result = result > 0 ? 0 : result,
                .denied = v->denied,
                .hint = v->denied ? v->hint : NULL,
        };

        if (c->sv->log)
                c->sv->log(&d, c->sv->userdata);
}

int sc_refuse(struct sc_call *c, uint32_t command, int error, const char *why)
{
        struct oh_verdict v = { .denied = 1 };

        snprintf(v.hint, sizeof v.hint, "%s", why);
        sc_log(c, command, error, &v);
        return error;
}

/* PATH with ".", ".." and repeated slashes taken at face value, into OUT
 * (PATH_MAX).  Only a routing hint: with symlinks the kernel may reach
 * another file, which Landlock then checks. */
static void lexical(const char *path, char *out)
{
        size_t n = 0;

        for (const char *p = path; *p;) {
                size_t len;

                while (*p == '/')
                        p++;
                len = strcspn(p, "/");
                if (len == 2 && p[0] == '.' && p[1] == '.') {
                        while (n > 0 && out[--n] != '/')
                                ;
                } else if (len > 0 && !(len == 1 && p[0] == '.')) {
                        out[n++] = '/';
                        memcpy(out + n, p, len);
                        n += len;
                }
                p += len;
        }
        out[n] = '\0';
}

static bool direct_covers(const struct sc_supervisor *sv, const char *path)
{
        for (size_t i = 0; i < sv->n_direct; i++) {
                size_t n = strlen(sv->direct[i]);

                if (strncmp(path, sv->direct[i], n) == 0 && (path[n] == '/' || path[n] == '\0'))
                        return true;
        }
        return false;
}

/* Whether the kernel may run this open itself (CONTINUE).  That is safe
 * only because Landlock is enforced on the program underneath (run puts
 * OPENHOOK_DIRECT in the supervisor's environment only then): whatever the
 * kernel then opens -- even if another thread rewrote the path after this
 * check -- Landlock checks the access actually made to the file actually
 * reached against the direct set, so CONTINUE grants nothing the direct set
 * does not already grant.  The flags of open(), openat() and creat() are
 * registers, fixed when the syscall stopped; openat2()'s live in memory and
 * are never continued.  O_PATH is excluded because Landlock does not check
 * O_PATH opens. */
bool sc_direct_eligible(const struct sc_call *c)
{
        char plain[PATH_MAX];

        if (c->sv->n_direct == 0 || (c->sys->opts & SC_HOW) || (c->flags & O_PATH))
                return false;
        lexical(c->path[0], plain);
        return direct_covers(c->sv, plain[0] ? plain : "/");
}

static bool read_only(uint32_t flags)
{
        return (flags & O_ACCMODE) == O_RDONLY && !(flags & (O_CREAT | O_TRUNC));
}

static bool access_covers(int have, uint32_t want)
{
        have &= O_ACCMODE;
        want &= O_ACCMODE;
        return (uint32_t)have == want || have == O_RDWR;
}

static int reuse_own_fd(struct sc_call *c)
{
        int have = fcntl(c->newfd, F_GETFL);

        /* An O_PATH fd grants no access to reopen with. */
        if (have >= 0 && !(have & O_PATH) && access_covers(have, c->flags) && !(c->flags & (O_CREAT | O_TRUNC)))
                return 0;
        close(c->newfd);
        c->newfd = -1;
        return -EACCES;
}

/* Reads of the direct set (the loader's ld.so.cache and libraries, /proc,
 * /usr) never reach the policy, as in preload mode where the shim opens
 * them itself.  Other opens there (writing /dev/null, /dev/tty) go to the
 * policy first, and to Landlock if the policy has no rule for them. */
static int act_open(struct sc_call *c)
{
        struct oh_verdict v = {};
        bool direct = sc_direct_eligible(c);
        int fd;

        if (c->newfd >= 0)
                return reuse_own_fd(c);
        /* O_PATH opens are the kernel's to make, as the shim leaves them
         * in preload mode: ADDFD cannot install an O_PATH file (the
         * kernel's fget() refuses it), Landlock does not govern O_PATH,
         * and an O_PATH fd reads, writes and changes nothing -- every use
         * of it as a base (openat, fchdir then open, /proc/self/fd) is
         * notified and decided on the path it names.  So a walk from /
         * with O_PATH (rsync, openat-based tools) works as without
         * openhook.  The flags of open() and openat() are registers the
         * program cannot change after this; openat2() keeps them in
         * memory and is answered ENOSYS for O_PATH (fetch_how). */
        if (c->flags & O_PATH) {
                c->cont = true;
                return 0;
        }
        if (direct && read_only(c->flags)) {
                c->cont = true;
                return 0;
        }
        fd = oh_do_open(c->sv->policy, c->path[0], c->flags, c->mode, &v);
        if (fd < 0 && v.denied && direct) {
                c->cont = true;
                return 0;
        }
        sc_log(c, OPENHOOK_CMD_OPEN, fd, &v);
        if (fd < 0)
                return fd;
        c->newfd = fd;
        return 0;
}

static int act_mkdir(struct sc_call *c)
{
        struct oh_verdict v = {};
        int r;

        c->mode &= 01777;
        r = oh_do_mkdir(c->sv->policy, c->path[0], c->mode, &v);
        sc_log(c, OPENHOOK_CMD_MKDIR, r, &v);
        return r;
}

/* A regular file made with mknod is a create like open(O_CREAT|O_EXCL);
 * FIFOs, sockets and devices have no letter in the policy. */
static int act_mknod(struct sc_call *c)
{
        struct oh_verdict v = {};
        uint32_t type = c->mode & S_IFMT;
        int fd;

        if (type != 0 && type != S_IFREG)
                return -EPERM;
        c->flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC;
        c->mode &= 07777;
        fd = oh_do_open(c->sv->policy, c->path[0], c->flags, c->mode, &v);
        sc_log(c, OPENHOOK_CMD_OPEN, fd, &v);
        if (fd < 0)
                return fd;
        close(fd);
        return 0;
}

static int act_rmdir(struct sc_call *c)
{
        struct oh_verdict v = {};
        int r = oh_do_rmdir(c->sv->policy, c->path[0], &v);

        sc_log(c, OPENHOOK_CMD_RMDIR, r, &v);
        return r;
}

static int act_unlink(struct sc_call *c)
{
        struct oh_verdict v = {};
        int r;

        if (c->flags & ~(uint32_t)AT_REMOVEDIR)
                return -EINVAL;
        if (c->flags & AT_REMOVEDIR)
                return act_rmdir(c);
        r = oh_do_unlink(c->sv->policy, c->path[0], &v);
        sc_log(c, OPENHOOK_CMD_UNLINK, r, &v);
        return r;
}

static int act_rename(struct sc_call *c)
{
        struct oh_verdict v = {};
        int r = oh_do_rename(c->sv->policy, c->path[0], c->path[1], c->flags, &v);

        sc_log(c, OPENHOOK_CMD_RENAME, r, &v);
        return r;
}

static int act_symlink(struct sc_call *c)
{
        struct oh_verdict v = {};
        int r = oh_do_symlink(c->sv->policy, c->path[0], c->path[1], &v);

        sc_log(c, OPENHOOK_CMD_SYMLINK, r, &v);
        return r;
}

/* link(2) never follows a final symlink; linkat's AT_SYMLINK_FOLLOW and
 * AT_EMPTY_PATH name a file by something other than a path the policy
 * could judge (often an O_TMPFILE fd), so they are not supported. */
static int act_link(struct sc_call *c)
{
        struct oh_verdict v = {};
        int r;

        if (c->flags & ~(uint32_t)(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH))
                return -EINVAL;
        if (c->flags)
                return -EOPNOTSUPP;
        r = oh_do_link(c->sv->policy, c->path[0], c->path[1], &v);
        sc_log(c, OPENHOOK_CMD_LINK, r, &v);
        return r;
}

static int act_truncate(struct sc_call *c)
{
        struct oh_verdict v = {};
        int r;

        if ((int64_t)c->length < 0)
                return -EINVAL;
        r = oh_do_truncate(c->sv->policy, c->path[0], c->length, &v);
        sc_log(c, OPENHOOK_CMD_TRUNCATE, r, &v);
        return r;
}

/* AT_EMPTY_PATH means something only with an empty path, which fetch()
 * already answered ENOENT: the fd form by path is not offered. */
static int act_chmod(struct sc_call *c)
{
        struct oh_verdict v = {};
        int r;

        c->flags &= ~(uint32_t)AT_EMPTY_PATH;
        r = oh_do_chmod(c->sv->policy, c->path[0], c->mode, c->flags, &v);
        sc_log(c, OPENHOOK_CMD_CHMOD, r, &v);
        return r;
}

static int act_utimens(struct sc_call *c)
{
        struct oh_verdict v = {};
        int r;

        if (c->fd_form)
                return sc_act_futimens(c);

        c->flags &= ~(uint32_t)AT_EMPTY_PATH;
        r = oh_do_utimens(c->sv->policy, c->path[0], c->times, c->flags, &v);
        sc_log(c, OPENHOOK_CMD_UTIMENS, r, &v);
        return r;
}

/* Whether Landlock lets the program execute PATH: the direct set (its
 * files are read and executed), an x rule, or under --learn anything. */
static bool executable(const struct sc_supervisor *sv, const char *path)
{
        char plain[PATH_MAX];

        lexical(path, plain);
        return direct_covers(sv, plain[0] ? plain : "/") ||
               (oh_policy_letters(sv->policy, path) & OPENHOOK_PERM_X);
}

/* The kernel runs the program (CONTINUE: Landlock checks the file it
 * actually reaches, whatever the path says by then).  One that Landlock
 * will refuse is refused here already, with the --allow x: that would
 * allow it; a missing one is the kernel's to answer.  Under --learn
 * (OPENHOOK_LEARN_EXEC, Landlock lets anything run) a program outside the
 * direct set is logged, to be learned as an x rule. */
static int act_exec(struct sc_call *c)
{
        _cleanup_free_ char *real = NULL;
        struct oh_verdict v = { .denied = 1 };

        c->cont = true;
        if (c->sv->n_direct == 0)
                return 0;       /* no Landlock under the program (--unconfined) */
        /* The path as given first: the common case (the direct set)
         * needs no realpath(), a readlink() a component, while the
         * program waits. */
        if (executable(c->sv, c->path[0]))
                return 0;
        real = realpath(c->path[0], NULL);
        if (!real || executable(c->sv, real))
                return 0;
        snprintf(c->path[0], sizeof c->path[0], "%s", real);
        if (c->sv->flags & OH_SECCOMP_LEARN_EXEC) {
                v.denied = 0;
                sc_log(c, OPENHOOK_DECISION_EXEC, 0, &v);
                return 0;
        }
        c->cont = false;
        oh_policy_hint(c->sv->policy, real, OPENHOOK_PERM_X, v.hint, sizeof v.hint);
        sc_log(c, OPENHOOK_DECISION_EXEC, -EACCES, &v);
        return -EACCES;
}

/* ---- Answering ---------------------------------------------------------- */

/* ADDFD with SEND installs the fd and completes the syscall with its number
 * in one step, so the fd can never land in the task without the syscall
 * returning it.  ENOENT: the task was killed or the call interrupted --
 * nothing to answer, and nothing was installed anywhere. */
static int inject(const struct sc_call *c, int *ret_installed)
{
        struct seccomp_notif_addfd addfd = {
                .id = c->req->id,
                .flags = SECCOMP_ADDFD_FLAG_SEND,
                .srcfd = (uint32_t)c->newfd,
                .newfd_flags = (c->flags & O_CLOEXEC) ? O_CLOEXEC : 0,
        };
        int r = ioctl(c->sv->listener, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd);

        if (r >= 0) {
                *ret_installed = 1;
                return 0;
        }
        *ret_installed = 0;
        return errno == ENOENT ? 0 : oh_negerrno();
}

void sc_respond(int listener, uint64_t id, int64_t result)
{
        struct seccomp_notif_resp resp = {
                .id = id,
                .val = result >= 0 ? result : 0,
                .error = result < 0 ? (int32_t)result : 0,
        };

        /* Fails only when the task is gone or its call was interrupted. */
        (void)ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
}

static void answer(const struct sc_call *c, int result, struct seccomp_notif_resp *resp)
{
        int installed = 0;

        if (c->answered)
                return;

        if (c->newfd >= 0) {
                result = inject(c, &installed);
                if (installed || result == 0)
                        return;
                /* e.g. EMFILE from the task's fd table: the syscall fails. */
        }
        memset(resp, 0, sizeof *resp);
        resp->id = c->req->id;
        if (c->cont)
                resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        else
                resp->error = result < 0 ? result : 0;
        /* Fails only when the task is gone or its call was interrupted. */
        (void)ioctl(c->sv->listener, SECCOMP_IOCTL_NOTIF_SEND, resp);
}

static const struct sc_syscall *lookup(const struct sc_supervisor *sv, uint32_t arch, int nr)
{
        for (size_t i = 0; i < sv->n_map; i++)
                if (sv->map[i].arch == arch && sv->map[i].nr == nr)
                        return sv->map[i].sys;
        return NULL;
}

static void warn_unreadable(struct sc_supervisor *sv, const struct seccomp_notif *req, int r)
{
        if (sv->warned_read || (r != -EPERM && r != -EACCES))
                return;
        sv->warned_read = true;
        fprintf(stderr, "openhook: cannot read the arguments of pid %u: %s (is the broker allowed to trace it?)\n",
                req->pid, strerror(-r));
}

/* Decided and done under one policy, the server's when there is one: a
 * reload waits for the notification as for a request. */
static int act(struct sc_call *c)
{
        struct sc_supervisor *sv = c->sv;
        int r;

        if (!sv->server)
                return c->sys->act(c);
        sv->policy = oh_server_policy_get(sv->server);
        r = c->sys->act(c);
        oh_server_policy_put(sv->server);
        return r;
}

/* What fetch() and the act hold that no worker thread took over. */
static void call_done(struct sc_call *c)
{
        if (c->newfd >= 0)
                close(c->newfd);
        if (c->fd >= 0)
                close(c->fd);
        if (c->op && c->op_free)
                c->op_free(c->op);
        else
                free(c->op);
}

static void handle(struct sc_supervisor *sv, const struct seccomp_notif *req, struct seccomp_notif_resp *resp)
{
        struct sc_call c = {
                .sv = sv,
                .req = req,
                .sys = lookup(sv, req->data.arch, req->data.nr),
                .compat = req->data.arch != sv->native_arch,
                .newfd = -1,
                .fd = -1,
        };
        int r;

        if (!c.sys) {
                r = -ENOSYS;
        } else {
                r = fetch(&c);
                warn_unreadable(sv, req, r);
                /* Whatever was read came from this task only if the task is
                 * still waiting for this very notification. */
                if (ioctl(sv->listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &req->id) < 0) {
                        /* fetch() may hold duplicates of its fds. */
                        call_done(&c);
                        return;
                }
                if (r >= 0)
                        r = act(&c);
        }
        answer(&c, r, resp);
        call_done(&c);
}

/* ---- Setup ------------------------------------------------------------ */

static uint32_t compat_arch(uint32_t native)
{
        return native == SCMP_ARCH_X86_64 ? SCMP_ARCH_X86 : 0;
}

static void map_arch(struct sc_supervisor *sv, uint32_t arch)
{
        for (size_t i = 0; i < ELEMENTSOF(syscalls) && sv->n_map < ELEMENTSOF(sv->map); i++) {
                int nr = seccomp_syscall_resolve_name_arch(arch, syscalls[i].name);

                if (nr < 0)
                        continue;
                sv->map[sv->n_map++] = (struct sc_nr) { .arch = arch, .nr = nr, .sys = &syscalls[i] };
        }
}

/* OPENHOOK_DIRECT: colon-separated absolute prefixes (see sc_direct_eligible()). */
static int parse_direct(struct sc_supervisor *sv)
{
        const char *env = getenv("OPENHOOK_DIRECT");
        char *save = NULL;

        if (!env || !*env)
                return 0;
        sv->direct_buf = strdup(env);
        if (!sv->direct_buf)
                return -ENOMEM;
        for (char *t = strtok_r(sv->direct_buf, ":", &save); t; t = strtok_r(NULL, ":", &save)) {
                size_t n = strlen(t);

                if (t[0] != '/' || sv->n_direct >= ELEMENTSOF(sv->direct))
                        continue;
                while (n > 0 && t[n - 1] == '/')
                        t[--n] = '\0';   /* "/" becomes "": every path */
                sv->direct[sv->n_direct++] = t;
        }
        return 0;
}

/* Receives one notification; 1 when one was handled, 0 when there is
 * nothing to do (interrupted), -errno on failure. */
static int serve_one(struct sc_supervisor *sv, struct seccomp_notif *req, struct seccomp_notif_resp *resp)
{
        /* The kernel takes only a zeroed buffer. */
        memset(req, 0, sv->req_size);
        if (ioctl(sv->listener, SECCOMP_IOCTL_NOTIF_RECV, req) < 0) {
                /* ENOENT: the task was interrupted between poll() and
                 * here. */
                if (errno == ENOENT || errno == EINTR)
                        return 0;
                return oh_negerrno();
        }
        handle(sv, req, resp);
        return 1;
}

/* Worker threads (seccomp_sockets.c) end soon once no task is left, as
 * their calls then fail; one blocked for good (a peer that never accepts)
 * is left behind with the counter, while the broker goes on to exit. */
static void wait_workers(struct sc_supervisor *sv)
{
        for (int i = 0; i < 2000 && atomic_load(sv->workers) > 0; i++)
                nanosleep(&(struct timespec) { .tv_nsec = 1000000 }, NULL);
        if (atomic_load(sv->workers) == 0)
                free(sv->workers);
}

void oh_seccomp_supervisor_free(struct sc_supervisor *sv)
{
        if (!sv)
                return;
        if (sv->workers)
                wait_workers(sv);
        free(sv->req);
        free(sv->resp);
        free(sv->direct_buf);
        free(sv);
}

/* The buffers for one notification and its answer, as large as this
 * kernel's structures, which may have grown past our headers.  Asked
 * directly: libseccomp's seccomp_notify_alloc() first probes the kernel's
 * whole API (ten seccomp() calls, five of them faulting on a NULL
 * pointer), on the way to the command's first call. */
static int notif_alloc(struct sc_supervisor *sv)
{
        struct seccomp_notif_sizes sizes;

        if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0)
                return oh_negerrno();
        sv->req_size = sizes.seccomp_notif > sizeof *sv->req ? sizes.seccomp_notif : sizeof *sv->req;
        sv->req = calloc(1, sv->req_size);
        sv->resp = calloc(1, sizes.seccomp_notif_resp > sizeof *sv->resp ? sizes.seccomp_notif_resp
                                                                          : sizeof *sv->resp);
        return sv->req && sv->resp ? 0 : -ENOMEM;
}

int oh_seccomp_supervisor_new(const struct oh_supervise_args *args, struct sc_supervisor **ret)
{
        struct sc_supervisor *sv = calloc(1, sizeof(*sv));
        int r;

        if (!sv)
                return -ENOMEM;
        *sv = (struct sc_supervisor) {
                .listener = -1,
                .connector = -1,
                .ready_fd = -1,
                .native_arch = seccomp_arch_native(),
                .flags = args->flags,
                .server = args->server,
                .policy = args->policy,
                .log = args->log,
                .userdata = args->userdata,
        };
        sv->workers = calloc(1, sizeof(*sv->workers));
        r = sv->workers ? parse_direct(sv) : -ENOMEM;
        if (r >= 0) {
                map_arch(sv, sv->native_arch);
                if (compat_arch(sv->native_arch))
                        map_arch(sv, compat_arch(sv->native_arch));
                r = notif_alloc(sv);
        }
        if (r < 0) {
                oh_seccomp_supervisor_free(sv);
                return r;
        }
        *ret = sv;
        return 0;
}

int oh_seccomp_supervisor_run(struct sc_supervisor *sv, int listener, int connector)
{
        int r;

        sv->listener = listener;
        sv->connector = connector;
        /* A notification then wakes us on the program's CPU, and an
         * answer the program on ours (Linux 6.6; older kernels refuse the
         * flag, and wake-ups go as they did): the program waits while we
         * decide, so a round trip is a hand-over on one CPU, not two
         * wake-ups of an idle one.  On our VM, `run -- /bin/true`, whose
         * loader makes four notified calls, took 0.88x bwrap's time with
         * it against 1.01x without (bench (e), side by side). */
        (void)ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
        /* A program's next path syscall usually follows within
         * microseconds: poll for it a while (spin.h) before sleeping. */
        struct oh_poller poller = {};
        for (;;) {
                struct pollfd p[2] = {
                        { .fd = listener, .events = POLLIN },
                        { .fd = sv->ready_fd, .events = POLLIN },
                };

                int n = poll(p, sv->ready_fd >= 0 ? 2 : 1, oh_poller_timeout(&poller));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return oh_negerrno();
                }
                if (n == 0)
                        continue;
                oh_poller_woke(&poller);
                if (sv->ready_fd >= 0 && p[1].revents) {
                        /* A hang-up needs nothing (end of file is POLLIN
                         * too): what came before it is still there. */
                        sv->ready_fd = -1;
                        r = p[1].revents == POLLIN ? sv->ready_fn(sv->ready_data) : 0;
                        if (r < 0)
                                return r;
                }
                if (p[0].revents & POLLNVAL)
                        return -EBADF;
                if (!p[0].revents)
                        continue;
                if (p[0].revents & POLLIN) {
                        r = serve_one(sv, sv->req, sv->resp);
                        if (r < 0)
                                return r;
                        oh_poller_start(&poller);
                        continue;
                }
                /* POLLHUP: the last task using the filter has exited. */
                return 0;
        }
}

void oh_seccomp_supervisor_on_ready(struct sc_supervisor *sv, int fd, int (*fn)(void *data), void *data)
{
        sv->ready_fd = fd;
        sv->ready_fn = fn;
        sv->ready_data = data;
}

int oh_seccomp_supervise(const struct oh_supervise_args *args)
{
        struct sc_supervisor *sv;
        int r = oh_seccomp_supervisor_new(args, &sv);

        if (r < 0)
                return r;
        r = oh_seccomp_supervisor_run(sv, args->listener, args->connector);
        oh_seccomp_supervisor_free(sv);
        return r;
}

static void filter_releasep(scmp_filter_ctx *ctx)
{
        if (*ctx)
                seccomp_release(*ctx);
}

/* Path metadata syscalls newer than libseccomp 2.5 knows by name, refused
 * (EPERM) by number.  Numbers from 403 up are the same for x86_64 and i386
 * (and every other architecture but alpha and mips, which offset them). */
static const uint32_t refused_numbers[] = {
        463,    /* setxattrat */
        466,    /* removexattrat */
        469,    /* file_setattr: inode flags, project id */
};

#define REFUSED_PREFIX_LEN (ELEMENTSOF(refused_numbers) + 6)

/* The refusals by number go in front of libseccomp's program, which
 * starts by loading the architecture itself, so it is entered as if
 * alone: one filter where two would be run on every syscall the program
 * makes (and each costs its own load).  Another architecture's numbers
 * mean other syscalls: those go straight to libseccomp's checks. */
static void refused_prefix(struct sock_filter *prog)
{
        uint32_t native = seccomp_arch_native(), compat = compat_arch(native);
        size_t n = ELEMENTSOF(refused_numbers), k = 0;

        prog[k++] = (struct sock_filter) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
        prog[k++] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, native, 1, 0);
        prog[k++] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, compat ? compat : native, 0,
                                                  (uint8_t)(n + 3));
        prog[k++] = (struct sock_filter) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
        for (size_t i = 0; i < n; i++)
                prog[k++] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, refused_numbers[i],
                                                          (uint8_t)(n - i), 0);
        prog[k++] = (struct sock_filter) BPF_STMT(BPF_JMP | BPF_JA, 1);
        prog[k++] = (struct sock_filter) BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
}

/* libseccomp 2.5 exports only to an fd. */
int oh_seccomp_export(void *ctx, const struct sock_filter *prefix, size_t n_prefix, struct oh_seccomp_filter *ret)
{
        _cleanup_close_ int mfd = memfd_create("openhook-seccomp", MFD_CLOEXEC);
        _cleanup_free_ struct sock_filter *insns = NULL;
        const off_t insn = sizeof *insns;
        off_t size;
        int r;

        if (mfd < 0)
                return oh_negerrno();
        r = seccomp_export_bpf(ctx, mfd);
        if (r < 0)
                return r;
        size = lseek(mfd, 0, SEEK_END);
        if (size <= 0 || size % insn != 0 || size / insn + (off_t)n_prefix > BPF_MAXINSNS)
                return -EINVAL;
        insns = calloc(n_prefix + (size_t)(size / insn), insn);
        if (!insns)
                return -ENOMEM;
        if (n_prefix)
                memcpy(insns, prefix, n_prefix * sizeof *insns);
        if (pread(mfd, insns + n_prefix, (size_t)size, 0) != size)
                return -EIO;
        ret->insns = TAKE_PTR(insns);
        ret->len = (unsigned short)(n_prefix + size / insn);
        return 0;
}

/* Loaded here, not by libseccomp, which (2.5) cannot ask for
 * SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV.  With the flag, a notification
 * the supervisor has received is only interrupted by a fatal signal: an
 * ordinary signal (SIGCHLD, a timer, Go's preemption SIGURG) can no longer
 * make a create the broker has already done look failed to the program,
 * nor make it repeat a mkdir or an O_EXCL open into EEXIST.  The
 * listener comes O_CLOEXEC from the kernel. */
static int load_program(const struct oh_seccomp_filter *f)
{
        struct sock_fprog prog = { .len = f->len, .filter = f->insns };
        long r;

        if (f->flags & OH_SECCOMP_NO_LISTENER)
                return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0 ? oh_negerrno() : 0;
        r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                    SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, &prog);
        if (r < 0 && errno == EINVAL)   /* a kernel before 5.19: without the flag */
                r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
        return r < 0 ? oh_negerrno() : (int)r;
}

/* Adds ACTION for syscall NAME when ARGS (0..2 conditions) hold.
 * -EDOM/-EINVAL: a pseudo number for a syscall this architecture lacks,
 * added only where it exists or not at all. */
static int add_rule(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned n,
                    const struct scmp_arg_cmp *args)
{
        int nr = seccomp_syscall_resolve_name(name), r;

        if (nr == __NR_SCMP_ERROR)
                return 0;
        r = seccomp_rule_add_array(ctx, action, nr, n, args);
        if (r < 0 && r != -EDOM && !(nr < 0 && r == -EINVAL))
                return r;
        return 0;
}

/* The request numbers of ioctl that are notified: the kernel compares
 * only the low 32 bits (CVE-2019-10063: TIOCSTI with high bits set), so
 * the filter does too. */
static int add_ioctl_rules(scmp_filter_ctx ctx, uint32_t action)
{
        int r = 0;

        for (size_t i = 0; r >= 0 && i < sc_n_ioctls; i++) {
                struct scmp_arg_cmp cmp = SCMP_A1(SCMP_CMP_MASKED_EQ, UINT32_MAX, sc_ioctls[i]);

                r = add_rule(ctx, action, "ioctl", 1, &cmp);
        }
        return r;
}

/* What the filter does with SYS on an architecture: notify, refuse with
 * its fallback errno, or (0) leave it alone. */
static uint32_t action_for(const struct sc_syscall *sys, unsigned int flags, bool compat)
{
        bool notify = (sys->opts & SC_ALWAYS) || (flags & OH_SECCOMP_OPENS);

        if ((sys->opts & SC_NO_NETWORK) && !(flags & OH_SECCOMP_NO_NETWORK))
                return 0;
        if (!notify)
                return sys->opts & SC_PATH_META ? SCMP_ACT_ERRNO(EPERM) : 0;
        if ((flags & OH_SECCOMP_NO_LISTENER) || (compat && (sys->opts & SC_NATIVE)))
                return sys->fallback ? SCMP_ACT_ERRNO((uint32_t)sys->fallback) : 0;
        return SCMP_ACT_NOTIFY;
}

/* With OH_SECCOMP_MARK, open() and openat() are notified unless marked
 * read-only (lib/open_mark.h): any of these rules notifies, a call that
 * matches none is let through.  The flags are a register, fixed when the
 * call stopped. */
static int add_open_rules(scmp_filter_ctx ctx, const struct sc_syscall *sys)
{
        static const uint32_t notify_bits[] = {
                O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_PATH, 020000000 /* __O_TMPFILE */,
        };
        unsigned int a = (unsigned int)sys->flags_arg;
        struct scmp_arg_cmp cmp = SCMP_CMP(a, SCMP_CMP_MASKED_EQ, OH_OPEN_MARK, 0);
        int r = add_rule(ctx, SCMP_ACT_NOTIFY, sys->name, 1, &cmp);

        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(notify_bits); i++) {
                cmp = (struct scmp_arg_cmp) SCMP_CMP(a, SCMP_CMP_MASKED_EQ, notify_bits[i], notify_bits[i]);
                r = add_rule(ctx, SCMP_ACT_NOTIFY, sys->name, 1, &cmp);
        }
        return r;
}

/* A NULL path of a SC_NULL_PATH_IS_FD call is the fd form (futimens),
 * which changes metadata through an fd: notified in every mode.  The
 * filter compares the pointer, a register fixed when the call stopped. */
static int add_syscall(scmp_filter_ctx ctx, const struct sc_syscall *sys, unsigned int flags, bool compat)
{
        uint32_t action = action_for(sys, flags, compat);
        bool conditions = !(compat && (sys->opts & SC_NATIVE)) && action == SCMP_ACT_NOTIFY;
        struct scmp_arg_cmp cmp;

        if (sys->opts & SC_NULL_PATH_IS_FD) {
                uint32_t fd_action = flags & OH_SECCOMP_NO_LISTENER ? SCMP_ACT_ERRNO(EPERM) : SCMP_ACT_NOTIFY;
                unsigned int a = (unsigned int)sys->p[0].path;
                struct scmp_arg_cmp null = SCMP_CMP(a, SCMP_CMP_EQ, 0, 0);
                int r = add_rule(ctx, fd_action, sys->name, 1, &null);

                cmp = (struct scmp_arg_cmp) SCMP_CMP(a, SCMP_CMP_NE, 0, 0);
                return r < 0 || !action ? r : add_rule(ctx, action, sys->name, 1, &cmp);
        }
        if (!action)
                return 0;
        if (conditions && (flags & OH_SECCOMP_MARK) && sys->act == act_open && sys->flags_arg != ARG_NONE &&
            sys->fixed_flags == 0)
                return add_open_rules(ctx, sys);
        if (conditions && (sys->opts & SC_IOCTL))
                return add_ioctl_rules(ctx, action);
        if (sys->opts & SC_IOCTL)
                return 0;       /* refusing every ioctl is not the fallback meant */
        if (conditions && (sys->opts & SC_ADDR_ARG4)) {
                cmp = (struct scmp_arg_cmp) SCMP_A4(SCMP_CMP_NE, 0);
                return add_rule(ctx, action, sys->name, 1, &cmp);
        }
        if (conditions && (sys->opts & SC_PATH_ONLY)) {
                cmp = (struct scmp_arg_cmp) SCMP_CMP((unsigned int)sys->flags_arg, SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, 0);
                return add_rule(ctx, action, sys->name, 1, &cmp);
        }
        if (conditions && (sys->opts & SC_NOT_UNIX)) {
                cmp = (struct scmp_arg_cmp) SCMP_A0(SCMP_CMP_NE, AF_UNIX);
                return add_rule(ctx, action, sys->name, 1, &cmp);
        }
        return add_rule(ctx, action, sys->name, 0, NULL);
}

static int add_rules(scmp_filter_ctx ctx, unsigned int flags, bool compat)
{
        int r = 0;

        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(syscalls); i++)
                r = add_syscall(ctx, &syscalls[i], flags, compat);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(refused); i++)
                if ((flags & OH_SECCOMP_OPENS) || refused[i].every_mode)
                        r = add_rule(ctx, SCMP_ACT_ERRNO((uint32_t)refused[i].error), refused[i].name, 0, NULL);
        return r;
}

/* A filter for ARCH alone, allowing everything by default.  A syscall
 * from an architecture no filter knows (arm on an arm64 host, x32 numbers
 * on x86_64) is never let through unfiltered. */
static int filter_new(uint32_t arch, unsigned int flags, scmp_filter_ctx *ret)
{
        __attribute__((cleanup(filter_releasep))) scmp_filter_ctx ctx = NULL;
        int r;

        ctx = seccomp_init(SCMP_ACT_ALLOW);
        if (!ctx)
                return -ENOMEM;
        r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
        if (r < 0)
                return r;
        if (arch != seccomp_arch_native()) {
                r = seccomp_arch_add(ctx, arch);
                if (r < 0 && r != -EEXIST)
                        return r;
                r = seccomp_arch_remove(ctx, SCMP_ARCH_NATIVE);
                if (r < 0)
                        return r;
        }
        r = add_rules(ctx, flags, arch != seccomp_arch_native());
        if (r < 0)
                return r;
        *ret = TAKE_PTR(ctx);
        return 0;
}

/* The native architecture and its 32-bit twin: i386 syscalls (int $0x80)
 * from a 64-bit or 32-bit program reach the same files, so they get the
 * same rules, built apart because some are native only (SC_NATIVE). */
static int filter_build(unsigned int flags, scmp_filter_ctx *ret)
{
        __attribute__((cleanup(filter_releasep))) scmp_filter_ctx ctx = NULL;
        uint32_t compat = compat_arch(seccomp_arch_native());
        int r;

        r = filter_new(seccomp_arch_native(), flags, &ctx);
        if (r < 0)
                return r;
        if (compat) {
                scmp_filter_ctx twin = NULL;

                r = filter_new(compat, flags, &twin);
                if (r < 0)
                        return r;
                r = seccomp_merge(ctx, twin);   /* takes TWIN, also on failure */
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(ctx);
        return 0;
}

int oh_seccomp_build(unsigned int flags, struct oh_seccomp_filter *ret)
{
        __attribute__((cleanup(filter_releasep))) scmp_filter_ctx ctx = NULL;
        struct sock_filter prefix[REFUSED_PREFIX_LEN];
        int r = filter_build(flags, &ctx);

        *ret = (struct oh_seccomp_filter) { .flags = flags };
        if (r < 0)
                return r;
        refused_prefix(prefix);
        return oh_seccomp_export(ctx, prefix, ELEMENTSOF(prefix), ret);
}

void oh_seccomp_filter_done(struct oh_seccomp_filter *f)
{
        free(f->insns);
        *f = (struct oh_seccomp_filter) {};
}

int oh_seccomp_load(const struct oh_seccomp_filter *f)
{
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return oh_negerrno();
        return load_program(f);
}

int oh_seccomp_install(unsigned int flags)
{
        struct oh_seccomp_filter f;
        int r = oh_seccomp_build(flags, &f);

        if (r >= 0)
                r = oh_seccomp_load(&f);
        oh_seccomp_filter_done(&f);
        return r;
}

/* In a thread of its own (a filter binds only the thread that installs
 * it, and so does its no_new_privs, so the process is left as it was): a
 * listener of its own (a filter that allows everything), and an ADDFD with
 * SEND for a notification that does not exist.  A kernel that knows the
 * flag looks the notification up and answers ENOENT; before 5.14 the flag
 * (or, before 5.9, the ioctl, or before 5.0 the listener) is EINVAL.  No
 * fork: copying the process is most of what a probe by fork costs.
 * 0 or -errno. */
static int probe_listener(void)
{
        struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
        struct sock_fprog prog = { .len = 1, .filter = &allow };

        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return oh_negerrno();
        _cleanup_close_ int listener = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                                                    SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
        if (listener < 0)
                return oh_negerrno();
        struct seccomp_notif_addfd addfd = {
                .id = 1,
                .flags = SECCOMP_ADDFD_FLAG_SEND,
                .srcfd = (uint32_t)listener,
        };
        if (ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd) == 0)
                return -EIO;
        return errno == ENOENT ? 0 : errno == EINVAL ? -EOPNOTSUPP : errno == EPERM ? -EACCES : -errno;
}

/* The supervisor is the program's sibling, not its ancestor: under Yama's
 * ptrace_scope 1 or 2 only CAP_SYS_PTRACE (which the supervisor keeps if
 * we have it) lets it read the program's memory, and under 3 nothing. */
static int probe_yama(void)
{
        _cleanup_close_ int fd = open("/proc/sys/kernel/yama/ptrace_scope", O_RDONLY | O_CLOEXEC);
        char scope = '0';

        if (fd < 0 || read(fd, &scope, 1) != 1 || scope == '0')
                return 0;
        if (scope != '1' && scope != '2')
                return -EPERM;

        struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
        if (syscall(SYS_capget, &header, data) < 0)
                return oh_negerrno();
        return data[CAP_TO_INDEX(CAP_SYS_PTRACE)].effective & CAP_TO_MASK(CAP_SYS_PTRACE) ? 0 : -EPERM;
}

static void *probe_thread(void *arg)
{
        const struct oh_seccomp_probe *p = arg;

        if (p->beside)
                p->beside();

        int r = probe_yama();
        if (r >= 0)
                r = probe_listener();
        return (void *)(intptr_t)r;
}

/* Whether the kernel answers for itself, without a listener of our own:
 * Linux 5.14 and later has SECCOMP_ADDFD_FLAG_SEND wherever it has user
 * notification (SECCOMP_GET_ACTION_AVAIL), and with no filter around us
 * (PR_GET_SECCOMP) nothing can refuse the listener or its ioctls.  That
 * spares a thread, a filter compiled for it and its stack: the common
 * case.  Anything else is probed. */
static bool answers_for_itself(void)
{
        uint32_t notify = SECCOMP_RET_USER_NOTIF;
        unsigned int major, minor;
        struct utsname u;

        return prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == 0 &&
               syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &notify) == 0 &&
               uname(&u) == 0 && sscanf(u.release, "%u.%u", &major, &minor) == 2 &&
               (major > 5 || (major == 5 && minor >= 14));
}

void oh_seccomp_probe_start(struct oh_seccomp_probe *p)
{
        if (answers_for_itself()) {
                if (p->beside)
                        p->beside();
                p->result = probe_yama();
                return;
        }

        int r = -pthread_create(&p->thread, NULL, probe_thread, p);

        /* Without a thread there is no probe (it would confine this one). */
        p->result = r < 0 ? r : -EINPROGRESS;
}

int oh_seccomp_probe_finish(struct oh_seccomp_probe *p)
{
        void *r;

        if (p->result == -EINPROGRESS) {
                pthread_join(p->thread, &r);
                p->result = (int)(intptr_t)r;
        }
        return p->result;
}
