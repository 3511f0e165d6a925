/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Race-free resolution and the file operations done for a peer.
 *
 * The three steps of doc/DESIGN.md "Resolution": walk the requested path to
 * a canonical path C (no symlink, `.` or `..`), decide on C, then act on C
 * with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
 * so that the kernel itself guarantees the object acted on is the one at C.
 *
 * We act from a cached fd of "/" with C made relative.  Rule paths are
 * canonical, so this is the same walk as first opening the deciding rule's
 * directory with RESOLVE_NO_SYMLINKS and then resolving the rest beneath it,
 * with one syscall instead of two: without symlinks and `..` a
 * resolution can only ever follow C's own components.
 *
 * Rules decide by path, so a rename or link, which gives an object a new
 * path, never gives it r or w it lacked at the old one (move_check,
 * link_check).  And one client must not stall the others: the walks of a
 * request visit at most MAX_COMPONENTS components in all (doc/DESIGN.md
 * "Work per request"). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fdmeta.h"
#include "created.h"
#include "policy.h"
#include "resolve.h"
#include "util.h"

#define MAX_HOPS 40             /* symlinks per walk, as the kernel */
/* Components (".", ".." and names, those spliced in from symlink text
 * included) that the walks of one request may visit in all: each costs up
 * to a few syscalls, and a symlink can splice in 2,000 of them per hop.
 * A request path alone has at most 2,048, so a path without symlinks
 * always fits.  Shared by both paths of a rename or link and by every
 * attempt, so a request's walking work is bounded whatever the tree. */
#define MAX_COMPONENTS 4096
#define MAX_ATTEMPTS 16         /* walks per request when the tree keeps changing */
#define STRICT (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)

#define R OPENHOOK_PERM_R
#define W OPENHOOK_PERM_W
#define C OPENHOOK_PERM_C
#define D OPENHOOK_PERM_D

/* The kernel's O_LARGEFILE, which 64-bit glibc hides as 0 but which a
 * 32-bit client (or a seccomp-notified syscall) may pass. */
#if defined(__x86_64__) || defined(__i386__)
#define KERNEL_O_LARGEFILE 0100000
#else
#define KERNEL_O_LARGEFILE O_LARGEFILE
#endif

#define KNOWN_OPEN_FLAGS (O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND | \
                          O_NONBLOCK | O_DSYNC | O_SYNC | O_DIRECT | KERNEL_O_LARGEFILE | \
                          O_DIRECTORY | O_NOFOLLOW | O_NOATIME | O_CLOEXEC | O_PATH | O_TMPFILE)
/* Status flags F_SETFL can change and that we may have to restore. */
#define SETFL_FLAGS (O_APPEND | O_DIRECT | O_NOATIME)
#define MODE_BITS 0777          /* setuid, setgid and sticky are never granted */

/* Where a path leads, as far as the walk could tell. */
struct target {
        char path[OPENHOOK_PATH_MAX];   /* C: canonical, or best known if the walk failed */
        size_t len;
        int walk_error;                 /* kernel error met before the last component, or 0 */
        bool reveal;                    /* walk_error may be told to the peer */
        bool symlink;                   /* the last component is a symlink left unfollowed */
        bool missing;                   /* the last component does not exist (yet) */
        bool slash;                     /* requested with a trailing '/' */
        bool fast;                      /* C is the request as is, not yet verified */
        bool task;                      /* ... and names a task ("self", a number):
                                         * acting checks it left procfs alone */
};

static int root_fd = -1;

static int root(void)
{
        int fd = __atomic_load_n(&root_fd, __ATOMIC_ACQUIRE), expected = -1;

        if (fd >= 0)
                return fd;
        fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return oh_negerrno();
        if (!__atomic_compare_exchange_n(&root_fd, &expected, fd, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
                close(fd);
                return expected;
        }
        return fd;
}

static int openat2_strict(const char *canon, uint64_t flags, uint64_t mode)
{
        struct open_how how = { .flags = flags, .mode = mode, .resolve = STRICT };
        int rootfd = root();
        long fd;

        if (rootfd < 0)
                return rootfd;
        fd = syscall(SYS_openat2, rootfd, canon[1] ? canon + 1 : ".", &how, sizeof(how));
        return fd < 0 ? oh_negerrno() : (int) fd;
}

static void verdict_reset(struct oh_verdict *v)
{
        v->denied = 0;
        v->hint[0] = '\0';
}

static int refuse(const struct openhook_policy *p, const char *path, unsigned needed, struct oh_verdict *v)
{
        v->denied = 1;
        oh_policy_hint(p, path, needed, v->hint, sizeof(v->hint));
        return -EACCES;
}

/* Kernel errors that mean the tree changed under us (or, on the fast path,
 * that the request was not canonical): walk again.  Acting on C meets a
 * symlink legitimately only when C's last component is one that the
 * request said not to follow (O_NOFOLLOW).  An error the walk met itself,
 * its own ELOOP included, is its answer: walking again would cost as much
 * and answer the same, so a hostile tree could multiply a request's work. */
static bool must_retry(int r, const struct target *t)
{
        if (t->walk_error)
                return false;
        if (r == -ELOOP)
                return !t->symlink || t->fast;
        return r == -EXDEV || r == -EAGAIN;
}

/* A parent directory is always opened by its canonical path, so ELOOP or
 * EXDEV there means the tree changed: never an answer for the peer. */
static int parent_failed(int r)
{
        return r == -ELOOP || r == -EXDEV ? -EAGAIN : r;
}

/* ---- Step 1: the canonicalising walk ----------------------------------- */

/* A path already in canonical form needs no walk: acting on it with
 * RESOLVE_NO_SYMLINKS succeeds only if it really is canonical. */
static bool lexically_clean(const char *path)
{
        const char *c = path;

        if (path[0] != '/')
                return false;
        if (path[1] == '\0')
                return true;
        while (*c == '/') {
                const char *s = ++c;

                while (*c && *c != '/')
                        c++;
                if (c == s || (c - s == 1 && s[0] == '.') || (c - s == 2 && s[0] == '.' && s[1] == '.'))
                        return false;
        }
        return true;
}

static bool next_name(const char **cursor, const char **name, size_t *len)
{
        const char *c = *cursor;

        while (*c == '/')
                c++;
        if (!*c)
                return false;
        *name = c;
        while (*c && *c != '/')
                c++;
        *len = c - *name;
        *cursor = c;
        return true;
}

/* The root directory of every procfs instance (the kernel's PROC_ROOT_INO). */
#define PROC_ROOT_INO 1

/* Names at the top of procfs that can lead to the broker's own process
 * (its environment, memory, fds): "self", "thread-self", or a number, which
 * may be the broker's pid or one of its threads' ids. */
static bool task_name(const char *name, size_t len)
{
        if ((len == 4 && memcmp(name, "self", 4) == 0) || (len == 11 && memcmp(name, "thread-self", 11) == 0))
                return true;
        if (len == 0 || len > 10)
                return false;
        for (size_t i = 0; i < len; i++)
                if (name[i] < '0' || name[i] > '9')
                        return false;
        return true;
}

/* The walk runs in the broker, so /proc/self there is the broker, not the
 * peer that asked.  True if NAME in directory DIR is a procfs entry of the
 * broker's own process or of one of its threads.  A number is checked in
 * DIR's own procfs (its pid namespace may not be ours): it is ours if
 * self/task lists it, which holds for the pid and every thread id. */
static bool broker_task(int dir, const char *name, size_t len)
{
        char task[32];
        struct statfs sfs;
        struct stat st;

        if (!task_name(name, len) || fstatfs(dir, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC ||
            fstat(dir, &st) < 0 || st.st_ino != PROC_ROOT_INO)
                return false;
        if (name[0] < '0' || name[0] > '9')
                return true;
        snprintf(task, sizeof(task), "self/task/%.*s", (int) len, name);
        return fstatat(dir, task, &st, 0) == 0;
}

/* A path with a task name in it may lead to the broker's /proc entries:
 * only the walk, which sees which directories are procfs, can tell. */
static bool names_a_task(const char *path)
{
        const char *name;
        size_t len;

        while (next_name(&path, &name, &len))
                if (task_name(name, len))
                        return true;
        return false;
}

static bool only_slashes(const char *c)
{
        return c[strspn(c, "/")] == '\0';
}

static int append(struct target *t, const char *name, size_t len)
{
        if (t->len + 1 + len >= sizeof(t->path))
                return -ENAMETOOLONG;
        t->path[t->len++] = '/';
        memcpy(t->path + t->len, name, len);
        t->len += len;
        t->path[t->len] = '\0';
        return 0;
}

static void pop(struct target *t)
{
        while (t->len > 0 && t->path[--t->len] != '/')
                ;
        t->path[t->len] = '\0';
}

/* The walk built C with "" for "/"; everyone else wants "/". */
static void finish(struct target *t)
{
        if (t->len == 0) {
                t->path[0] = '/';
                t->path[1] = '\0';
                t->len = 1;
        }
}

/* May the walk show that PATH exists, by stepping out of it with `..` or
 * by failing in it?  Only if the policy covers it or a rule lies below it:
 * otherwise a peer could probe for names anywhere on the system. */
static bool may_reveal(const struct openhook_policy *p, const char *path)
{
        return oh_policy_letters(p, path) || oh_policy_is_ancestor(p, path);
}

/* The walk met error ERR at the component just appended to T (or, out of
 * budget, before taking the first component of REST).  Decide on the
 * best-known path: T plus the rest, taken lexically. */
static int walk_failed(const struct openhook_policy *p, struct target *t, int err, const char *rest,
                       unsigned needed, struct oh_verdict *v)
{
        const char *name;
        size_t len;

        t->walk_error = err;
        t->reveal = may_reveal(p, t->path);
        if (!t->reveal) {
                finish(t);
                oh_policy_hint(p, t->path, needed, v->hint, sizeof(v->hint));
        }
        while (next_name(&rest, &name, &len)) {
                if (len == 1 && name[0] == '.')
                        continue;
                if (len == 2 && name[0] == '.' && name[1] == '.')
                        pop(t);
                else if (append(t, name, len) < 0)
                        return -ENAMETOOLONG;
        }
        finish(t);
        return 0;
}

/* Replaces REST (whose unwalked part starts at *CURSOR) by LINK + "/" +
 * that part. */
static int splice_link(char *rest, size_t size, const char **cursor, const char *link, size_t link_len)
{
        char tmp[OPENHOOK_PATH_MAX];
        size_t tail = strlen(*cursor);

        if (link_len + 1 + tail >= sizeof(tmp) || link_len + 1 + tail >= size)
                return -ENAMETOOLONG;
        memcpy(tmp, link, link_len);
        tmp[link_len] = '/';
        memcpy(tmp + link_len + 1, *cursor, tail + 1);
        memcpy(rest, tmp, link_len + tail + 2);
        *cursor = rest;
        return 0;
}

static void replace_fd(int *owned, int fd)
{
        oh_closep(owned);
        *owned = fd;
}

/* Walks PATH (absolute) one component at a time without following any
 * symlink implicitly, expanding each symlink itself.  Fills T with the
 * canonical path.  Each component visited is taken from *BUDGET; when none
 * is left the walk fails with ELOOP, as the kernel does on too many
 * symlinks (only they can make a walk that long).  Returns 0 (T may carry
 * a walk_error) or -EACCES when the walk itself would leave the policy. */
static int walk(const struct openhook_policy *p, const char *path, bool follow_last, unsigned needed,
                unsigned *budget, struct target *t, struct oh_verdict *v)
{
        _cleanup_close_ int owned = -1;
        char rest[OPENHOOK_PATH_MAX], link[OPENHOOK_PATH_MAX];
        const char *cursor = rest, *name;
        size_t len, plen = strlen(path);
        int cur = root(), hops = 0;

        if (cur < 0)
                return cur;
        if (plen >= sizeof(rest))
                return -ENAMETOOLONG;
        memcpy(rest, path, plen + 1);
        *t = (struct target) { .slash = plen > 1 && path[plen - 1] == '/' };

        while (next_name(&cursor, &name, &len)) {
                bool last = only_slashes(cursor);
                ssize_t n;
                int fd;

                if (*budget == 0)
                        return walk_failed(p, t, -ELOOP, name, needed, v);
                --*budget;
                if (len == 1 && name[0] == '.')
                        continue;
                if (len == 2 && name[0] == '.' && name[1] == '.') {
                        if (t->len == 0)
                                continue;
                        if (!may_reveal(p, t->path))
                                return refuse(p, t->path, needed, v);
                        fd = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
                        if (fd < 0)
                                return walk_failed(p, t, oh_negerrno(), cursor, needed, v);
                        replace_fd(&owned, fd);
                        cur = fd;
                        pop(t);
                        continue;
                }

                if (append(t, name, len) < 0)
                        return -ENAMETOOLONG;
                if (broker_task(cur, name, len)) {
                        finish(t);
                        v->denied = 1;
                        snprintf(v->hint, sizeof(v->hint), "%s is the broker's own process, never served", t->path);
                        return -EACCES;
                }
                /* Most components are directories: one syscall for them. */
                if (!last) {
                        fd = openat(cur, t->path + t->len - len, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
                        if (fd >= 0) {
                                replace_fd(&owned, fd);
                                cur = fd;
                                continue;
                        }
                        if (errno != ENOTDIR)
                                return walk_failed(p, t, oh_negerrno(), cursor, needed, v);
                }
                n = readlinkat(cur, t->path + t->len - len, link, sizeof(link));
                if (n < 0) {
                        if (last && (errno == EINVAL || errno == ENOENT)) {
                                t->missing = errno == ENOENT;
                                break;  /* an existing non-symlink, or a name to create */
                        }
                        return walk_failed(p, t, errno == EINVAL ? -ENOTDIR : oh_negerrno(), cursor, needed, v);
                }
                if (last && !follow_last && !t->slash) {
                        t->symlink = true;
                        break;
                }
                if ((size_t) n >= sizeof(link))
                        return walk_failed(p, t, -ENAMETOOLONG, cursor, needed, v);
                if (n == 0)
                        return walk_failed(p, t, -ENOENT, cursor, needed, v);
                if (!oh_policy_may_follow(p, t->path))
                        return refuse(p, t->path, needed, v);
                if (++hops > MAX_HOPS)
                        return walk_failed(p, t, -ELOOP, cursor, needed, v);
                if (splice_link(rest, sizeof(rest), &cursor, link, n) < 0)
                        return -ENAMETOOLONG;
                if (link[0] == '/') {
                        replace_fd(&owned, -1);
                        cur = root();
                        t->len = 0;
                        t->path[0] = '\0';
                } else
                        pop(t);
        }
        finish(t);
        return 0;
}

/* Fills T for PATH: the request itself on the first attempt when it is
 * already canonical, else the walk's result.  A path that names a task
 * takes the fast path only when the caller's acting checks what it
 * reached (TASKS_CHECKED: on_procfs()); else only the walk can tell
 * whether it enters the broker's own /proc entries. */
static int resolve(const struct openhook_policy *p, const char *path, bool follow_last, unsigned needed,
                   int attempt, bool tasks_checked, unsigned *budget, struct target *t, struct oh_verdict *v)
{
        size_t len;
        bool task = false;

        if (path[0] != '/')
                return -EINVAL;
        if (attempt > 0 || !lexically_clean(path) || ((task = names_a_task(path)) && !tasks_checked))
                return walk(p, path, follow_last, needed, budget, t, v);
        len = strlen(path);
        if (len >= sizeof(t->path))
                return -ENAMETOOLONG;
        t->len = len;
        t->walk_error = 0;
        t->reveal = t->symlink = t->slash = t->missing = false;
        t->fast = true;
        t->task = task;
        memcpy(t->path, path, len + 1);
        return 0;
}

/* ---- Private temporaries (t): whose an object is ----------------------- */

/* A t rule on DIR/ grants c on a new name made directly in DIR or in a
 * directory the sandbox made there, and r, w, c, d on whatever object the
 * sandbox made (lib/created.h), whatever its name: identity is the inode,
 * never the name (doc/DESIGN.md "Private temporaries").  The letters are
 * looked up here when deciding; an open then checks the inode it actually
 * opened (private_open). */

/* The t rule deciding PATH (its directory or anything below), or NULL. */
static const struct oh_rule *private_rule(const struct openhook_policy *p, const char *path)
{
        const struct oh_rule *r = oh_policy_match(p, path);

        if (!r || r->deny || !(oh_policy_letters(p, path) & OPENHOOK_PERM_T))
                return NULL;
        return r;
}

/* Looked up as acting would (beneath "/", no symlink), the final name
 * not followed, so the answer is about the object at canonical PATH. */
static int object_at_path(const char *path, struct oh_object *o)
{
        _cleanup_close_ int fd = openat2_strict(path, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);

        return fd < 0 ? fd : oh_object_at(fd, "", o);
}

static bool created_at(const struct openhook_policy *p, const char *path)
{
        struct oh_object o;

        return object_at_path(path, &o) == 0 && oh_created_has(oh_policy_created(p), &o);
}

/* A new name at PATH under rule R: directly in R's directory, or in a
 * directory the sandbox made (never in another user's directory there). */
static bool may_create_at(const struct openhook_policy *p, const struct oh_rule *r, const char *path)
{
        char parent[OPENHOOK_PATH_MAX];
        size_t len = (size_t) (strrchr(path, '/') - path);

        if ((len ? len : 1) == r->len)
                return true;
        memcpy(parent, path, len);
        parent[len] = '\0';
        return created_at(p, parent);
}

/* The letters the sandbox's ownership adds at canonical PATH.  On the t
 * directory itself: c, the letter for making names in it (access(W_OK)),
 * and r to list it (a glob, a clean-up; the names are what any user's ls
 * shows, never a way to what they name). */
static unsigned private_letters(const struct openhook_policy *p, const char *path)
{
        const struct oh_rule *r = private_rule(p, path);

        if (!r)
                return 0;
        if (strlen(path) == r->len)
                return R | C;
        if (created_at(p, path))
                return R | W | C | D;
        return may_create_at(p, r, path) ? C : 0;
}

/* Whether T's path grants NEEDED; the t lookups only when the rules'
 * letters alone do not. */
static bool grants(const struct openhook_policy *p, const struct target *t, unsigned needed)
{
        unsigned letters = oh_policy_letters(p, t->path);

        if ((letters & needed) == needed)
                return true;
        return (letters & OPENHOOK_PERM_T) && ((letters | private_letters(p, t->path)) & needed) == needed;
}

/* The r and w the object moving from or linked at PATH has there: the
 * rules', and the sandbox's own object keeps r and w in a t directory. */
static unsigned moved_letters(const struct openhook_policy *p, const char *path, bool own)
{
        return (oh_policy_letters(p, path) | (own && private_rule(p, path) ? R | W : 0)) & (R | W);
}

bool oh_fd_grants(const struct openhook_policy *p, const char *path, int fd, unsigned needed)
{
        struct oh_object o;

        if ((oh_policy_letters(p, path) & needed) == needed)
                return true;
        return private_rule(p, path) && oh_object_at(fd, "", &o) == 0 &&
               oh_created_has(oh_policy_created(p), &o);
}

/* A check made when deciding, made again on the inode acting reached:
 * FD must be the sandbox's own unless the rules alone grant NEEDED. */
static int private_verify(const struct openhook_policy *p, const struct target *t, int fd, unsigned needed,
                          struct oh_verdict *v)
{
        return oh_fd_grants(p, t->path, fd, needed) ? 0 : refuse(p, t->path, needed, v);
}

/* Records what the broker just made as NAME in DIRFD ("": DIRFD itself).
 * Made by name, it could have been swapped by someone able to rename in
 * that directory before this look; one that is not ours (its owner is
 * not the broker's user) is never recorded. */
static int private_record(const struct openhook_policy *p, const struct target *t, int dirfd, const char *name)
{
        struct oh_object o;
        int r;

        if (!private_rule(p, t->path))
                return 0;
        r = oh_object_at(dirfd, name, &o);
        if (r < 0)
                return r;
        return o.uid == geteuid() ? oh_created_add(oh_policy_created(p), &o) : 0;
}

/* Before NAME in DIRFD (T's last name) is removed or replaced: under t it
 * must be the sandbox's own unless the rules grant d, looked up once more
 * beside its pinned parent.  *GONE gets it (mode 0 when not under t or
 * not there), to be forgotten once removed. */
static int private_removable(const struct openhook_policy *p, const struct target *t, int dirfd, const char *name,
                             struct oh_object *gone, struct oh_verdict *v)
{
        *gone = (struct oh_object) {};
        if (!private_rule(p, t->path) || oh_object_at(dirfd, name, gone) < 0)
                return 0;
        if ((oh_policy_letters(p, t->path) & D) || oh_created_has(oh_policy_created(p), gone))
                return 0;
        return refuse(p, t->path, D, v);
}

/* GONE lost a name: forgotten once it has none left, so that its inode
 * number, reused for someone else's file, is never taken for ours. */
static void private_removed(const struct openhook_policy *p, const struct oh_object *gone)
{
        if (gone->mode != 0 && (gone->nlink <= 1 || S_ISDIR(gone->mode)))
                oh_created_forget(oh_policy_created(p), gone);
}

/* The letters the object at PATH holds: the rules', and under t r, w, c
 * and d when it is the sandbox's own (not the c any new name gets). */
static unsigned held_letters(const struct openhook_policy *p, const char *path)
{
        unsigned letters = oh_policy_letters(p, path) & ~OPENHOOK_PERM_T;

        return letters | (private_rule(p, path) && created_at(p, path) ? R | W | C | D : 0);
}

/* ---- Step 2: deciding ---------------------------------------------------- */

/* What a refusal of T answers: EACCES, or for a peer that may stat(2)
 * any path (oh_policy_reveals_missing) what the kernel answers a program
 * for a file it may not read.  A path that does not exist is ENOENT (or
 * ENOTDIR), but a new name in a directory that exists is EACCES when
 * NEEDED creates it, as for a directory the program may not write.  Only
 * a walk knows: the fast path's guess is walked again on refusal.  The
 * verdict stays a denial, for the log. */
static int refused(const struct openhook_policy *p, const struct target *t, unsigned needed)
{
        if (!oh_policy_reveals_missing(p) || t->fast)
                return -EACCES;
        if (t->walk_error == -ENOENT || t->walk_error == -ENOTDIR)
                return t->walk_error;
        return t->missing && !t->walk_error && !(needed & C) ? -ENOENT : -EACCES;
}

static int refuse_target(const struct openhook_policy *p, const struct target *t, unsigned needed,
                         struct oh_verdict *v)
{
        refuse(p, t->path, needed, v);
        return refused(p, t, needed);
}

/* Checks that C grants NEEDED and that a failed walk may be reported.
 * Returns 0, the walk's error, or -EACCES (see refused()). */
static int decide(const struct openhook_policy *p, const struct target *t, unsigned needed, struct oh_verdict *v)
{
        if (!grants(p, t, needed))
                return refuse_target(p, t, needed, v);
        if (t->walk_error) {
                if (t->reveal)
                        return t->walk_error;
                v->denied = 1;          /* hint written by the walk */
                return refused(p, t, needed);
        }
        return 0;
}

/* Runs OP on PATH, walking again when the fast path guessed wrong or the
 * tree changed between deciding and acting. */
typedef int (*path_op)(const struct openhook_policy *p, struct target *t, const void *args, struct oh_verdict *v);

static int with_path(const struct openhook_policy *p, const char *path, bool follow_last, unsigned needed,
                     path_op op, const void *args, struct oh_verdict *v)
{
        unsigned budget = MAX_COMPONENTS;
        struct target t;

        verdict_reset(v);
        for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
                int r = resolve(p, path, follow_last, needed, attempt, true, &budget, &t, v);

                if (r < 0)
                        return r;
                r = op(p, &t, args, v);
                if (t.fast && r == -EACCES && v->denied) {
                        verdict_reset(v);       /* maybe allowed once symlinks are expanded */
                        continue;
                }
                if (!must_retry(r, &t))
                        return r;
        }
        return -ELOOP;
}

/* ---- Step 3: acting ---------------------------------------------------- */

struct open_args {
        uint32_t flags;         /* as requested */
        uint64_t kflags;        /* what the broker passes to the kernel */
        uint32_t mode;
        unsigned needed;        /* letters to open an existing file */
};

static bool takes_mode(uint64_t kflags)
{
        return (kflags & O_CREAT) || (kflags & O_TMPFILE) == O_TMPFILE;
}

/* Takes FD (or an error).  It was opened non-blocking so a FIFO or
 * device cannot stall the broker; the peer did not ask for that. */
static int restore_blocking(int fd, uint64_t kflags, uint32_t flags)
{
        if (fd < 0 || (kflags & O_PATH) || (flags & O_NONBLOCK))
                return fd;
        if (fcntl(fd, F_SETFL, (int) (kflags & SETFL_FLAGS)) < 0) {
                int r = oh_negerrno();

                close(fd);
                return r;
        }
        return fd;
}

/* Takes FD, which acting on fast-path T reached (the object, or its
 * parent).  When T names a task, the walk that would have checked for the
 * broker's own /proc entries was skipped (a path like
 * /usr/include/c++/12/x merely looks like one).  Anything inside a task
 * directory that STRICT resolution reaches, with no magic link followed,
 * is on procfs, and a directory not on procfs has no procfs entry in it
 * (but a mount point, which no *at() call removes or replaces): so an fd
 * on procfs is closed and answered -ELOOP, which makes with_path() walk
 * (must_retry()). */
static int on_procfs(const struct target *t, int fd)
{
        struct statfs sfs;

        if (fd < 0 || !t->task)
                return fd;
        if (fstatfs(fd, &sfs) == 0 && sfs.f_type != PROC_SUPER_MAGIC)
                return fd;
        close(fd);
        return -ELOOP;
}

static int act_open(const struct target *t, uint64_t kflags, uint32_t mode, uint32_t flags)
{
        char slashed[OPENHOOK_PATH_MAX + 1];
        const char *path = t->path;
        int fd;

        if (t->slash && t->len > 1) {
                memcpy(slashed, t->path, t->len);
                memcpy(slashed + t->len, "/", 2);
                path = slashed;
        }
        fd = on_procfs(t, openat2_strict(path, kflags, takes_mode(kflags) ? mode : 0));
        return restore_blocking(fd, kflags, flags);
}

/* Opens the very inode O_PATH fd FD names, with KFLAGS, through
 * /proc/self/fd: no second lookup by name. */
static int reopen(int fd, uint64_t kflags, uint32_t flags)
{
        char self[64];

        snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
        kflags &= ~(uint64_t) (O_CREAT | O_EXCL | O_NOFOLLOW);  /* a magic link, checked to be no symlink */
        return restore_blocking(open(self, (int) kflags), kflags, flags);
}

/* Takes FD, the file the broker just made under t, and records it. */
static int record_new(const struct openhook_policy *p, int fd)
{
        _cleanup_close_ int owned = fd;
        struct oh_object o;
        int r;

        if (fd < 0)
                return fd;
        r = oh_object_at(fd, "", &o);
        if (r == 0)
                r = oh_created_add(oh_policy_created(p), &o);
        return r < 0 ? r : TAKE_FD(owned);
}

/* What exists at T, under t: opened O_PATH, judged by the inode reached
 * (the rules' letters, or the sandbox's own), and only then opened as
 * asked, so neither O_TRUNC nor the access can land on an object another
 * process put at the name after the decision. */
static int private_existing(const struct openhook_policy *p, struct target *t, const struct open_args *a,
                            struct oh_verdict *v)
{
        _cleanup_close_ int fd = act_open(t, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0, 0);
        struct stat st;
        int r;

        if (fd == -ENOENT && (a->kflags & O_CREAT))
                return refuse(p, t->path, a->needed | C, v);
        r = decide(p, t, a->needed, v);
        if (r < 0 || fd < 0)
                return r < 0 ? r : fd;
        r = private_verify(p, t, fd, a->needed, v);
        if (r < 0)
                return r;
        if (fstat(fd, &st) < 0)
                return oh_negerrno();
        if (S_ISLNK(st.st_mode))        /* left unfollowed (O_NOFOLLOW), or put there since the walk */
                return (a->kflags & (O_PATH | O_NOFOLLOW)) == (O_PATH | O_NOFOLLOW) ? TAKE_FD(fd) : -ELOOP;
        return reopen(fd, a->kflags, a->flags);
}

/* An open where a t rule decides: a new file is always made with O_EXCL,
 * so it is known to be the broker's and recorded from its fd; an
 * O_TMPFILE file, which has no name, likewise in a directory where the
 * sandbox may make names.  Everything else is private_existing(). */
static int private_open(const struct openhook_policy *p, struct target *t, const struct open_args *a,
                        struct oh_verdict *v)
{
        int r;

        if ((a->kflags & O_TMPFILE) == O_TMPFILE) {
                const struct oh_rule *rule = oh_policy_match(p, t->path);
                bool mine = !t->walk_error && (t->len == rule->len || created_at(p, t->path));

                r = mine ? 0 : decide(p, t, a->needed, v);
                return r < 0 ? r : record_new(p, act_open(t, a->kflags, a->mode, a->flags));
        }
        if ((a->kflags & O_CREAT) && grants(p, t, C)) {
                r = decide(p, t, C, v);
                if (r < 0)
                        return r;
                /* EEXIST is O_EXCL's answer (mkstemp tries another name). */
                r = record_new(p, act_open(t, (a->kflags | O_EXCL) & ~(uint64_t) O_TRUNC, a->mode, a->flags));
                if (r != -EEXIST || (a->kflags & O_EXCL))
                        return r;
        } else if ((a->kflags & O_CREAT) && (a->kflags & O_EXCL))
                return decide(p, t, C, v);
        return private_existing(p, t, a, v);
}

/* The letters O_CREAT needs depend on what is there: c to create, the
 * ordinary ones to open what exists.  Never create, truncate or write
 * without the letter for it, even if the request then fails. */
static int open_op(const struct openhook_policy *p, struct target *t, const void *args, struct oh_verdict *v)
{
        const struct open_args *a = args;
        unsigned letters = oh_policy_letters(p, t->path);
        int r;

        if (letters & OPENHOOK_PERM_T)
                return private_open(p, t, a, v);

        if (!(a->kflags & O_CREAT) || (a->kflags & O_EXCL)) {
                r = decide(p, t, a->kflags & O_CREAT ? C : a->needed, v);
                return r < 0 ? r : act_open(t, a->kflags, a->mode, a->flags);
        }
        if (!(letters & C)) {
                r = decide(p, t, a->needed, v);
                if (r == -ENOENT && t->missing)
                        return refuse(p, t->path, a->needed | C, v);    /* a new name */
                if (r < 0)
                        return r;
                r = act_open(t, a->kflags & ~(uint64_t) O_CREAT, 0, a->flags);
                return r == -ENOENT ? refuse(p, t->path, a->needed | C, v) : r;
        }
        r = decide(p, t, C, v);
        if (r < 0)
                return r;
        if ((letters & a->needed) == a->needed)
                return act_open(t, a->kflags, a->mode, a->flags);
        r = act_open(t, a->kflags | O_EXCL, a->mode, a->flags);
        return r == -EEXIST ? refuse(p, t->path, a->needed, v) : r;
}

static unsigned access_letters(uint32_t flags)
{
        switch (flags & O_ACCMODE) {
        case O_RDONLY:
                return R;
        case O_WRONLY:
                return W;
        default:
                return R | W;
        }
}

/* Validates FLAGS and works out what to ask of the kernel and the policy. */
static int open_prepare(uint32_t flags, uint32_t mode, struct open_args *a)
{
        if ((flags & ~(uint32_t) KNOWN_OPEN_FLAGS) || (flags & O_ACCMODE) == O_ACCMODE)
                return -EINVAL;
        *a = (struct open_args) { .flags = flags, .mode = mode & MODE_BITS };
        if (flags & O_PATH) {
                a->kflags = O_PATH | O_CLOEXEC | (flags & (O_NOFOLLOW | O_DIRECTORY));
                a->needed = R;
                return 0;
        }
        a->kflags = (flags & ~(uint32_t) KERNEL_O_LARGEFILE) | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
        if ((flags & O_TMPFILE) == O_TMPFILE) {
                if ((flags & O_ACCMODE) == O_RDONLY || (flags & O_CREAT))
                        return -EINVAL;
                a->needed = C | W;
                return 0;
        }
        a->needed = access_letters(flags) | (flags & O_TRUNC ? W : 0);
        return 0;
}

static bool follows_last(uint32_t flags)
{
        if (flags & O_NOFOLLOW)
                return false;
        return (flags & (O_CREAT | O_EXCL)) != (O_CREAT | O_EXCL);
}

#if OH_TEST_BYPASS_POLICY
/* TEST ONLY (meson -Dtest_bypass_policy=true): lets a test show that the
 * broker's self-confinement holds even if its policy check were wrong. */
static bool bypass_policy(void)
{
        const char *e = getenv("OPENHOOK_TEST_BYPASS_POLICY");

        return e && strcmp(e, "1") == 0;
}
#endif

int oh_do_open(const struct openhook_policy *p, const char *path, uint32_t flags, uint32_t mode, struct oh_verdict *v)
{
        struct open_args a;
        int r;

#if OH_TEST_BYPASS_POLICY
        if (bypass_policy()) {
                verdict_reset(v);
                r = openat(AT_FDCWD, path, (int) flags | O_CLOEXEC, (mode_t) mode);
                return r < 0 ? oh_negerrno() : r;
        }
#endif
        r = open_prepare(flags, mode, &a);
        if (r < 0) {
                verdict_reset(v);
                return r;
        }
        return with_path(p, path, follows_last(flags), a.needed, open_op, &a, v);
}

/* ---- Operations on a name in a directory ------------------------------- */

/* Opens the parent of C for an *at() call and points *NAME at C's last
 * component.  "/" has no parent: ROOT_ERROR. */
static int open_parent(struct target *t, const char **name, int root_error)
{
        char *slash = strrchr(t->path, '/');
        int fd;

        if (t->len <= 1)
                return root_error;
        *slash = '\0';
        fd = on_procfs(t, openat2_strict(slash == t->path ? "/" : t->path, O_PATH | O_DIRECTORY | O_CLOEXEC, 0));
        *slash = '/';
        *name = slash + 1;
        return fd;
}

enum name_op { NAME_MKDIR, NAME_UNLINK, NAME_RMDIR, NAME_SYMLINK };

struct name_args {
        enum name_op op;
        unsigned needed;
        uint32_t mode;
        const char *target;
};

static int name_op(const struct openhook_policy *p, struct target *t, const void *args, struct oh_verdict *v)
{
        const struct name_args *a = args;
        _cleanup_close_ int dfd = -1;
        const char *name;
        int r;

        r = decide(p, t, a->needed, v);
        if (r < 0)
                return r;
        dfd = open_parent(t, &name, a->op == NAME_MKDIR || a->op == NAME_SYMLINK ? -EEXIST : -EBUSY);
        if (dfd < 0)
                return parent_failed(dfd);
        struct oh_object gone = {};
        if (a->op == NAME_UNLINK || a->op == NAME_RMDIR) {
                r = private_removable(p, t, dfd, name, &gone, v);
                if (r < 0)
                        return r;
        }
        switch (a->op) {
        case NAME_MKDIR:
                r = mkdirat(dfd, name, a->mode & MODE_BITS);
                break;
        case NAME_UNLINK:
                r = unlinkat(dfd, name, 0);
                break;
        case NAME_RMDIR:
                r = unlinkat(dfd, name, AT_REMOVEDIR);
                break;
        case NAME_SYMLINK:
                r = symlinkat(a->target, dfd, name);
                break;
        }
        if (r < 0)
                return oh_negerrno();
        private_removed(p, &gone);
        return a->op == NAME_MKDIR || a->op == NAME_SYMLINK ? private_record(p, t, dfd, name) : 0;
}

static int do_name_op(const struct openhook_policy *p, const char *path, const struct name_args *a, struct oh_verdict *v)
{
        return with_path(p, path, false, a->needed, name_op, a, v);
}

int oh_do_mkdir(const struct openhook_policy *p, const char *path, uint32_t mode, struct oh_verdict *v)
{
        return do_name_op(p, path, &(struct name_args) { .op = NAME_MKDIR, .needed = C, .mode = mode }, v);
}

int oh_do_unlink(const struct openhook_policy *p, const char *path, struct oh_verdict *v)
{
        return do_name_op(p, path, &(struct name_args) { .op = NAME_UNLINK, .needed = D }, v);
}

int oh_do_rmdir(const struct openhook_policy *p, const char *path, struct oh_verdict *v)
{
        return do_name_op(p, path, &(struct name_args) { .op = NAME_RMDIR, .needed = D }, v);
}

/* The target string is not checked: whoever uses the link later has it
 * resolved under the policy. */
int oh_do_symlink(const struct openhook_policy *p, const char *target, const char *linkpath, struct oh_verdict *v)
{
        if (!target[0]) {
                verdict_reset(v);
                return -ENOENT;
        }
        return do_name_op(p, linkpath, &(struct name_args) { .op = NAME_SYMLINK, .needed = C, .target = target }, v);
}

struct truncate_args {
        uint64_t length;
};

static int truncate_op(const struct openhook_policy *p, struct target *t, const void *args, struct oh_verdict *v)
{
        const struct truncate_args *a = args;
        _cleanup_close_ int fd = -1;
        int r;

        r = decide(p, t, W, v);
        if (r < 0)
                return r;
        fd = act_open(t, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0, O_NONBLOCK);
        if (fd < 0)
                return fd;
        r = private_verify(p, t, fd, W, v);
        if (r < 0)
                return r;
        return ftruncate(fd, (off_t) a->length) < 0 ? oh_negerrno() : 0;
}

int oh_do_truncate(const struct openhook_policy *p, const char *path, uint64_t length, struct oh_verdict *v)
{
        if (length > (uint64_t) INT64_MAX) {
                verdict_reset(v);
                return -EINVAL;
        }
        return with_path(p, path, true, W, truncate_op, &(struct truncate_args) { .length = length }, v);
}

/* ---- Operations on two names: rename and link -------------------------- */

enum pair_op { PAIR_RENAME, PAIR_LINK };

/* Resolves both paths (neither last component followed), decides with
 * CHECK, then acts; walks again on a race like with_path(). */
typedef int (*pair_check)(const struct openhook_policy *p, const struct target *old, const struct target *new,
                          uint32_t *flags, struct oh_verdict *v);

static int act_pair(enum pair_op op, struct target *old, struct target *new, uint32_t flags)
{
        _cleanup_close_ int odfd = -1, ndfd = -1;
        const char *oname, *nname;
        int r;

        odfd = open_parent(old, &oname, -EBUSY);
        if (odfd < 0)
                return parent_failed(odfd);
        ndfd = open_parent(new, &nname, op == PAIR_LINK ? -EEXIST : -EBUSY);
        if (ndfd < 0)
                return parent_failed(ndfd);
        if (op == PAIR_RENAME)
                r = renameat2(odfd, oname, ndfd, nname, flags);
        else
                r = linkat(odfd, oname, ndfd, nname, 0);
        return r < 0 ? oh_negerrno() : 0;
}

static int with_pair(const struct openhook_policy *p, const char *oldpath, const char *newpath, enum pair_op op,
                     uint32_t flags, pair_check check, struct oh_verdict *v)
{
        unsigned budget = MAX_COMPONENTS;
        struct target old, new;

        verdict_reset(v);
        for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
                uint32_t kflags = flags;
                int r;

                r = resolve(p, oldpath, false, D, attempt, false, &budget, &old, v);
                if (r < 0)
                        return r;
                r = resolve(p, newpath, false, C, attempt, false, &budget, &new, v);
                if (r < 0)
                        return r;
                r = check(p, &old, &new, &kflags, v);
                if (r == -EACCES && v->denied && (old.fast || new.fast)) {
                        verdict_reset(v);
                        continue;
                }
                if (r < 0)
                        return r;
                struct oh_object gone = {};
                if (op == PAIR_RENAME && !(kflags & (RENAME_NOREPLACE | RENAME_EXCHANGE)) && private_rule(p, new.path))
                        (void) object_at_path(new.path, &gone);
                r = act_pair(op, &old, &new, kflags);
                if (r == 0)
                        private_removed(p, &gone);      /* replaced */
                if (r == -EEXIST && kflags != flags)
                        return refuse(p, new.path, C | D, v);   /* replacing needs d */
                /* EXDEV from the rename or link itself is the kernel's
                 * answer (another filesystem, or a Landlock domain): final. */
                if (r != -EAGAIN)
                        return r;
        }
        return -ELOOP;
}

/* The r and w letters that TO grants and FROM does not, to the object at
 * FROM (which stays the sandbox's own, or not, at any name). */
static unsigned gained_letters(const struct openhook_policy *p, const char *from, const char *to)
{
        bool own = (private_rule(p, from) || private_rule(p, to)) && created_at(p, from);

        return moved_letters(p, to, own) & ~moved_letters(p, from, own);
}

/* The r and w letters of whatever lies below PATH when no rule lies below
 * it: every name there is then decided by one rule, so a made-up child
 * stands for them all. */
static unsigned letters_below(const struct openhook_policy *p, const char *path)
{
        char child[OPENHOOK_PATH_MAX + 3];

        snprintf(child, sizeof(child), "%s/x", path[1] ? path : "");
        return oh_policy_letters(p, child) & (R | W);
}

static bool is_directory(const struct target *t)
{
        struct stat st;
        int rootfd = root();

        return rootfd >= 0 && fstatat(rootfd, t->path[1] ? t->path + 1 : ".", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
               S_ISDIR(st.st_mode);
}

static int refuse_moving(const char *path, struct oh_verdict *v)
{
        v->denied = 1;
        snprintf(v->hint, sizeof(v->hint), "%s has a rule below it: never moved", path);
        return -EACCES;
}

/* A rename carries the object at FROM, and everything below it, to TO.
 * Rules decide by path, so that must not hand it to a rule that grants
 * more: refused if TO grants r or w that FROM does not, whatever the
 * object is (a file it could not read or write where it was must not
 * become readable or writable by moving; a hard-linked file is only ever
 * checked against the name it leaves, never against its other names).
 * That compares paths alone and always holds.  For what lies below:
 * refused if a rule lies below either name (it would stop deciding on what
 * it names, or start deciding on what moves in), or if a directory's
 * contents would get more of r and w than they had (an exact rule on the
 * directory itself may grant d while its contents are denied).  Moving a
 * directory into place is itself a checked rename, so checking the type
 * here is enough but for the race in doc/DESIGN.md. */
static int move_check(const struct openhook_policy *p, const struct target *from, const struct target *to,
                      struct oh_verdict *v)
{
        unsigned gained;

        if (oh_policy_rule_below(p, from->path))
                return refuse_moving(from->path, v);
        if (oh_policy_rule_below(p, to->path))
                return refuse_moving(to->path, v);
        gained = gained_letters(p, from->path, to->path);
        if (!gained && is_directory(from))
                gained = letters_below(p, to->path) & ~letters_below(p, from->path);
        return gained ? refuse(p, from->path, gained, v) : 0;
}

/* Renaming needs d on the old name and c on the new one, plus d there if
 * it replaces something: without it the kernel is told RENAME_NOREPLACE.
 * Exchanging moves both names both ways, so both need c and d. */
static int rename_check(const struct openhook_policy *p, const struct target *old, const struct target *new,
                        uint32_t *flags, struct oh_verdict *v)
{
        bool exchange = *flags & RENAME_EXCHANGE;
        unsigned both = exchange ? C | D : 0;
        int r;

        r = decide(p, old, D | both, v);
        if (r < 0)
                return r;
        r = decide(p, new, C | both, v);
        if (r < 0)
                return r;
        r = move_check(p, old, new, v);
        if (r == 0 && exchange)
                r = move_check(p, new, old, v);
        if (r < 0)
                return r;
        if (!grants(p, new, D))
                *flags |= RENAME_NOREPLACE;
        return 0;
}

int oh_do_rename(const struct openhook_policy *p, const char *oldpath, const char *newpath, uint32_t flags, struct oh_verdict *v)
{
        if ((flags & ~(uint32_t) (RENAME_NOREPLACE | RENAME_EXCHANGE)) ||
            (flags & (RENAME_NOREPLACE | RENAME_EXCHANGE)) == (RENAME_NOREPLACE | RENAME_EXCHANGE)) {
                verdict_reset(v);
                return -EINVAL;
        }
        return with_pair(p, oldpath, newpath, PAIR_RENAME, flags, rename_check, v);
}

/* A hard link gives the inode a second name; that name must not grant
 * more of r and w than the first, or linking would widen access (the rule
 * a rename of that name then meets).  The old name must lie in the policy
 * at all. */
static int link_check(const struct openhook_policy *p, const struct target *old, const struct target *new,
                      uint32_t *flags, struct oh_verdict *v)
{
        unsigned gained = gained_letters(p, old->path, new->path);
        int r;

        r = decide(p, new, C, v);
        if (r < 0)
                return r;
        if (!held_letters(p, old->path) || gained)
                return refuse_target(p, old, gained ? gained : R, v);
        return decide(p, old, 0, v);
}

int oh_do_link(const struct openhook_policy *p, const char *oldpath, const char *newpath, struct oh_verdict *v)
{
        return with_pair(p, oldpath, newpath, PAIR_LINK, 0, link_check, v);
}

/* ---- Metadata: chmod, utimens and chown ---------------------------------- */

/* The object at C is opened O_PATH (the symlink itself when not following)
 * and changed through that fd with AT_EMPTY_PATH, so the change lands on
 * exactly the inode the decision was about: there is no second lookup by
 * name that a concurrent rename or symlink swap could redirect.  O_PATH
 * opens nothing, so a FIFO or device never blocks the broker and no open
 * side effect happens.  fchmodat2() is the only chmod that takes
 * AT_EMPTY_PATH on an O_PATH fd (Linux 6.6); an older kernel answers
 * -ENOSYS, which clients take as "not supported". */
#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452       /* the same number on every architecture */
#endif

enum meta_op { META_CHMOD, META_UTIMENS, META_CHOWN };

struct meta_args {
        enum meta_op op;
        bool follow;
        uint32_t mode;
        const struct timespec *times;
        uid_t uid;
        gid_t gid;
};

static int meta_op(const struct openhook_policy *p, struct target *t, const void *args, struct oh_verdict *v)
{
        const struct meta_args *a = args;
        _cleanup_close_ int fd = -1;
        long r;

        r = decide(p, t, W, v);
        if (r < 0)
                return (int) r;
        fd = act_open(t, O_PATH | O_CLOEXEC | (a->follow ? 0 : O_NOFOLLOW), 0, 0);
        if (fd < 0)
                return fd;
        r = private_verify(p, t, fd, W, v);
        if (r < 0)
                return (int) r;
        switch (a->op) {
        case META_CHMOD:
                r = syscall(SYS_fchmodat2, fd, "", a->mode, AT_EMPTY_PATH);
                break;
        case META_UTIMENS:
                r = utimensat(fd, "", a->times, AT_EMPTY_PATH);
                break;
        case META_CHOWN:
                return oh_chown_fd(fd, a->uid, a->gid);
        default:
                return -EINVAL;
        }
        return r < 0 ? oh_negerrno() : 0;
}

static int do_meta(const struct openhook_policy *p, const char *path, uint32_t flags, struct meta_args *a,
                   struct oh_verdict *v)
{
        if (flags & ~(uint32_t) AT_SYMLINK_NOFOLLOW) {
                verdict_reset(v);
                return -EINVAL;
        }
        a->follow = !(flags & AT_SYMLINK_NOFOLLOW);
        return with_path(p, path, a->follow, W, meta_op, a, v);
}

/* Setuid, setgid and sticky are never granted, as on create. */
int oh_do_chmod(const struct openhook_policy *p, const char *path, uint32_t mode, uint32_t flags, struct oh_verdict *v)
{
        return do_meta(p, path, flags, &(struct meta_args) { .op = META_CHMOD, .mode = mode & MODE_BITS }, v);
}

int oh_do_utimens(const struct openhook_policy *p, const char *path, const struct timespec times[2], uint32_t flags,
                  struct oh_verdict *v)
{
        return do_meta(p, path, flags, &(struct meta_args) { .op = META_UTIMENS, .times = times }, v);
}

/* Only a change that leaves owner and group as they are (oh_chown_fd()).
 * A refusal is EPERM, as the kernel's for chown and the fd form's. */
int oh_do_chown(const struct openhook_policy *p, const char *path, uint32_t uid, uint32_t gid, uint32_t flags,
                struct oh_verdict *v)
{
        int r = do_meta(p, path, flags, &(struct meta_args) { .op = META_CHOWN, .uid = uid, .gid = gid }, v);

        return r == -EACCES && v->denied ? -EPERM : r;
}

/* ---- access(2) ------------------------------------------------------------ */

/* access() must say what open() and the other requests would do, so it
 * asks the letters they need: r to read; w to write a file, and c in a
 * directory (the letter that lets names be made there); F_OK and X_OK
 * of a directory nothing beyond being a path the peer may know of.  The
 * broker executes nothing for anyone, so X_OK of any other file is
 * refused: a program under openhook run executes only its direct set,
 * which the kernel answers before asking us.  What the policy allows
 * is then asked of the kernel on the very object, with our
 * credentials. */
struct access_args {
        uint32_t mode;
        uint32_t flags;
};

/* The letters to name in a refusal's hint before the type is known. */
static unsigned access_hint(uint32_t mode)
{
        return mode & W_OK ? (mode & (R_OK | X_OK) ? R | W : W) : R;
}

static int access_needed(uint32_t mode, bool dir, unsigned *needed)
{
        *needed = (mode & R_OK ? R : 0) | (mode & W_OK ? (dir ? C : W) : 0);
        return (mode & X_OK) && !dir ? -EACCES : 0;
}

/* What an X_OK refusal tells whoever runs the broker: what runs is what
 * Landlock lets the program execute, which an x rule grants. */
static void execute_hint(const struct openhook_policy *p, const char *path, struct oh_verdict *v)
{
        v->denied = 1;
        oh_policy_hint(p, path, OPENHOOK_PERM_X, v->hint, sizeof(v->hint));
}

static int access_op(const struct openhook_policy *p, struct target *t, const void *args, struct oh_verdict *v)
{
        const struct access_args *a = args;
        _cleanup_close_ int fd = -1;
        unsigned needed;
        struct stat st;
        int r;

        /* The type decides the letters, and is told only of a path the
         * peer may know of.  A peer that may stat(2) any path learns that
         * it exists, as from the kernel (F_OK of a file it may not read). */
        if (!may_reveal(p, t->path)) {
                r = refuse_target(p, t, access_hint(a->mode), v);
                if (a->mode & X_OK)
                        execute_hint(p, t->path, v);
                if (r == -EACCES && a->mode == F_OK && oh_policy_reveals_missing(p) && !t->fast &&
                    !t->walk_error) {
                        verdict_reset(v);
                        return 0;
                }
                return r;
        }
        r = decide(p, t, 0, v);
        if (r < 0)
                return r;
        fd = act_open(t, O_PATH | O_CLOEXEC | (a->flags & AT_SYMLINK_NOFOLLOW ? O_NOFOLLOW : 0), 0, 0);
        if (fd < 0)
                return fd;
        if (fstat(fd, &st) < 0)
                return oh_negerrno();
        if (access_needed(a->mode, S_ISDIR(st.st_mode), &needed) < 0) {
                execute_hint(p, t->path, v);
                return -EACCES;
        }
        r = decide(p, t, needed, v);
        if (r < 0)
                return r;
        r = faccessat(fd, "", (int) a->mode, AT_EMPTY_PATH | (int) (a->flags & AT_EACCESS));
        return r < 0 ? oh_negerrno() : 0;
}

int oh_do_access(const struct openhook_policy *p, const char *path, uint32_t mode, uint32_t flags,
                 struct oh_verdict *v)
{
        struct access_args a = { .mode = mode, .flags = flags };

        if ((mode & ~(uint32_t) (R_OK | W_OK | X_OK)) || (flags & ~(uint32_t) (AT_EACCESS | AT_SYMLINK_NOFOLLOW))) {
                verdict_reset(v);
                return -EINVAL;
        }
        return with_path(p, path, !(flags & AT_SYMLINK_NOFOLLOW), access_hint(mode), access_op, &a, v);
}

/* ---- UNIX sockets by path ---------------------------------------------- */

static int socket_op(const struct openhook_policy *p, struct target *t, const void *args, struct oh_verdict *v)
{
        _cleanup_close_ int fd = -1;
        int r = decide(p, t, W, v);

        if (r < 0)
                return r;
        fd = act_open(t, O_PATH | O_CLOEXEC, 0, 0);
        r = fd < 0 ? fd : private_verify(p, t, fd, W, v);
        return r < 0 ? r : TAKE_FD(fd);
}

int oh_do_socket_path(const struct openhook_policy *p, const char *path, struct oh_verdict *v)
{
        struct stat st;
        int fd = with_path(p, path, true, W, socket_op, NULL, v);

        if (fd < 0)
                return fd;
        /* What connect(2) answers for a name that is not a socket. */
        if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
                close(fd);
                return -ECONNREFUSED;
        }
        return fd;
}
