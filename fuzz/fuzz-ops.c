/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the resolver's operations and the rule that renames
 * and links never widen access (doc/DESIGN.md "Moves keep rules deciding
 * what they named").
 *
 * Each input builds the same small tree in a directory made once, states a
 * policy of up to eight rules over it, then runs up to 24 operations
 * (mkdir, symlink, rename in its three forms, link, open, unlink, rmdir,
 * truncate) through oh_do_*(), with names that may pass through `..` and
 * symlinks.  Each object of the starting tree has its exposure: the r and w
 * letters of the names it had.  After every step, judged on disk:
 *
 *   - every name of such an object grants no r or w beyond its exposure,
 *     whatever renames and links did (the invariant under test);
 *   - a file whose exposure lacks w still holds its bytes;
 *   - an fd the broker handed out reads or writes only what the exposure
 *     of its object allows;
 *   - nothing appears in the tree that the step could not have created,
 *     and no fd is left open.
 *
 * Set OH_FUZZ_OPS_STATS=1 to see, at exit, how often each operation was
 * tried and succeeded. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy.h"
#include "resolve.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define R OPENHOOK_PERM_R
#define W OPENHOOK_PERM_W
#define RW (R | W)
#define MAX_STEPS 24
#define MAX_OBJECTS 256

static void require(bool cond)
{
        if (!cond)
                __builtin_trap();
}

/* ---- The input, read a byte at a time (zeros once it runs out) ---------- */

struct input {
        const uint8_t *data;
        size_t size;
};

static unsigned next(struct input *in)
{
        if (in->size == 0)
                return 0;
        in->size--;
        return *in->data++;
}

static const char *pick(struct input *in, const char *const *table, size_t n)
{
        return table[next(in) % n];
}

#define PICK(in, table) pick(in, table, sizeof(table) / sizeof(table[0]))

/* ---- The tree ------------------------------------------------------------ */

static char top[PATH_MAX];      /* made once; the tree is TOP/t */
static char tree[PATH_MAX + 2];

static const char *const dirs[] = { "a", "b", "c", "a/s", "b/s" };
static const char *const files[] = { "a/f", "a/g", "b/f", "c/f", "a/s/f" };

static void build_tree(void)
{
        char p[PATH_MAX + 16];

        require(mkdir(tree, 0755) == 0);
        for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
                snprintf(p, sizeof(p), "%s/%s", tree, dirs[i]);
                require(mkdir(p, 0755) == 0);
        }
        for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
                _cleanup_close_ int fd = -1;

                snprintf(p, sizeof(p), "%s/%s", tree, files[i]);
                fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
                require(fd >= 0 && write(fd, files[i], strlen(files[i])) == (ssize_t) strlen(files[i]));
        }
        /* A second name for a/f, and a symlink between the two subtrees. */
        {
                char q[PATH_MAX + 16];

                snprintf(p, sizeof(p), "%s/a/f", tree);
                snprintf(q, sizeof(q), "%s/b/h", tree);
                require(link(p, q) == 0);
                snprintf(p, sizeof(p), "%s/a/l", tree);
                require(symlink("../b", p) == 0);
        }
}

/* Removes everything in directory DIR (taken) and below. */
static void empty_dir(int dir)
{
        DIR *d = fdopendir(dir);
        struct dirent *e;

        require(d != NULL);
        while ((e = readdir(d))) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                        continue;
                if (unlinkat(dirfd(d), e->d_name, 0) == 0)
                        continue;
                require(errno == EISDIR);
                empty_dir(openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
                require(unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR) == 0);
        }
        closedir(d);
}

static void remove_tree(void)
{
        int fd = open(tree, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

        if (fd < 0) {
                require(errno == ENOENT);
                return;
        }
        empty_dir(fd);
        require(rmdir(tree) == 0);
}

/* ---- What each object may expose ------------------------------------------ */

struct object {
        dev_t dev;
        ino_t ino;
        unsigned exposure;      /* r and w of its names at the start; RW if made since */
        bool original;
        bool seen;              /* met by the current census */
        char content[16];       /* a regular file's bytes at the start */
};

static struct object objects[MAX_OBJECTS];
static size_t n_objects;
static struct openhook_policy *policy;

static struct object *find(const struct stat *st)
{
        for (size_t i = 0; i < n_objects; i++)
                if (objects[i].dev == st->st_dev && objects[i].ino == st->st_ino)
                        return &objects[i];
        return NULL;
}

static bool read_content(int dir, const char *name, char *buf, size_t size)
{
        _cleanup_close_ int fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        ssize_t n;

        if (fd < 0)
                return false;
        n = read(fd, buf, size - 1);
        if (n < 0)
                return false;
        buf[n] = '\0';
        return true;
}

/* One name found by the census, in directory DIR at canonical PATH. */
typedef void (*visit_fn)(int dir, const char *name, const char *path, const struct stat *st, bool may_create);

static void visit_start(int dir, const char *name, const char *path, const struct stat *st, bool may_create)
{
        struct object *o = find(st);

        if (!o) {
                require(n_objects < MAX_OBJECTS);
                o = &objects[n_objects++];
                *o = (struct object) { .dev = st->st_dev, .ino = st->st_ino, .original = true };
                if (S_ISREG(st->st_mode))
                        require(read_content(dir, name, o->content, sizeof(o->content)));
        }
        o->exposure |= oh_policy_letters(policy, path) & RW;
        o->seen = true;
}

static void visit_check(int dir, const char *name, const char *path, const struct stat *st, bool may_create)
{
        struct object *o = find(st);
        char now[sizeof(o->content)];

        if (!o) {
                /* Only a step that makes a name for a new object may add one. */
                require(may_create);
                require(n_objects < MAX_OBJECTS);
                o = &objects[n_objects++];
                *o = (struct object) { .dev = st->st_dev, .ino = st->st_ino, .exposure = RW };
        }
        o->seen = true;
        /* The invariant: no name grants what the object never had. */
        require((oh_policy_letters(policy, path) & RW & ~o->exposure) == 0);
        if (o->original && S_ISREG(st->st_mode) && !(o->exposure & W)) {
                require(read_content(dir, name, now, sizeof(now)));
                require(strcmp(now, o->content) == 0);
        }
}

/* Visits every name below directory DIR (taken), at canonical PATH. */
static void census_dir(int dir, const char *path, visit_fn visit, bool may_create, int depth)
{
        DIR *d = fdopendir(dir);
        struct dirent *e;

        require(d != NULL && depth < 64);
        while ((e = readdir(d))) {
                char sub[PATH_MAX + 256];
                struct stat st;

                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                        continue;
                require(fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0);
                require(snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name) < (int) sizeof(sub));
                visit(dirfd(d), e->d_name, sub, &st, may_create);
                if (S_ISDIR(st.st_mode))
                        census_dir(openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC),
                                   sub, visit, may_create, depth + 1);
        }
        closedir(d);
}

/* Objects no name leads to any more are gone: their inode numbers may be
 * given to new objects.  The tree itself may have been removed (rmdir of
 * "a/.." where the policy lets it be). */
static void census(visit_fn visit, bool may_create)
{
        int fd = open(tree, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        size_t kept = 0;

        for (size_t i = 0; i < n_objects; i++)
                objects[i].seen = false;
        if (fd >= 0)
                census_dir(fd, tree, visit, may_create, 0);
        else
                require(errno == ENOENT);
        for (size_t i = 0; i < n_objects; i++)
                if (objects[i].seen)
                        objects[kept++] = objects[i];
        n_objects = kept;
}

/* ---- The policy: rules on names the tree has or may get ------------------ */

static const char *const rule_paths[] = {
        "", "a", "b", "c", "a/s", "b/s", "a/f", "b/f", "c/f", "b/h", "a/s/f", "c/x", "b/s/x", "a/l",
};

/* A rule from two bytes: where, and what.  Zeros (an input run out) make
 * a subtree rule granting everything, so short inputs still act. */
static void add_rule(struct input *in)
{
        const char *rel = PICK(in, rule_paths);
        unsigned kind = next(in);
        char path[PATH_MAX + 16], letters[8] = "";

        snprintf(path, sizeof(path), "%s%s%s%s", tree, rel[0] ? "/" : "", rel, kind & 1 ? "" : "/");
        if ((kind >> 1) % 6 == 5) {
                require(openhook_policy_deny(policy, path, NULL) == 0);
                return;
        }
        for (unsigned i = 0; i < 4; i++)
                if (!(kind & (16 << i)))
                        strncat(letters, &"rwcd"[i], 1);
        /* t: private temporaries, on subtree rules only.  The tree's
         * objects were made before the broker, so t must never expose
         * them (the fd checks below). */
        if (!(kind & 1) && (kind >> 1) % 6 == 4)
                strcat(letters, "t");
        if (!letters[0])
                strcpy(letters, "r");
        require(openhook_policy_allow(policy, letters, path, NULL) == 0);
}

/* ---- The operations -------------------------------------------------------- */

/* Names the tree has or may get, then what may follow one. */
static const char *const starts[] = {
        "a/f", "a/g", "b/f", "b/h", "c/f", "a/s/f", "a/s", "b/s", "a", "b", "c", "a/l", "a/l/f", "c/x", "b/s/x", "a/x",
};
static const char *const names[] = { "a", "b", "c", "s", "f", "g", "h", "l", "x", "..", "." };

static const char *const targets[] = {
        "../b", "../a/f", "f", "s", "..", "../..", "x", "/etc/passwd", "../c/x", "./././s/../f", "l/f",
};

/* A path below the tree, as a request would name it: mostly one the tree
 * has, sometimes with a name, `..` or `.` after it. */
static void make_path(struct input *in, char *buf, size_t size)
{
        unsigned how = next(in);
        int len = snprintf(buf, size, "%s/%s", tree, starts[how % 16]);

        if (how & 0x30)
                return;
        snprintf(buf + len, size - (size_t) len, "/%s", PICK(in, names));
}

/* A broker fd reads or writes only what its object's exposure allows. */
static void check_fd(int fd, uint32_t flags)
{
        unsigned used = (flags & O_PATH) ? R : (flags & O_ACCMODE) == O_RDONLY ? R :
                        (flags & O_ACCMODE) == O_WRONLY ? W : RW;
        struct object *o;
        struct stat st;

        require(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        require(fstat(fd, &st) == 0);
        if (st.st_nlink == 0)
                return;         /* O_TMPFILE: a new object */
        o = find(&st);
        if (o && o->original)
                require((used & ~o->exposure) == 0);
}

static const uint32_t open_flags[] = {
        O_RDONLY, O_WRONLY, O_RDWR, O_WRONLY | O_TRUNC, O_WRONLY | O_CREAT, O_RDWR | O_CREAT | O_EXCL,
        O_PATH, O_RDONLY | O_NOFOLLOW, O_RDONLY | O_DIRECTORY, O_WRONLY | O_TMPFILE,
};

enum op { OP_MKDIR, OP_SYMLINK, OP_RENAME, OP_LINK, OP_OPEN, OP_UNLINK, OP_RMDIR, OP_TRUNCATE, N_OPS };

static unsigned long tried[N_OPS], succeeded[N_OPS];

/* Runs one operation; true if it may have made a name for a new object. */
static bool step(struct input *in)
{
        static const uint32_t rename_flags[] = { 0, RENAME_NOREPLACE, RENAME_EXCHANGE };
        enum op op = next(in) % N_OPS;
        char a[PATH_MAX + 64], b[PATH_MAX + 64];
        struct oh_verdict v;
        uint32_t flags;
        int r = -EINVAL;

        make_path(in, a, sizeof(a));
        switch (op) {
        case OP_MKDIR:
                r = oh_do_mkdir(policy, a, 0755, &v);
                break;
        case OP_SYMLINK:
                r = oh_do_symlink(policy, PICK(in, targets), a, &v);
                break;
        case OP_RENAME:
                make_path(in, b, sizeof(b));
                r = oh_do_rename(policy, a, b, rename_flags[next(in) % 3], &v);
                break;
        case OP_LINK:
                make_path(in, b, sizeof(b));
                r = oh_do_link(policy, a, b, &v);
                break;
        case OP_OPEN:
                flags = open_flags[next(in) % (sizeof(open_flags) / sizeof(open_flags[0]))];
                r = oh_do_open(policy, a, flags, 0644, &v);
                if (r >= 0) {
                        check_fd(r, flags);
                        close(r);
                        r = 0;
                }
                break;
        case OP_UNLINK:
                r = oh_do_unlink(policy, a, &v);
                break;
        case OP_RMDIR:
                r = oh_do_rmdir(policy, a, &v);
                break;
        case OP_TRUNCATE:
                r = oh_do_truncate(policy, a, 0, &v);
                break;
        case N_OPS:
                __builtin_unreachable();
        }
        require(r <= 0);
        tried[op]++;
        succeeded[op] += r == 0;
        return r == 0 && (op == OP_MKDIR || op == OP_SYMLINK || op == OP_OPEN);
}

/* ---- The driver ---------------------------------------------------------- */

static void print_stats(void)
{
        static const char *const op_names[N_OPS] = {
                "mkdir", "symlink", "rename", "link", "open", "unlink", "rmdir", "truncate",
        };

        for (int i = 0; i < N_OPS; i++)
                fprintf(stderr, "fuzz-ops: %-8s %lu tried, %lu succeeded\n", op_names[i], tried[i], succeeded[i]);
}

static void clean_up(void)
{
        remove_tree();
        rmdir(top);
}

static void set_up_once(void)
{
        char made[64];

        if (top[0])
                return;
        /* tmpfs when there is one: the tree is rebuilt for every input. */
        snprintf(made, sizeof(made), "%s/oh-fuzz-ops-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        require(mkdtemp(made) != NULL);
        require(realpath(made, top) != NULL);   /* rules and the census speak canonical paths */
        snprintf(tree, sizeof(tree), "%s/t", top);
        atexit(clean_up);
        umask(022);
        /* The resolver keeps one fd of "/" for good: open it before counting. */
        {
                struct oh_verdict v;

                require(openhook_policy_new(&policy) == 0);
                require(oh_do_open(policy, "/nowhere", O_RDONLY, 0, &v) == -EACCES);
                openhook_policy_free(policy);
                policy = NULL;
        }
        if (getenv("OH_FUZZ_OPS_STATS"))
                atexit(print_stats);
}

/* The lowest free fd number: it changes if an fd was left open. */
static int lowest_free_fd(void)
{
        int fd = fcntl(0, F_DUPFD_CLOEXEC, 0);

        require(fd >= 0);
        close(fd);
        return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct input in = { data, size };
        int free_fd;
        unsigned rules;

        set_up_once();
        free_fd = lowest_free_fd();
        remove_tree();
        build_tree();
        require(openhook_policy_new(&policy) == 0);
        rules = 1 + next(&in) % 8;
        for (unsigned i = 0; i < rules; i++)
                add_rule(&in);
        n_objects = 0;
        census(visit_start, false);
        for (int i = 0; i < MAX_STEPS && in.size > 0; i++)
                census(visit_check, step(&in));
        openhook_policy_free(policy);
        policy = NULL;
        require(lowest_free_fd() == free_fd);
        return 0;
}
