/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Landlock through the raw syscalls: glibc has no wrappers, and the
 * installed kernel headers may be older than the running kernel, so the
 * rights added after ABI 1 are defined here when the header lacks them. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <linux/landlock.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "landlock.h"
#include "hashtab.h"
#include "ll_set.h"
#include "util.h"

#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif
/* ABI 4: TCP; ABI 6: scopes.  Named here, as the header may predate them. */
#define OH_LL_NET_BIND_TCP (1ULL << 0)
#define OH_LL_NET_CONNECT_TCP (1ULL << 1)
#define OH_LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define OH_LL_SCOPE_SIGNAL (1ULL << 1)

/* The kernel's struct landlock_ruleset_attr as of ABI 6; a prefix of it is
 * passed, as long as the running ABI knows. */
struct oh_ll_ruleset_attr {
        uint64_t handled_access_fs;
        uint64_t handled_access_net;
        uint64_t scoped;
};

#define LL_MAKE_ANY (LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR | \
                     LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK | \
                     LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK | \
                     LANDLOCK_ACCESS_FS_MAKE_SYM)

/* The kernel refuses directory-only rights on a rule for a non-directory. */
#define LL_FILE_RIGHTS (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | \
                        LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE | \
                        LANDLOCK_ACCESS_FS_IOCTL_DEV)

/* What each ABI version can handle; a ruleset may only name those. */
static uint64_t ll_handled(int abi)
{
        uint64_t fs = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;   /* ABI 1: bits 0..12 */

        if (abi >= 2)
                fs |= LANDLOCK_ACCESS_FS_REFER;
        if (abi >= 3)
                fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
        if (abi >= 5)
                fs |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
        return fs;
}

/* REFER goes with both sides: a cross-directory rename or link needs it at
 * the source (which loses the name) and at the target (which gains it). */
static uint64_t ll_rights(unsigned int access)
{
        uint64_t fs = 0;

        if (access & OH_LL_READ)
                fs |= LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;
        if (access & OH_LL_WRITE)
                fs |= LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_TRUNCATE;
        if (access & OH_LL_EXEC)
                fs |= LANDLOCK_ACCESS_FS_EXECUTE;
        if (access & OH_LL_CREATE)
                fs |= LL_MAKE_ANY | LANDLOCK_ACCESS_FS_REFER;
        if (access & OH_LL_DELETE)
                fs |= LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |
                      LANDLOCK_ACCESS_FS_REFER;
        if (access & OH_LL_DEV)
                fs |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
        return fs;
}

/* Asked once: the answer cannot change while we run, and run asks for it
 * at each step of its start (a system call each).  Any thread may store
 * it, all store the same. */
int oh_landlock_abi(void)
{
        static atomic_int known;
        int abi = atomic_load_explicit(&known, memory_order_relaxed);

        if (abi != 0)
                return abi;
        long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
        /* ENOSYS: not built in; EOPNOTSUPP: disabled at boot */
        abi = v < 0 ? -EOPNOTSUPP : (int)v;
        atomic_store_explicit(&known, abi, memory_order_relaxed);
        return abi;
}

/* Whether FD's file is a directory, as RULE says or else as the kernel
 * says.  1, 0 or -errno. */
static int ll_is_dir(int fd, const struct oh_ll_rule *rule)
{
        struct stat st;

        if ((rule->access & OH_LL_IS_ANY) == OH_LL_IS_DIR)
                return 1;
        if ((rule->access & OH_LL_IS_ANY) == OH_LL_IS_FILE)
                return 0;
        if (fstat(fd, &st) < 0)
                return oh_negerrno();
        return S_ISDIR(st.st_mode);
}

static int ll_add_path_rule(int ruleset, int fd, unsigned int access, bool dir, uint64_t handled)
{
        struct landlock_path_beneath_attr attr = {
                .allowed_access = ll_rights(access) & handled,
                .parent_fd = fd,
        };

        if (!dir)
                attr.allowed_access &= LL_FILE_RIGHTS;
        if (attr.allowed_access == 0)
                return 0;       /* the kernel rejects an empty rule */
        if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &attr, 0) < 0)
                return oh_negerrno();
        return 0;
}

/* Opens the rules' paths by name from their directory: sorted rules
 * (ll_set.h) open it once for its siblings; rules queued as they were
 * found come in no order (a learned policy's files, directory after
 * directory in turn), so the directories seen most are kept open, by
 * their path's hash, up to LL_DIRS_OPEN of them.  The fds of the rules
 * added and of the directories left are closed together (close_range()
 * over each run of consecutive numbers).  With thousands of rules, each
 * of a file, that leaves an open and a landlock_add_rule per rule. */
#define LL_DIR_SLOTS 128
#define LL_DIRS_OPEN 64
#define LL_DIR_OPEN_AT 4        /* rules seen in one first */

struct ll_dir {
        const char *path;       /* PATH[0..LEN) names it (a rule's path); NULL: a free slot */
        size_t len;
        unsigned int seen;
        int fd;                 /* O_PATH, or -1 */
};

struct ll_opener {
        int ruleset;
        uint64_t handled;
        int dir_fd;             /* the directory DIR[0..DIR_LEN), or -1 */
        const char *dir;
        size_t dir_len;
        int fds[64];            /* to close */
        size_t n_fds;
        struct ll_dir dirs[LL_DIR_SLOTS];
        size_t n_dirs, n_dirs_open;
};

static int ll_fd_cmp(const void *a, const void *b)
{
        return *(const int *) a - *(const int *) b;
}

/* Directories' fds were opened before their files' and come after them:
 * sorted, the numbers make longer runs. */
static void ll_close_fds(struct ll_opener *o)
{
        qsort(o->fds, o->n_fds, sizeof(o->fds[0]), ll_fd_cmp);
        for (size_t i = 0, j; i < o->n_fds; i = j) {
                for (j = i + 1; j < o->n_fds && o->fds[j] == o->fds[j - 1] + 1; j++)
                        ;
                if (j - i == 1 || close_range((unsigned int) o->fds[i], (unsigned int) o->fds[j - 1], 0) < 0)
                        for (size_t k = i; k < j; k++)
                                close(o->fds[k]);
        }
        o->n_fds = 0;
}

static void ll_keep_fd(struct ll_opener *o, int fd)
{
        if (o->n_fds == ELEMENTSOF(o->fds))
                ll_close_fds(o);
        o->fds[o->n_fds++] = fd;
}

static void ll_opener_done(struct ll_opener *o)
{
        for (size_t i = 0; i < LL_DIR_SLOTS; i++)
                if (o->dirs[i].path && o->dirs[i].fd >= 0)
                        ll_keep_fd(o, o->dirs[i].fd);
        if (o->dir_fd >= 0)
                ll_keep_fd(o, o->dir_fd);
        ll_close_fds(o);
}

/* The length of PATH's directory: up to its last '/' (0 for "/x"). */
static size_t ll_dir_len(const char *path)
{
        return (size_t) (strrchr(path, '/') - path);
}

/* The directory PATH[0..LEN) opened O_PATH, or -1. */
static int ll_open_dir(const char *path, size_t len)
{
        char dir[PATH_MAX];

        if (len >= sizeof(dir))
                return -1;
        memcpy(dir, path, len);
        dir[len] = '\0';
        return open(dir, O_PATH | O_CLOEXEC);
}

/* FD moved above the numbers rules' fds take, if the limit allows: a
 * directory kept open among them would cut their runs, which are closed
 * together (ll_close_fds()). */
#define LL_HIGH_FD 256

static int ll_high_fd(int fd)
{
        int high = fd >= 0 && fd < LL_HIGH_FD ? fcntl(fd, F_DUPFD_CLOEXEC, LL_HIGH_FD) : -1;

        if (high < 0)
                return fd;
        close(fd);
        return high;
}

/* The fd of the directory PATH[0..LEN) if it is kept open, or once it
 * is worth keeping open; else -1.  Each look-up counts a rule in it. */
static int ll_kept_dir(struct ll_opener *o, const char *path, size_t len)
{
        size_t i = oh_hash(0, path, len) % LL_DIR_SLOTS;
        struct ll_dir *d;

        for (;; i = (i + 1) % LL_DIR_SLOTS) {
                d = &o->dirs[i];
                if (!d->path && o->n_dirs == LL_DIR_SLOTS / 2)
                        return -1;      /* kept at most half full: few probes */
                if (!d->path) {
                        *d = (struct ll_dir) { path, len, 0, -1 };
                        o->n_dirs++;
                }
                if (d->len == len && memcmp(d->path, path, len) == 0)
                        break;
        }
        if (d->fd < 0 && ++d->seen >= LL_DIR_OPEN_AT && o->n_dirs_open < LL_DIRS_OPEN) {
                d->fd = ll_high_fd(ll_open_dir(path, len));
                o->n_dirs_open += d->fd >= 0;
        }
        return d->fd;
}

/* PATH opened O_PATH, by name from its directory when that is open:
 * kept open while the next rules' paths (NEXT, or NULL) lie in it too,
 * or kept among those of rules in no order; -errno. */
static int ll_open(struct ll_opener *o, const char *path, const char *next)
{
        size_t len = ll_dir_len(path);
        const char *name = path + len + 1;
        int dir_fd = o->dir_fd >= 0 && o->dir_len == len && strncmp(o->dir, path, len) == 0 ? o->dir_fd : -1;

        if (dir_fd < 0 && len > 0 && *name && next && ll_dir_len(next) == len && strncmp(next, path, len) == 0) {
                if (o->dir_fd >= 0)
                        ll_keep_fd(o, o->dir_fd);
                dir_fd = o->dir_fd = ll_open_dir(path, len);
                o->dir = path;
                o->dir_len = len;
        } else if (dir_fd < 0 && len > 0 && *name)
                dir_fd = ll_kept_dir(o, path, len);
        int fd = dir_fd >= 0 ? openat(dir_fd, name, O_PATH | O_CLOEXEC) : open(path, O_PATH | O_CLOEXEC);
        return fd < 0 ? oh_negerrno() : fd;
}

static int ll_add_rule(struct ll_opener *o, const struct oh_ll_rule *rule, const char *next)
{
        int fd = ll_open(o, rule->path, next);

        if (fd < 0)
                return fd == -ENOENT || fd == -ENOTDIR ? 0 : fd;
        ll_keep_fd(o, fd);
        int dir = ll_is_dir(fd, rule);
        if (dir < 0)
                return dir;
        int r = ll_add_path_rule(o->ruleset, fd, rule->access, dir, o->handled);
        /* A directory, as the rule was told, that became a file since:
         * what the kernel says now. */
        if (r == -EINVAL && (rule->access & OH_LL_IS_ANY)) {
                struct oh_ll_rule asked = { .path = rule->path, .access = rule->access | OH_LL_IS_ANY };

                dir = ll_is_dir(fd, &asked);
                r = dir < 0 ? dir : ll_add_path_rule(o->ruleset, fd, rule->access, dir, o->handled);
        }
        return r;
}

/* Rules queued for a ruleset being built, in order: the caller's array,
 * or a batch of copies (struct ll_batch).  Both live until the end. */
struct ll_segment {
        struct ll_segment *next;
        const struct oh_ll_rule *v;
        size_t n;
        size_t taken;           /* the first rule no thread has taken */
};

/* Rules queued one by one (oh_landlock_build_add()), their paths copied
 * here: the caller's may be gone by the time a thread adds them.  A
 * batch is queued once full, so the other thread takes a lock per batch,
 * not per rule. */
#define LL_BATCH 128
#define LL_BATCH_BYTES 8192     /* holds PATH_MAX */

struct ll_batch {
        struct ll_segment seg;
        size_t used;            /* bytes of PATHS */
        struct oh_ll_rule v[LL_BATCH];
        char paths[LL_BATCH_BYTES];
};

/* A ruleset being built: by a second thread once there are many rules,
 * and by the caller's too from oh_landlock_build_finish().  The kernel
 * takes rules for one ruleset from several threads at once (it locks the
 * ruleset for each); the second thread is gone before the caller
 * restricts itself with it, and never runs confined. */
struct oh_ll_build {
        int ruleset;
        uint64_t handled;
        pthread_mutex_t lock;           /* for everything down to ERROR */
        pthread_cond_t queued;          /* more rules, the last ones, or an error */
        struct ll_segment *first, *last;
        struct ll_segment *next;        /* the first with rules no thread has taken */
        size_t left;                    /* rules queued and not taken */
        bool complete;                  /* no more will be queued */
        int error;                      /* the first, which stops both threads */
        struct ll_batch *filling;       /* the caller's, not queued yet */
        size_t n_queued;
        pthread_t helper;
        bool threaded;
        atomic_int helper_tid;          /* the second thread's, once it runs */
};

/* Consecutive rules mostly share a directory, opened once for them, so
 * they are taken LL_CHUNK at a time; once all are queued, fewer towards
 * the end, so that neither thread waits long for the other's last ones. */
#define LL_CHUNK 128
#define LL_CHUNK_MIN 16

/* Below this many rules a second thread costs more than it saves (its
 * creation and join: 60-230 us on our 2-CPU VM; a rule: 4-6 us). */
#define LL_THREADED_MIN 512

/* Rules taken to add: V[N], and whether V[N] is the next rule queued
 * (ll_open() looks at it). */
struct ll_chunk {
        const struct oh_ll_rule *v;
        size_t n;
        bool more;
};

static size_t ll_chunk_size(const struct oh_ll_build *b, size_t in_segment)
{
        size_t k = b->complete ? b->left / 4 : LL_CHUNK;

        k = k < LL_CHUNK_MIN ? LL_CHUNK_MIN : k > LL_CHUNK ? LL_CHUNK : k;
        return k < in_segment ? k : in_segment;
}

/* Takes the next rules to add into *C: false when none are left, or on
 * an error.  Waits for rules while more may be queued. */
static bool ll_take(struct oh_ll_build *b, struct ll_chunk *c)
{
        pthread_mutex_lock(&b->lock);
        for (;;) {
                while (b->next && b->next->taken == b->next->n)
                        b->next = b->next->next;
                if (b->error < 0 || b->next || b->complete)
                        break;
                pthread_cond_wait(&b->queued, &b->lock);
        }
        struct ll_segment *s = b->error < 0 ? NULL : b->next;
        if (s) {
                size_t k = ll_chunk_size(b, s->n - s->taken);

                *c = (struct ll_chunk) { s->v + s->taken, k, s->taken + k < s->n };
                s->taken += k;
                b->left -= k;
        }
        pthread_mutex_unlock(&b->lock);
        return s != NULL;
}

static void ll_fail(struct oh_ll_build *b, int error)
{
        pthread_mutex_lock(&b->lock);
        if (b->error == 0)
                b->error = error;
        pthread_cond_broadcast(&b->queued);
        pthread_mutex_unlock(&b->lock);
}

static void ll_add_chunks(struct oh_ll_build *b)
{
        __attribute__((cleanup(ll_opener_done))) struct ll_opener o = {
                .ruleset = b->ruleset, .handled = b->handled, .dir_fd = -1,
        };
        struct ll_chunk c;
        int r = 0;

        while (r >= 0 && ll_take(b, &c))
                for (size_t i = 0; r >= 0 && i < c.n; i++)
                        r = ll_add_rule(&o, &c.v[i], i + 1 < c.n || c.more ? c.v[i + 1].path : NULL);
        if (r < 0)
                ll_fail(b, r);
}

/* The second thread.  With a file table of its own, the fds it opens are
 * numbered one after the other (the kernel gives the lowest free number,
 * and the other thread's opens no longer take every other one), so it
 * closes them by ranges, as the first thread does its own.  The copy of
 * the table (the ruleset's fd among them) goes when the thread ends.
 * Without a table of its own it leaves every rule to the first thread. */
static void *ll_helper_main(void *arg)
{
        struct oh_ll_build *b = arg;

        atomic_store(&b->helper_tid, gettid());
        if (unshare(CLONE_FILES) == 0)
                ll_add_chunks(b);
        return NULL;
}

/* Starts the second thread, which blocks every signal (the broker's
 * handlers are the main thread's business). */
static bool ll_start_helper(struct oh_ll_build *b)
{
        sigset_t all, old;
        bool started;

        if (sigfillset(&all) < 0 || pthread_sigmask(SIG_SETMASK, &all, &old) != 0)
                return false;
        started = pthread_create(&b->helper, NULL, ll_helper_main, b) == 0;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return started;
}

/* Queues S (V[N] set); from THREADED_MIN rules on, a second thread adds
 * them (without it, oh_landlock_build_finish() adds them all). */
static void ll_queue(struct oh_ll_build *b, struct ll_segment *s, size_t threaded_min)
{
        pthread_mutex_lock(&b->lock);
        if (b->last)
                b->last->next = s;
        else
                b->first = s;
        b->last = s;
        if (!b->next)
                b->next = s;
        b->left += s->n;
        pthread_cond_signal(&b->queued);
        pthread_mutex_unlock(&b->lock);
        b->n_queued += s->n;
        if (!b->threaded && b->n_queued >= threaded_min)
                b->threaded = ll_start_helper(b);
}

/* A full batch starts the second thread: the caller is still finding
 * rules, time in which the thread adds them (a rule costs about as
 * long to add as to find). */
static void ll_queue_filling(struct oh_ll_build *b)
{
        struct ll_batch *f = TAKE_PTR(b->filling);

        if (f) {
                f->seg.v = f->v;
                ll_queue(b, &f->seg, f->seg.n == LL_BATCH ? 0 : LL_THREADED_MIN);
        }
}

int oh_landlock_build_add(struct oh_ll_build *b, const char *path, size_t len, unsigned int access)
{
        if (len >= LL_BATCH_BYTES)
                return -ENAMETOOLONG;
        if (b->filling && (b->filling->seg.n == LL_BATCH || b->filling->used + len + 1 > LL_BATCH_BYTES))
                ll_queue_filling(b);
        if (!b->filling && !(b->filling = calloc(1, sizeof(*b->filling))))
                return -ENOMEM;

        struct ll_batch *f = b->filling;
        char *copy = memcpy(f->paths + f->used, path, len);

        copy[len] = '\0';
        f->used += len + 1;
        f->v[f->seg.n++] = (struct oh_ll_rule) { .path = copy, .access = access };
        return 0;
}

int oh_landlock_build_queue(struct oh_ll_build *b, const struct oh_ll_rule *rules, size_t n)
{
        struct ll_segment *s = calloc(1, sizeof(*s));

        if (!s)
                return -ENOMEM;
        ll_queue_filling(b);
        *s = (struct ll_segment) { .v = rules, .n = n };
        ll_queue(b, s, LL_THREADED_MIN);
        return 0;
}

/* Joins the second thread and waits until the kernel has let it go: a
 * joined thread is still counted for a moment (pthread_join() returns
 * once it left its memory, before it has left the thread group), and the
 * broker confines itself only when it is alone (src/confine.c), as
 * Landlock and capabilities are per thread. */
static void ll_join_helper(struct oh_ll_build *b)
{
        pthread_join(b->helper, NULL);
        while (syscall(SYS_tgkill, getpid(), atomic_load(&b->helper_tid), 0) == 0)
                sched_yield();
}

/* Batches are segments at their start: freed as one. */
static void ll_build_free(struct oh_ll_build *b)
{
        for (struct ll_segment *s = b->first, *next; s; s = next) {
                next = s->next;
                free(s);
        }
        free(b->filling);
        pthread_cond_destroy(&b->queued);
        pthread_mutex_destroy(&b->lock);
        free(b);
}

int oh_landlock_build_finish(struct oh_ll_build *b)
{
        ll_queue_filling(b);
        pthread_mutex_lock(&b->lock);
        b->complete = true;
        pthread_cond_broadcast(&b->queued);
        pthread_mutex_unlock(&b->lock);
        ll_add_chunks(b);
        if (b->threaded)
                ll_join_helper(b);

        int r = b->error, ruleset = b->ruleset;
        ll_build_free(b);
        if (r < 0) {
                close(ruleset);
                return r;
        }
        return ruleset;
}

void oh_landlock_build_cancel(struct oh_ll_build *b)
{
        ll_fail(b, -ECANCELED);
        (void) oh_landlock_build_finish(b);
}

/* The ruleset's handled rights for FLAGS (OH_LL_APPLY_*) on ABI, and how
 * many bytes of the attribute the kernel must read. */
static size_t ll_ruleset_attr(int abi, unsigned int flags, struct oh_ll_ruleset_attr *attr)
{
        size_t size = sizeof(attr->handled_access_fs);

        *attr = (struct oh_ll_ruleset_attr) { .handled_access_fs = ll_handled(abi) };
        /* No TCP rule is ever added: handling the rights denies them all. */
        if ((flags & OH_LL_APPLY_NO_TCP) && abi >= 4) {
                attr->handled_access_net = OH_LL_NET_BIND_TCP | OH_LL_NET_CONNECT_TCP;
                size = offsetof(struct oh_ll_ruleset_attr, scoped);
        }
        if ((flags & OH_LL_APPLY_SCOPE) && abi >= 6) {
                attr->scoped = OH_LL_SCOPE_ABSTRACT_UNIX_SOCKET | OH_LL_SCOPE_SIGNAL;
                size = sizeof(*attr);
        }
        return size;
}

int oh_landlock_build_start(const struct oh_ll_rule *rules, size_t n, unsigned int flags, struct oh_ll_build **ret)
{
        int abi = oh_landlock_abi();
        if (abi < 0)
                return abi;

        struct oh_ll_ruleset_attr attr;
        size_t size = ll_ruleset_attr(abi, flags, &attr);
        struct oh_ll_build *b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        pthread_mutex_init(&b->lock, NULL);
        pthread_cond_init(&b->queued, NULL);
        b->handled = attr.handled_access_fs;
        b->ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
        int r = b->ruleset < 0 ? oh_negerrno() : n > 0 ? oh_landlock_build_queue(b, rules, n) : 0;
        if (r < 0) {
                if (b->ruleset >= 0)
                        close(b->ruleset);
                ll_build_free(b);
                return r;
        }
        *ret = b;
        return 0;
}

int oh_landlock_ruleset_reduced(const struct oh_ll_rule *rules, size_t n, unsigned int flags)
{
        struct oh_ll_build *b;
        int r = oh_landlock_build_start(rules, n, flags, &b);

        return r < 0 ? r : oh_landlock_build_finish(b);
}

int oh_landlock_ruleset(const struct oh_ll_rule *rules, size_t n, unsigned int flags)
{
        /* Only the rules that add something (ll_set.h); a copy, as they
         * are reordered. */
        _cleanup_free_ struct oh_ll_rule *v = reallocarray(NULL, n ? n : 1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        memcpy(v, rules, n * sizeof(*v));
        (void) oh_ll_rules_reduce(v, &n);       /* -ENOMEM: merged only, as right */
        return oh_landlock_ruleset_reduced(v, n, flags);
}

int oh_landlock_restrict(int ruleset)
{
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return oh_negerrno();
        if (syscall(SYS_landlock_restrict_self, ruleset, 0) < 0)
                return oh_negerrno();
        return 0;
}

int oh_landlock_apply(const struct oh_ll_rule *rules, size_t n, unsigned int flags)
{
        _cleanup_close_ int ruleset = oh_landlock_ruleset(rules, n, flags);

        if (ruleset < 0)
                return ruleset;
        return oh_landlock_restrict(ruleset);
}
