/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "seccomp_target.h"
#include "util.h"

/* Splits a remote read at the page boundary after ADDR: a string near the
 * end of a mapping is followed by an unmapped page, and process_vm_readv
 * only reports partial success per iovec element. */
static ssize_t read_split(pid_t tid, uint64_t addr, void *buf, size_t size)
{
        static size_t page;
        struct iovec local = { .iov_base = buf, .iov_len = size };
        struct iovec remote[2];
        size_t first;
        ssize_t n;

        if (page == 0)
                page = (size_t)sysconf(_SC_PAGESIZE);
        first = page - (size_t)(addr % page);
        if (first > size)
                first = size;
        remote[0] = (struct iovec) { .iov_base = (void *)(uintptr_t)addr, .iov_len = first };
        remote[1] = (struct iovec) { .iov_base = (void *)(uintptr_t)(addr + first), .iov_len = size - first };
        n = process_vm_readv(tid, &local, 1, remote, size > first ? 2 : 1, 0);
        return n < 0 ? oh_negerrno() : n;
}

int oh_target_read_string(pid_t tid, uint64_t addr, char *buf, size_t size)
{
        ssize_t n = read_split(tid, addr, buf, size);
        const char *nul;

        if (n < 0)
                return (int)n;
        nul = memchr(buf, '\0', (size_t)n);
        if (!nul)
                return (size_t)n == size ? -ENAMETOOLONG : -EFAULT;
        return (int)(nul - buf);
}

int oh_target_read(pid_t tid, uint64_t addr, void *buf, size_t size)
{
        ssize_t n = read_split(tid, addr, buf, size);

        if (n < 0)
                return (int)n;
        return (size_t)n == size ? 0 : -EFAULT;
}

int oh_target_status(pid_t tid, pid_t *ret_tgid, mode_t *ret_umask)
{
        char name[64], buf[4096];
        _cleanup_close_ int fd = -1;
        const char *tgid, *umask_line;
        ssize_t n;

        snprintf(name, sizeof name, "/proc/%d/status", (int)tid);
        fd = open(name, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? -ESRCH : oh_negerrno();
        /* Umask and Tgid are in the first lines; one read is enough. */
        n = read(fd, buf, sizeof buf - 1);
        if (n < 0)
                return oh_negerrno();
        buf[n] = '\0';
        tgid = strstr(buf, "\nTgid:");
        umask_line = strstr(buf, "\nUmask:");
        if (!tgid || !umask_line)
                return -EIO;
        if (ret_tgid)
                *ret_tgid = (pid_t)strtol(tgid + 6, NULL, 10);
        if (ret_umask)
                *ret_umask = (mode_t)strtoul(umask_line + 7, NULL, 8) & 0777;
        return 0;
}

/* A removed directory reads back as "PATH (deleted)", and a name built on
 * that could reach whatever now lives at PATH (or a directory really called
 * "x (deleted)"); the kernel finds nothing in it (ENOENT).  LINK is the magic
 * link, which stat() follows to the very inode the task holds.  Returns N or
 * -errno. */
static int base_is_live(const char *link, ssize_t n)
{
        struct stat st;

        if (stat(link, &st) < 0)
                return oh_negerrno();
        if (st.st_nlink == 0)
                return S_ISDIR(st.st_mode) ? -ENOENT : -ENOTDIR;
        return (int)n;
}

/* The directory a relative PATH starts from: the task's cwd or DIRFD. */
static int target_base(pid_t tid, int dirfd, char *out, size_t size)
{
        char link[64];
        ssize_t n;

        if (dirfd == AT_FDCWD)
                snprintf(link, sizeof link, "/proc/%d/cwd", (int)tid);
        else if (dirfd < 0)
                return -EBADF;
        else
                snprintf(link, sizeof link, "/proc/%d/fd/%d", (int)tid, dirfd);
        n = readlink(link, out, size);
        if (n < 0)
                return errno == ENOENT ? (dirfd == AT_FDCWD ? -ESRCH : -EBADF) : oh_negerrno();
        if ((size_t)n >= size)
                return -ENAMETOOLONG;
        out[n] = '\0';
        /* Sockets, pipes and anonymous inodes read as "socket:[N]": not a
         * directory the kernel could look a name up in. */
        if (out[0] != '/')
                return -ENOTDIR;
        return base_is_live(link, n);
}

/* Skips "/", "//" and "/./" and returns the next component (length in
 * *LEN), or NULL at the end. */
static const char *next_component(const char *p, size_t *len)
{
        for (;;) {
                while (*p == '/')
                        p++;
                if (p[0] == '.' && (p[1] == '/' || p[1] == '\0')) {
                        p++;
                        continue;
                }
                break;
        }
        if (*p == '\0')
                return NULL;
        *len = strcspn(p, "/");
        return p;
}

static bool component_is(const char *c, size_t len, const char *word)
{
        return c && len == strlen(word) && memcmp(c, word, len) == 0;
}

/* /proc/self means the broker when the broker looks it up; the program
 * meant itself. */
static int rewrite_proc_self(pid_t tid, char *path, size_t size)
{
        const char *c1, *c2;
        size_t l1 = 0, l2 = 0;
        char rest[4096], head[64];
        pid_t tgid;
        int r;

        c1 = next_component(path, &l1);
        if (!component_is(c1, l1, "proc"))
                return 0;
        c2 = next_component(c1 + l1, &l2);
        if (!component_is(c2, l2, "self") && !component_is(c2, l2, "thread-self"))
                return 0;
        r = oh_target_status(tid, &tgid, NULL);
        if (r < 0)
                return r;
        if (l2 == 4)
                snprintf(head, sizeof head, "/proc/%d", (int)tgid);
        else
                snprintf(head, sizeof head, "/proc/%d/task/%d", (int)tgid, (int)tid);
        if (snprintf(rest, sizeof rest, "%s", c2 + l2) >= (int)sizeof rest)
                return -ENAMETOOLONG;
        if (snprintf(path, size, "%s%s", head, rest) >= (int)size)
                return -ENAMETOOLONG;
        return 0;
}

int oh_target_abspath(pid_t tid, int dirfd, const char *path, char *out, size_t size)
{
        int n, r;

        if (path[0] == '\0')
                return -ENOENT;
        if (path[0] == '/') {
                if (strlen(path) >= size)
                        return -ENAMETOOLONG;
                strcpy(out, path);
        } else {
                n = target_base(tid, dirfd, out, size);
                if (n < 0)
                        return n;
                if (snprintf(out + n, size - (size_t)n, "%s%s", n > 1 ? "/" : "", path) >= (int)(size - (size_t)n))
                        return -ENAMETOOLONG;
        }
        r = rewrite_proc_self(tid, out, size);
        if (r < 0)
                return r;
        return (int)strlen(out);
}

/* Reads a decimal number at *S and advances past it; -1 if none. */
static int parse_number(const char **s)
{
        long v = 0;
        const char *p = *s;

        if (*p < '0' || *p > '9')
                return -1;
        while (*p >= '0' && *p <= '9' && v < INT32_MAX / 10)
                v = v * 10 + (*p++ - '0');
        if (*p >= '0' && *p <= '9')
                return -1;
        *s = p;
        return (int)v;
}

/* "/proc/TGID" or "/proc/TGID/task/TID" of task TID itself: returns what
 * follows, or NULL.  *OWNER becomes the task whose fd table the kernel
 * would look in: the leader's, or TID's for its task directory. */
static const char *own_proc_dir(pid_t tid, pid_t tgid, const char *p, pid_t *owner)
{
        if (strncmp(p, "/proc/", 6) != 0)
                return NULL;
        p += 6;
        if (parse_number(&p) != (int)tgid)
                return NULL;
        *owner = tgid;
        if (strncmp(p, "/task/", 6) == 0) {
                const char *q = p + 6;

                if (parse_number(&q) != (int)tid)
                        return NULL;
                *owner = tid;
                p = q;
        }
        return p;
}

int oh_target_own_fd(pid_t tid, const char *path, const char **rest, pid_t *owner)
{
        static const char *const std_names[] = { "/dev/stdin", "/dev/stdout", "/dev/stderr" };
        const char *p = NULL;
        pid_t tgid;
        int n;

        /* Cheap tests first: /dev/null and /proc/cpuinfo need no status. */
        if (strncmp(path, "/dev/std", 8) != 0 && strncmp(path, "/dev/fd/", 8) != 0 &&
            !(strncmp(path, "/proc/", 6) == 0 && path[6] >= '0' && path[6] <= '9'))
                return -1;
        /* /dev/stdin and /dev/fd are links to /proc/self/fd: the leader's. */
        if (oh_target_status(tid, &tgid, NULL) < 0)
                return -1;
        *owner = tgid;
        for (n = 0; n < 3; n++)
                if (strcmp(path, std_names[n]) == 0) {
                        *rest = path + strlen(path);
                        return n;
                }
        if (strncmp(path, "/dev/fd/", 8) == 0)
                p = path + 8;
        else if ((p = own_proc_dir(tid, tgid, path, owner)) && strncmp(p, "/fd/", 4) == 0)
                p += 4;
        else
                return -1;
        n = parse_number(&p);
        if (n < 0 || (*p != '/' && *p != '\0'))
                return -1;
        *rest = p;
        return n;
}

int oh_target_fd_path(pid_t tid, int n, char *out, size_t size)
{
        char link[64];
        ssize_t len;

        snprintf(link, sizeof link, "/proc/%d/fd/%d", (int)tid, n);
        len = readlink(link, out, size);
        if (len < 0)
                return errno == ENOENT ? -ENOENT : oh_negerrno();
        if ((size_t)len >= size)
                return -ENAMETOOLONG;
        out[len] = '\0';
        return (int)len;
}

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

/* A thread cloned without CLONE_FILES has an fd table of its own: the
 * pidfd must name TID itself (PIDFD_THREAD, Linux 6.9), not its leader. */
static int target_pidfd(pid_t tid)
{
        pid_t tgid;
        int fd, r;

        fd = (int)syscall(SYS_pidfd_open, tid, PIDFD_THREAD);
        if (fd >= 0 || errno != EINVAL)
                return fd < 0 ? oh_negerrno() : fd;
        r = oh_target_status(tid, &tgid, NULL);
        if (r < 0)
                return r;
        /* Older kernels: the leader's table, the right one unless TID
         * was cloned without CLONE_FILES. */
        fd = (int)syscall(SYS_pidfd_open, tgid, 0);
        return fd < 0 ? oh_negerrno() : fd;
}

int oh_target_dup_fd(pid_t tid, int n)
{
        _cleanup_close_ int pidfd = -1;
        int fd;

        pidfd = target_pidfd(tid);
        if (pidfd < 0)
                return pidfd;
        fd = (int)syscall(SYS_pidfd_getfd, pidfd, n, 0);
        return fd < 0 ? (errno == EBADF ? -ENOENT : oh_negerrno()) : fd;
}

int oh_target_write(pid_t tid, uint64_t addr, const void *buf, size_t size)
{
        struct iovec local = { .iov_base = (void *)buf, .iov_len = size };
        struct iovec remote = { .iov_base = (void *)(uintptr_t)addr, .iov_len = size };
        ssize_t n = process_vm_writev(tid, &local, 1, &remote, 1, 0);

        if (n < 0)
                return oh_negerrno();
        return (size_t)n == size ? 0 : -EFAULT;
}
