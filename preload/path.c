/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Making a program's path absolute before asking the broker.
 *
 * The broker resolves paths in its own process, so every name whose meaning
 * depends on the caller is settled here: the cwd, a dirfd (through
 * /proc/self/fd/N), and the names that mean "this process" (/proc/self,
 * /proc/thread-self, /proc/<own pid>, /dev/fd/N, /dev/std*).  Nothing here
 * allocates: it runs on every brokered call. */
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shim.h"
#include "util.h"

/* "/proc/self/fd/" plus the decimal fd, without stdio. */
static void proc_fd_link(int fd, char out[32])
{
        static const char prefix[] = "/proc/self/fd/";
        char digits[12];
        size_t n = 0;
        unsigned int v = (unsigned int) fd;

        do {
                digits[n++] = (char) ('0' + v % 10);
                v /= 10;
        } while (v);
        memcpy(out, prefix, sizeof(prefix) - 1);
        for (size_t i = 0; i < n; i++)
                out[sizeof(prefix) - 1 + i] = digits[n - 1 - i];
        out[sizeof(prefix) - 1 + n] = '\0';
}

static bool ends_with(const char *s, size_t len, const char *suffix)
{
        size_t sl = strlen(suffix);

        return len >= sl && memcmp(s + len - sl, suffix, sl) == 0;
}

int shim_fd_path(int fd, char buf[PATH_MAX])
{
        char link[32];
        ssize_t n;

        if (fd < 0)
                return -EBADF;
        proc_fd_link(fd, link);
        n = readlink(link, buf, PATH_MAX);
        if (n < 0)
                return errno == ENOENT ? -EBADF : oh_negerrno();
        if (n >= PATH_MAX)
                return -ENAMETOOLONG;
        buf[n] = '\0';
        if (buf[0] != '/')
                return -ENOTDIR;        /* pipe:[..], socket:[..], anon_inode:.. */
        if (ends_with(buf, (size_t) n, " (deleted)")) {
                struct stat st;

                if (fstat(fd, &st) == 0 && st.st_nlink == 0)
                        return -ENOENT;
        }
        return 0;
}

/* Appends REST to the absolute path in BUF (a '/' between them). */
static int append(char buf[PATH_MAX], const char *rest)
{
        size_t len = strlen(buf), rl = strlen(rest);

        if (len > 0 && buf[len - 1] != '/' && rest[0] != '/') {
                if (len + 1 >= PATH_MAX)
                        return -ENAMETOOLONG;
                buf[len++] = '/';
        }
        if (len + rl >= PATH_MAX)
                return -ENAMETOOLONG;
        memcpy(buf + len, rest, rl + 1);
        return 0;
}

/* Drops "//" and interior "/./" so the broker's fast path for clean paths
 * applies.  The last component stays as written: "link/." and "dir/" mean
 * something different from "link" and "dir". */
static void tidy(char *p)
{
        char *w = p;
        const char *r = p;

        while (*r) {
                if (r[0] == '/' && r[1] == '/') {
                        r++;
                        continue;
                }
                if (r[0] == '/' && r[1] == '.' && r[2] == '/') {
                        r += 2;
                        continue;
                }
                *w++ = *r++;
        }
        *w = '\0';
}

/* Tree walkers (fts in grep -r, find, rm -r) open every entry relative to
 * a few directory fds, and reading /proc/self/fd/N costs more than the rest
 * of a brokered open's client side.  So the path of a directory fd is
 * remembered, and reused only while the fd still is that directory
 * (fstat) and the path still names it (lstat): a closed and reused fd
 * number, or a directory renamed or replaced, misses and is read again. */
#define DIR_CACHE_SLOTS 8

static struct {
        pthread_mutex_t lock;
        unsigned int next;              /* slot to replace */
        struct dir_cache_entry {
                int fd;                 /* -1: empty */
                dev_t dev;
                ino_t ino;
                char path[PATH_MAX];
        } e[DIR_CACHE_SLOTS];
} dir_cache = {
        .lock = PTHREAD_MUTEX_INITIALIZER,
        .e = { [0 ... DIR_CACHE_SLOTS - 1] = { .fd = -1 } },
};

static bool same_dir(const struct stat *a, const struct stat *b)
{
        return S_ISDIR(b->st_mode) && a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* The remembered path of directory fd FD (whose fstat is ST), into BUF.
 * VERIFY: only while the path still names it (lstat); else the fd being
 * that directory is enough, for a caller that only classifies. */
static bool dir_cache_find(int fd, const struct stat *st, bool verify, char buf[PATH_MAX])
{
        struct stat now;

        for (size_t i = 0; i < DIR_CACHE_SLOTS; i++) {
                struct dir_cache_entry *e = &dir_cache.e[i];

                if (e->fd != fd || e->dev != st->st_dev || e->ino != st->st_ino)
                        continue;
                if (verify && (fstatat(AT_FDCWD, e->path, &now, AT_SYMLINK_NOFOLLOW) < 0 || !same_dir(st, &now)))
                        return false;
                strcpy(buf, e->path);
                return true;
        }
        return false;
}

static void dir_cache_store(int fd, const struct stat *st, const char *path)
{
        struct dir_cache_entry *e = &dir_cache.e[dir_cache.next++ % DIR_CACHE_SLOTS];

        for (size_t i = 0; i < DIR_CACHE_SLOTS; i++)
                if (dir_cache.e[i].fd == fd)
                        e = &dir_cache.e[i];
        __atomic_store_n(&e->fd, fd, __ATOMIC_RELAXED);     /* read unlocked by dir_cache_holds() */
        e->dev = st->st_dev;
        e->ino = st->st_ino;
        strcpy(e->path, path);
}

static int dir_fd_path_cached(int fd, bool verify, char buf[PATH_MAX])
{
        struct stat st;
        int r;

        /* Never wait: the lock may be held across a fork by another thread
         * of the parent, and then the slow way is still right. */
        if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode) || pthread_mutex_trylock(&dir_cache.lock) != 0)
                return shim_fd_path(fd, buf);
        if (dir_cache_find(fd, &st, verify, buf)) {
                pthread_mutex_unlock(&dir_cache.lock);
                return 0;
        }
        r = shim_fd_path(fd, buf);
        if (r >= 0)
                dir_cache_store(fd, &st, buf);
        pthread_mutex_unlock(&dir_cache.lock);
        return r;
}

static int dir_fd_path(int fd, char buf[PATH_MAX])
{
        return dir_fd_path_cached(fd, true, buf);
}

/* The path remembered for FD, without asking the kernel whether FD still
 * is that directory (0, or -ENOENT when none is). */
static int dir_cache_by_fd(int fd, char buf[PATH_MAX])
{
        int r = -ENOENT;

        if (pthread_mutex_trylock(&dir_cache.lock) != 0)
                return r;
        for (size_t i = 0; i < DIR_CACHE_SLOTS && r < 0; i++)
                if (dir_cache.e[i].fd == fd) {
                        strcpy(buf, dir_cache.e[i].path);
                        r = 0;
                }
        pthread_mutex_unlock(&dir_cache.lock);
        return r;
}

/* Whether a path is remembered for a number from LO to HI, without the
 * lock: nearly every close is of a file, and takes no lock for it. */
static bool dir_cache_holds(unsigned int lo, unsigned int hi)
{
        for (size_t i = 0; i < DIR_CACHE_SLOTS; i++) {
                int fd = __atomic_load_n(&dir_cache.e[i].fd, __ATOMIC_RELAXED);
                if (fd >= 0 && (unsigned int) fd >= lo && (unsigned int) fd <= hi)
                        return true;
        }
        return false;
}

void shim_dir_forget(unsigned int lo, unsigned int hi)
{
        /* Never wait: a close made while the lock is held comes back here.
         * A path missed stays until its number is looked up again. */
        if (!dir_cache_holds(lo, hi) || pthread_mutex_trylock(&dir_cache.lock) != 0)
                return;
        for (size_t i = 0; i < DIR_CACHE_SLOTS; i++) {
                int fd = dir_cache.e[i].fd;
                if (fd >= 0 && (unsigned int) fd >= lo && (unsigned int) fd <= hi)
                        __atomic_store_n(&dir_cache.e[i].fd, -1, __ATOMIC_RELAXED);
        }
        pthread_mutex_unlock(&dir_cache.lock);
}

/* Where Landlock holds the program (there is a direct set), a stale path
 * costs nothing: what the kernel then opens from the fd is what the
 * program could open with a raw syscall, and anything else it refuses,
 * which sends the open the checked way.  So no fstat per open. */
int shim_dir_path_unverified(int dirfd, const char *path, char buf[PATH_MAX])
{
        int r = shim_direct_any() ? dir_cache_by_fd(dirfd, buf) : -ENOENT;

        if (r < 0)
                r = dir_fd_path_cached(dirfd, false, buf);

        if (r >= 0)
                r = append(buf, path);
        if (r >= 0)
                tidy(buf);
        return r;
}

static int base_dir(int dirfd, char buf[PATH_MAX])
{
        if (dirfd != AT_FDCWD)
                return dir_fd_path(dirfd, buf);
        if (!getcwd(buf, PATH_MAX))
                return errno == ERANGE ? -ENAMETOOLONG : oh_negerrno();
        if (buf[0] != '/')
                return -ENOENT;         /* "(unreachable)" */
        return 0;
}

/* Parses a decimal fd at *S, advancing *S past it. */
static int parse_fd(const char **s)
{
        long v = 0;
        const char *p = *s;

        if (*p < '0' || *p > '9')
                return -1;
        for (; *p >= '0' && *p <= '9'; p++) {
                v = v * 10 + (*p - '0');
                if (v > INT_MAX)
                        return -1;
        }
        *s = p;
        return (int) v;
}

/* The program's fd N as a path: regular files and directories by the path
 * they were opened at (the broker checks it); anything else (pipe, socket,
 * tty) is reopened by the caller itself. */
static int own_fd(int n, const char *rest, char buf[PATH_MAX], int *fdnum)
{
        struct stat st;
        int r;

        if (*rest == '\0') {
                if (fstat(n, &st) < 0)
                        return -ENOENT;
                if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
                        *fdnum = n;
                        return SHIM_PATH_FD;
                }
        }
        r = shim_fd_path(n, buf);
        if (r == -EBADF)
                return -ENOENT;
        if (r < 0 && *rest == '\0') {
                *fdnum = n;     /* a deleted file: only the fd reaches it */
                return SHIM_PATH_FD;
        }
        if (r >= 0 && *rest)
                r = append(buf, rest);
        return r < 0 ? r : SHIM_PATH_BROKER;
}

/* If P starts with a name for this process's /proc directory, returns what
 * follows it ("" or "/..."), else NULL. */
static const char *proc_self_rest(const char *p)
{
        const char *s;
        int pid;

        if (strncmp(p, "/proc/", 6) != 0)
                return NULL;
        s = p + 6;
        if (strncmp(s, "self", 4) == 0)
                s += 4;
        else if (strncmp(s, "thread-self", 11) == 0)
                s += 11;
        else if ((pid = parse_fd(&s)) < 0 || pid != getpid())
                return NULL;
        return *s == '/' || *s == '\0' ? s : NULL;
}

static int classify(char buf[PATH_MAX], int *fdnum)
{
        static const char *const std_names[] = { "/dev/stdin", "/dev/stdout", "/dev/stderr" };
        char rest[PATH_MAX];
        const char *s;
        int n, r;

        for (n = 0; n < 3; n++)
                if (strcmp(buf, std_names[n]) == 0)
                        return own_fd(n, "", buf, fdnum);

        if (strncmp(buf, "/dev/fd/", 8) == 0)
                s = buf + 7;
        else if (!(s = proc_self_rest(buf)))
                return SHIM_PATH_BROKER;
        else if (strncmp(s, "/fd/", 4) == 0)
                s += 3;
        else if (strncmp(s, "/cwd", 4) == 0 && (s[4] == '/' || s[4] == '\0')) {
                strcpy(rest, s + 4);
                r = base_dir(AT_FDCWD, buf);
                if (r >= 0 && *rest)
                        r = append(buf, rest);
                return r < 0 ? r : SHIM_PATH_BROKER;
        } else if (strncmp(s, "/root/", 6) == 0) {
                memmove(buf, s + 5, strlen(s + 5) + 1);
                return SHIM_PATH_BROKER;
        } else
                return SHIM_PATH_KERNEL;

        /* s points at "/N..." of an fd directory. */
        s++;
        n = parse_fd(&s);
        if (n < 0 || (*s != '/' && *s != '\0'))
                return SHIM_PATH_KERNEL;
        strcpy(rest, s);
        return own_fd(n, rest, buf, fdnum);
}

int shim_path(int dirfd, const char *path, char buf[PATH_MAX], int *fdnum)
{
        size_t len;
        int r;

        if (!path)
                return -EFAULT;
        if (!*path)
                return -ENOENT;
        len = strlen(path);
        if (len >= PATH_MAX)
                return -ENAMETOOLONG;
        if (path[0] == '/')
                memcpy(buf, path, len + 1);
        else {
                r = base_dir(dirfd, buf);
                if (r < 0)
                        return r;
                r = append(buf, path);
                if (r < 0)
                        return r;
        }
        tidy(buf);
        return classify(buf, fdnum);
}
