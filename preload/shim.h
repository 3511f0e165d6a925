/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internals of libopenhook-preload.so, shared by its files.
 *
 * Every function here returns >= 0 or -errno, like the rest of the project;
 * only the exported (interposed) libc entry points speak errno, through
 * shim_ret(). */
#ifndef OH_SHIM_H
#define OH_SHIM_H

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>
#include <unistd.h>

/* Only the interposed libc names leave the shared object. */
#define SHIM_EXPORT __attribute__((visibility("default")))

/* The next definition of NAME after ours (libc's), looked up once.  NAME
 * must be declared with its libc prototype. */
#define REAL(name) ({ \
        static __typeof__(&name) _real_##name; \
        __typeof__(&name) _f = __atomic_load_n(&_real_##name, __ATOMIC_ACQUIRE); \
        if (!_f) { \
                _f = (__typeof__(&name)) dlsym(RTLD_NEXT, #name); \
                __atomic_store_n(&_real_##name, _f, __ATOMIC_RELEASE); \
        } \
        _f; \
})

/* Converts an internal result to libc's convention. */
static inline int shim_ret(int r)
{
        if (r < 0) {
                errno = -r;
                return -1;
        }
        return r;
}

/* Runs EXPR (an int, >= 0 or -errno) for an exported function: errno as
 * libc leaves it (untouched on success) and -1 on failure. */
#define SHIM_ERRNO(expr) ({ \
        int _saved_errno = errno; \
        int _r = (expr); \
        if (_r >= 0) \
                errno = _saved_errno; \
        shim_ret(_r); \
})

/* Ends an exported function that wraps FD in a FILE or DIR: OBJ (the
 * wrapper, NULL if making it failed) owns FD from here on, so on failure FD
 * is closed with the wrapper's errno kept; on success the program's errno
 * SAVED is put back.  Returns OBJ. */
static inline void *shim_adopt_fd(int fd, void *obj, int saved)
{
        int e = errno;

        if (!obj) {
                close(fd);
                saved = e;
        }
        errno = saved;
        return obj;
}

/* Calls client function FN(sock, ...) on this process's connection; WHAT
 * names the operation for the one-time "broker lacks it" message. */
#define SHIM_BROKER(what, fn, ...) ({ \
        struct shim_conn _c; \
        int _r = shim_conn_get(&_c); \
        if (_r >= 0) { \
                _r = shim_broker_lost(fn(_c.fd, __VA_ARGS__)); \
                shim_conn_put(&_c); \
        } \
        if (_r == -ENOSYS) \
                shim_warn_unsupported(what); \
        _r; \
})

/* ---- conn.c: the broker connection of this process -------------------- */

/* A request's result R, with a broker that went away (its socket broken
 * or closed) reported as EIO: the call did not happen and will not, and
 * openhook run is ending the program. */
int shim_broker_lost(int r);

/* True when OPENHOOK_FD named a usable socket at start-up; otherwise every
 * interposed function passes straight through to libc. */
bool shim_enabled(void);

/* A connection to use for one request: the process's private one, or a
 * one-shot one (closed by shim_conn_put) where the process's state must not
 * be touched (a vfork child shares its parent's memory). */
struct shim_conn {
        int fd;
        bool oneshot;
};

int shim_conn_get(struct shim_conn *c);

/* Whether this process can reach the broker, connecting if need be.  When
 * it cannot, the caller makes the call through libc instead: Landlock (in
 * preload mode) or the seccomp supervisor decides it. */
bool shim_conn_available(void);
void shim_conn_put(struct shim_conn *c);

/* The program is about to close [LO, HI] (or make NEWFD a copy of another
 * fd): forget our descriptors among them. */
void shim_fds_closing(unsigned int lo, unsigned int hi);

/* Says once per process on stderr that the broker lacks operation WHAT. */
void shim_warn_unsupported(const char *what);

/* ---- direct.c: what the program may open itself ----------------------- */

/* True if absolute path P lies under an OPENHOOK_DIRECT prefix (read-only
 * opens there go straight to the kernel; Landlock allows them). */
bool shim_direct(const char *p);
/* Whether there is a direct set at all: then Landlock holds the program
 * (openhook run gives one only then). */
bool shim_direct_any(void);
void shim_direct_init(const char *list);

/* ---- path.c: turning a program's path into a broker request ----------- */

enum shim_path_kind {
        SHIM_PATH_BROKER,       /* buf holds an absolute path for the broker */
        SHIM_PATH_KERNEL,       /* a file of this process (/proc/self/...): libc opens it */
        SHIM_PATH_FD,           /* the program's own fd *fdnum that is no file on disk */
};

/* Makes PATH (relative to DIRFD, AT_FDCWD meaning the cwd) absolute in BUF,
 * mapping names that mean "this process" (/proc/self, /proc/thread-self,
 * /proc/<pid>, /dev/fd, /dev/std*) to what they refer to, never the
 * broker.  Returns a shim_path_kind or -errno. */
int shim_path(int dirfd, const char *path, char buf[PATH_MAX], int *fdnum);

/* PATH (relative) beside directory fd DIRFD, made absolute in BUF from
 * the directory's remembered path, not checked to still name it: where
 * Landlock holds the program, remembered for the fd number until it is
 * closed; else trusted while DIRFD is that directory.  Only to classify
 * an open made from DIRFD itself, never to send to the broker.  Returns 0
 * or -errno. */
int shim_dir_path_unverified(int dirfd, const char *path, char buf[PATH_MAX]);

/* The absolute path an fd was opened at, in BUF.  Returns 0 or -errno. */
int shim_fd_path(int fd, char buf[PATH_MAX]);

/* ---- open.c ------------------------------------------------------------ */

/* open(2) semantics with brokering; returns an fd or -errno. */
int shim_openat(int dirfd, const char *path, int flags, mode_t mode);

/* True for flags that only read (the direct set may serve them). */
bool shim_flags_readonly(int flags);

/* Whether the kernel serves an open of absolute path BUF with FLAGS
 * itself: reads in the direct set, and writes to its devices. */
bool shim_direct_ok(const char *buf, int flags);

/* The program's umask, applied before the broker (with its own umask)
 * creates anything. */
mode_t shim_umask(void);

/* Turns a libc result (-1 with errno) into -errno. */
static inline int shim_libc(int r)
{
        return r < 0 ? (errno > 0 ? -errno : -EIO) : r;
}

/* ---- ahead.c: files the broker sent ahead ----------------------------- */

/* The held fd for an open of PATH (relative to DIRFD) with FLAGS, put at
 * the number open() would have returned; -ENOENT when none is held for
 * it (the caller then asks the broker). */
int shim_ahead_take(int dirfd, const char *path, int flags);

/* openhook_open() of absolute PATH on CONN, asking for the files after it
 * (or in it) when the program seems to be reading its directories through;
 * never on a one-shot connection (a vfork child: what it received is in
 * its own fd table, not in the parent's whose memory it shares). */
int shim_ahead_open(const struct shim_conn *conn, const char *path, int flags, mode_t mode);

/* The program is closing [LO, HI]: held fds among them are no longer ours. */
void shim_ahead_forget(unsigned int lo, unsigned int hi);
/* The program closes fds LO to HI: directory paths remembered for them go. */
void shim_dir_forget(unsigned int lo, unsigned int hi);

/* ---- ops.c ------------------------------------------------------------- */

int shim_mkdirat(int dirfd, const char *path, mode_t mode);
int shim_unlinkat(int dirfd, const char *path, int flags);

#endif
