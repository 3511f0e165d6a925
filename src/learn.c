/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <search.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "learn.h"
#include "policy.h"
#include "util.h"

#define LEARN_MAX_SYMLINKS 40   /* as the kernel and the broker */

/* One path and the letters it needs (OPENHOOK_PERM_*). */
struct learn_entry {
        unsigned int letters;
        unsigned int count;     /* collapse: entries sharing this parent */
        bool dir;               /* used as a directory: never collapsed */
        bool temporary;         /* a t DIR/ rule for files the run created and removed */
        char path[];
};

/* A sorted set of paths (a glibc tsearch tree keyed by path). */
struct pathset {
        void *root;
        size_t n;
};

struct oh_learn {
        pthread_mutex_t lock;
        struct pathset seen;
        const char *const *skip;
        bool collapse;
        struct timespec start;  /* files born before this were not created by the run */
        int error;              /* first failure to record, reported by write */
};

static int entry_compare(const void *a, const void *b)
{
        return strcmp(((const struct learn_entry *)a)->path, ((const struct learn_entry *)b)->path);
}

/* Finds or inserts PATH; returns the entry (count and letters unchanged if
 * it was there) or NULL when out of memory. */
static struct learn_entry *pathset_get(struct pathset *set, const char *path)
{
        size_t len = strlen(path);
        _cleanup_free_ struct learn_entry *e = calloc(1, sizeof(*e) + len + 1);
        if (!e)
                return NULL;
        memcpy(e->path, path, len + 1);

        struct learn_entry **slot = tsearch(e, &set->root, entry_compare);
        if (!slot)
                return NULL;
        if (*slot == e) {
                set->n++;
                return TAKE_PTR(e);
        }
        return *slot;
}

static const struct learn_entry *pathset_find(const struct pathset *set, const char *path)
{
        size_t len = strlen(path);
        _cleanup_free_ struct learn_entry *key = calloc(1, sizeof(*key) + len + 1);
        if (!key)
                return NULL;
        memcpy(key->path, path, len + 1);

        struct learn_entry *const *slot = tfind(key, &set->root, entry_compare);
        return slot ? *slot : NULL;
}

static void pathset_clear(struct pathset *set)
{
        tdestroy(set->root, free);
        *set = (struct pathset) {};
}

struct pathset_cursor {
        struct learn_entry **items;
        size_t n;
};

static void pathset_collect(const void *node, VISIT which, void *userdata)
{
        struct pathset_cursor *c = userdata;

        if (which == postorder || which == leaf)
                c->items[c->n++] = *(struct learn_entry *const *)node;
}

/* The entries in path order, in a malloc'ed array of set->n pointers. */
static int pathset_sorted(const struct pathset *set, struct learn_entry ***ret)
{
        struct pathset_cursor c = { .items = calloc(set->n + 1, sizeof(*c.items)) };
        if (!c.items)
                return -ENOMEM;
        twalk_r(set->root, pathset_collect, &c);
        *ret = c.items;
        return 0;
}

int oh_learn_new(const char *const *skip, bool collapse, struct oh_learn **ret)
{
        struct oh_learn *l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        pthread_mutex_init(&l->lock, NULL);
        l->skip = skip;
        l->collapse = collapse;
        /* The clock inode timestamps are taken from, so that a file the
         * run creates is never stamped before the start. */
        clock_gettime(CLOCK_REALTIME_COARSE, &l->start);
        *ret = l;
        return 0;
}

void oh_learn_free(struct oh_learn *learn)
{
        if (!learn)
                return;
        pathset_clear(&learn->seen);
        pthread_mutex_destroy(&learn->lock);
        free(learn);
}

static bool path_beneath(const char *path, const char *prefix)
{
        size_t n = strlen(prefix);

        while (n > 1 && prefix[n - 1] == '/')
                n--;
        return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static void learn_fail(struct oh_learn *l, int r)
{
        if (l->error == 0)
                l->error = r;
}

static void learn_add(struct oh_learn *l, const char *path, unsigned int letters, bool dir)
{
        if ((letters & ~OPENHOOK_PERM_R) == 0)
                for (const char *const *p = l->skip; p && *p; p++)
                        if (path_beneath(path, *p))
                                return;

        struct learn_entry *e = pathset_get(&l->seen, path);
        if (!e)
                return learn_fail(l, -ENOMEM);
        e->letters |= letters;
        e->dir |= dir;
}

/* Appends "/NAME" (LEN bytes of it) to the canonical path OUT. */
static int push_component(char *out, const char *name, size_t len)
{
        size_t n = strlen(out);

        if (n + 1 + len >= PATH_MAX)
                return -ENAMETOOLONG;
        out[n] = '/';
        memcpy(out + n + 1, name, len);
        out[n + 1 + len] = '\0';
        return 0;
}

static void pop_component(char *out)
{
        char *slash = strrchr(out, '/');
        if (slash)
                *slash = '\0';
}

/* Walks PATH component by component as the broker does (DESIGN.md,
 * "Resolution"), recording every symlink it follows with "r".  Once a
 * component is missing (the request failed, or its file is gone: unlink,
 * rename) the rest is taken as written.  OUT (PATH_MAX) gets the result. */
static int learn_canonicalize(struct oh_learn *l, const char *path, bool follow_last, char *out)
{
        char rest[PATH_MAX * 2], target[PATH_MAX];
        unsigned int hops = 0;
        bool missing = false;

        if (strlen(path) >= sizeof(rest))
                return -ENAMETOOLONG;
        strcpy(rest, path);
        out[0] = '\0';

        for (char *p = rest;;) {
                p += strspn(p, "/");
                if (*p == '\0')
                        break;
                size_t len = strcspn(p, "/");
                char *name = p;
                p += len;
                bool last = p[strspn(p, "/")] == '\0';

                if (len == 1 && name[0] == '.')
                        continue;
                if (len == 2 && name[0] == '.' && name[1] == '.') {
                        pop_component(out);
                        continue;
                }
                int r = push_component(out, name, len);
                if (r < 0)
                        return r;
                if (missing)
                        continue;

                struct stat st;
                if (lstat(out, &st) < 0) {
                        missing = true;
                        continue;
                }
                if (!S_ISLNK(st.st_mode) || (last && !follow_last))
                        continue;

                if (++hops > LEARN_MAX_SYMLINKS)
                        return -ELOOP;
                ssize_t n = readlink(out, target, sizeof(target) - 1);
                if (n < 0)
                        return oh_negerrno();
                target[n] = '\0';
                learn_add(l, out, OPENHOOK_PERM_R, false);

                /* Splice the link's target in front of what is left. */
                size_t tlen = (size_t)n, plen = strlen(p);
                if (tlen + 1 + plen >= sizeof(rest))
                        return -ENAMETOOLONG;
                memmove(rest + tlen + 1, p, plen + 1);
                memcpy(rest, target, tlen);
                rest[tlen] = '/';
                p = rest;
                if (target[0] == '/')
                        out[0] = '\0';
                else
                        pop_component(out);
        }
        if (out[0] == '\0')
                strcpy(out, "/");
        return 0;
}

/* False when there is nothing to record: no absolute path, or one the
 * kernel failed the request on the same way. */
static bool learn_resolve(struct oh_learn *l, const char *path, bool follow_last, char *canonical)
{
        return path && path[0] == '/' && learn_canonicalize(l, path, follow_last, canonical) == 0;
}

static void learn_note(struct oh_learn *l, const char *path, bool follow_last, unsigned int letters,
                       bool dir)
{
        char canonical[PATH_MAX];

        if (letters != 0 && learn_resolve(l, path, follow_last, canonical))
                learn_add(l, canonical, letters, dir);
}

/* Whether the file at the canonical PATH is older than the run, so that an
 * O_CREAT open of it created nothing and needs no "c" (DESIGN.md, "Create
 * without clobbering").  The observation comes after the open, so the file
 * exists either way; its birth (or, where the filesystem keeps none, its
 * last change, never earlier than its birth) tells.  When unsure: no. */
static bool predates_run(const struct oh_learn *l, const char *path)
{
        struct statx stx;

        if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BTIME | STATX_CTIME, &stx) < 0)
                return false;
        if (!(stx.stx_mask & (STATX_BTIME | STATX_CTIME)))
                return false;
        const struct statx_timestamp *t = stx.stx_mask & STATX_BTIME ? &stx.stx_btime : &stx.stx_ctime;
        return t->tv_sec < l->start.tv_sec ||
               (t->tv_sec == l->start.tv_sec && t->tv_nsec < (uint32_t)l->start.tv_nsec);
}

static unsigned int open_letters(uint32_t flags)
{
        unsigned int acc = flags & O_ACCMODE;
        unsigned int reads = acc == O_RDONLY || acc == O_RDWR ? OPENHOOK_PERM_R : 0;
        unsigned int writes = acc == O_WRONLY || acc == O_RDWR ? OPENHOOK_PERM_W : 0;

        if ((flags & O_TMPFILE) == O_TMPFILE)
                return OPENHOOK_PERM_C | OPENHOOK_PERM_W;
        if (flags & O_PATH)
                return OPENHOOK_PERM_R;
        if ((flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL))
                return OPENHOOK_PERM_C;
        return reads | writes | (flags & O_TRUNC ? OPENHOOK_PERM_W : 0) |
               (flags & O_CREAT ? OPENHOOK_PERM_C : 0);
}

static void observe_open(struct oh_learn *l, const struct openhook_decision *d)
{
        bool follow = !(d->flags & O_NOFOLLOW) &&
                      (d->flags & (O_CREAT | O_EXCL)) != (O_CREAT | O_EXCL);
        unsigned int letters = open_letters(d->flags);
        char canonical[PATH_MAX];

        if (!learn_resolve(l, d->path, follow, canonical))
                return;
        /* O_EXCL and O_TMPFILE always need "c", whatever is there. */
        if ((d->flags & (O_CREAT | O_EXCL)) == O_CREAT && (d->flags & O_TMPFILE) != O_TMPFILE &&
            predates_run(l, canonical))
                letters &= ~OPENHOOK_PERM_C;
        if (letters != 0)
                learn_add(l, canonical, letters, (d->flags & O_DIRECTORY) != 0);
}

/* F_OK and X_OK ask for no letter of the policy's; W_OK asks w of a file
 * and c of a directory (the broker's access(), lib/resolve.c). */
static void observe_access(struct oh_learn *l, const struct openhook_decision *d)
{
        char canonical[PATH_MAX];
        struct stat st;

        if (!(d->mode & (R_OK | W_OK)) || !learn_resolve(l, d->path, !(d->flags & AT_SYMLINK_NOFOLLOW), canonical))
                return;
        bool dir = lstat(canonical, &st) == 0 && S_ISDIR(st.st_mode);
        unsigned int write = dir ? OPENHOOK_PERM_C : OPENHOOK_PERM_W;

        learn_add(l, canonical, (d->mode & R_OK ? OPENHOOK_PERM_R : 0) | (d->mode & W_OK ? write : 0), false);
}

static void observe_rename(struct oh_learn *l, const struct openhook_decision *d)
{
        const unsigned int cd = OPENHOOK_PERM_C | OPENHOOK_PERM_D;

        if (d->flags & RENAME_EXCHANGE) {
                learn_note(l, d->path, false, cd, false);
                learn_note(l, d->path2, false, cd, false);
                return;
        }
        learn_note(l, d->path, false, OPENHOOK_PERM_D, false);
        /* Without NOREPLACE the next run replaces what this one created. */
        learn_note(l, d->path2, false, d->flags & RENAME_NOREPLACE ? OPENHOOK_PERM_C : cd, false);
}

void oh_learn_observe(const struct openhook_decision *d, void *userdata)
{
        struct oh_learn *l = userdata;

        if (d->denied || !d->path)
                return;

        pthread_mutex_lock(&l->lock);
        switch (d->command) {
        case OPENHOOK_CMD_OPEN:
                observe_open(l, d);
                break;
        case OPENHOOK_CMD_MKDIR:
        case OPENHOOK_CMD_RMDIR:
                learn_note(l, d->path, false,
                           d->command == OPENHOOK_CMD_MKDIR ? OPENHOOK_PERM_C : OPENHOOK_PERM_D, true);
                break;
        case OPENHOOK_CMD_UNLINK:
                learn_note(l, d->path, false, OPENHOOK_PERM_D, false);
                break;
        case OPENHOOK_CMD_RENAME:
                observe_rename(l, d);
                break;
        case OPENHOOK_CMD_SYMLINK:
                /* path is the link's content, not a file it touches */
                learn_note(l, d->path2, false, OPENHOOK_PERM_C, false);
                break;
        case OPENHOOK_CMD_LINK:
                learn_note(l, d->path, false, OPENHOOK_PERM_R, false);
                learn_note(l, d->path2, false, OPENHOOK_PERM_C, false);
                break;
        case OPENHOOK_CMD_TRUNCATE:
                learn_note(l, d->path, true, OPENHOOK_PERM_W, false);
                break;
        case OPENHOOK_CMD_ACCESS:
                observe_access(l, d);
                break;
        case OPENHOOK_CMD_CHMOD:
        case OPENHOOK_CMD_UTIMENS:
        case OPENHOOK_CMD_CHOWN:
                learn_note(l, d->path, !(d->flags & AT_SYMLINK_NOFOLLOW), OPENHOOK_PERM_W, false);
                break;
        case OPENHOOK_DECISION_SOCKET_CONNECT:
        case OPENHOOK_DECISION_SOCKET_SEND:
                learn_note(l, d->path, true, OPENHOOK_PERM_W, false);
                break;
        case OPENHOOK_DECISION_EXEC:
                /* Only programs outside the direct set are logged. */
                learn_note(l, d->path, true, OPENHOOK_PERM_X, false);
                break;
        case OPENHOOK_DECISION_FCHMOD:
        case OPENHOOK_DECISION_FCHOWN:
        case OPENHOOK_DECISION_FUTIMENS:
        case OPENHOOK_DECISION_FSETXATTR:
        case OPENHOOK_DECISION_FREMOVEXATTR:
        case OPENHOOK_DECISION_FSETFLAGS:
                /* The file the fd names; "" for one without a name. */
                if (d->path[0] == '/')
                        learn_note(l, d->path, false, OPENHOOK_PERM_W, false);
                break;
        default:
                break;
        }
        pthread_mutex_unlock(&l->lock);
}

/* Directories keep their exact rule: collapsing one into its parent's
 * subtree would grant its siblings, which nothing used. */
static bool collapsible(const struct learn_entry *e)
{
        struct stat st;

        return !e->dir && !(lstat(e->path, &st) == 0 && S_ISDIR(st.st_mode));
}

/* Whether DIR has a subdirectory.  A "DIR/" rule covers the whole subtree,
 * so collapsing files into it would also grant every directory beneath
 * (a ~/.ssh next to two files that were read); such a parent keeps exact
 * rules.  Unreadable counts as yes: when unsure, stay narrow. */
static bool has_subdirectory(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *de;
        bool found = false;

        if (!d)
                return true;
        while (!found && (de = readdir(d))) {
                struct stat st;

                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (de->d_type == DT_DIR)
                        found = true;
                else if (de->d_type == DT_UNKNOWN)
                        found = fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                                S_ISDIR(st.st_mode);
        }
        closedir(d);
        return found;
}

/* The rule that covers E: its parent "DIR/" when E is a file and the parent
 * holds two or more of the files used and no subdirectory (never "/": that
 * rule would cover everything). */
static int collapse_into(struct pathset *out, const struct pathset *parents, const struct learn_entry *e)
{
        char parent[PATH_MAX + 1];

        snprintf(parent, sizeof(parent), "%s", e->path);
        pop_component(parent);

        const struct learn_entry *p = pathset_find(parents, parent);
        bool group = parent[0] != '\0' && p && p->count >= 2 && collapsible(e) &&
                     !has_subdirectory(parent);
        if (group)
                strcat(parent, "/");

        struct learn_entry *o = pathset_get(out, group ? parent : e->path);
        if (!o)
                return -ENOMEM;
        o->letters |= e->letters;
        return 0;
}

static int collapse(struct learn_entry **items, size_t n, struct pathset *out)
{
        struct pathset parents = {};
        int r = 0;

        for (size_t i = 0; i < n && r == 0; i++) {
                char parent[PATH_MAX];

                if (!collapsible(items[i]))
                        continue;
                snprintf(parent, sizeof(parent), "%s", items[i]->path);
                pop_component(parent);
                struct learn_entry *p = pathset_get(&parents, parent);
                if (!p)
                        r = -ENOMEM;
                else
                        p->count++;
        }
        for (size_t i = 0; i < n && r == 0; i++)
                r = collapse_into(out, &parents, items[i]);
        pathset_clear(&parents);
        return r;
}

static void write_header(FILE *f, char *const *argv)
{
        fputs("# openhook policy learned by `openhook run --learn` from:\n#  ", f);
        for (char *const *a = argv; a && *a; a++) {
                fputc(' ', f);
                for (const char *c = *a; *c; c++)
                        fputc((unsigned char)*c < 0x20 ? '?' : *c, f);
        }
        fputs("\n# It grants what that run used and nothing else (temporary files by a t rule\n"
              "# for their directory); review it before use.\n"
              "# See openhook-policy(5), and \"Learning a policy\" in openhook(1).\n\n", f);
}

static void write_rules(FILE *f, struct learn_entry **items, size_t n)
{
        char spelled[OH_POLICY_PATH_FORMATTED_MAX];

        for (size_t i = 0; i < n; i++) {
                char letters[OH_PERMS_FORMATTED_MAX];

                if (strcmp(items[i]->path, "/") == 0) {
                        fputs("# not granted: / (a rule for / would cover everything)\n", f);
                        continue;
                }
                if (strchr(items[i]->path, '\n')) {
                        fputs("# not granted: a path with a newline, which a policy file cannot name\n", f);
                        continue;
                }
                if (oh_policy_format_path(items[i]->path, spelled, sizeof(spelled)) < 0) {
                        fputs("# not granted: a path too long to write\n", f);
                        continue;
                }
                if (items[i]->temporary)
                        fputs("# temporary files created and removed by the run (names vary from run to run; "
                              "t: the next run uses only those it makes):\n", f);
                oh_perms_format(items[i]->letters, letters);
                fprintf(f, "allow %s %s\n", letters, spelled);
        }
}

/* The learned rules, split for writing: the ones kept (exact, or collapsed)
 * and the DIR/ rules that stand for the run's temporary files. */
struct learn_rules {
        struct pathset kept;
        struct pathset temporary;
        bool temporary_in_root;         /* some stayed exact: their directory is "/" */
        int error;                      /* of merging the two */
};

static void learn_rules_clear(struct learn_rules *r)
{
        pathset_clear(&r->kept);
        pathset_clear(&r->temporary);
}

/* A file the run created and removed again (c and d, gone now) is a
 * temporary: its name is usually random (gcc's /tmp/ccXXXXXX.s), so an
 * exact rule for it would never match the next run's name. */
static bool is_temporary(const struct learn_entry *e)
{
        const unsigned int cd = OPENHOOK_PERM_C | OPENHOOK_PERM_D;
        struct stat st;

        if ((e->letters & cd) != cd)
                return false;
        return lstat(e->path, &st) < 0 && (errno == ENOENT || errno == ENOTDIR);
}

/* The directory a temporary's rule covers: its nearest ancestor that still
 * exists (the parent, unless that was a temporary directory too, as with
 * mkdtemp), as "DIR/"; "" for "/", which is never granted. */
static void temporary_home(const char *path, char out[static PATH_MAX + 1])
{
        struct stat st;

        snprintf(out, PATH_MAX, "%s", path);
        do
                pop_component(out);
        while (out[0] != '\0' && lstat(out, &st) < 0);
        if (out[0] != '\0')
                strcat(out, "/");
}

/* The rule for PATH in SET, with E's letters added; NULL when out of memory. */
static struct learn_entry *add_rule(struct pathset *set, const struct learn_entry *e, const char *path)
{
        struct learn_entry *o = pathset_get(set, path);
        if (o) {
                o->letters |= e->letters;
                o->dir |= e->dir;
        }
        return o;
}

static int split_temporaries(struct learn_entry **items, size_t n, struct learn_rules *out)
{
        for (size_t i = 0; i < n; i++) {
                const char *rule = items[i]->path;
                struct pathset *set = &out->kept;
                char home[PATH_MAX + 1];

                if (is_temporary(items[i])) {
                        temporary_home(items[i]->path, home);
                        if (home[0] != '\0') {
                                /* t, whatever letters it used: the next run
                                 * may make its own there and use only those. */
                                struct learn_entry *o = pathset_get(&out->temporary, home);
                                if (!o)
                                        return -ENOMEM;
                                o->letters |= OPENHOOK_PERM_T;
                                continue;
                        }
                        out->temporary_in_root = true;
                }
                if (!add_rule(set, items[i], rule))
                        return -ENOMEM;
        }
        return 0;
}

/* Adds the temporaries' DIR/ rules to the kept ones, so that one sorted
 * list is written. */
static void merge_temporary(const void *node, VISIT which, void *userdata)
{
        struct learn_rules *rules = userdata;

        if ((which == postorder || which == leaf) && rules->error == 0) {
                const struct learn_entry *e = *(struct learn_entry *const *)node;
                struct learn_entry *o = add_rule(&rules->kept, e, e->path);

                if (o)
                        o->temporary = true;
                else
                        rules->error = -ENOMEM;
        }
}

static int write_file(int fd, char *const *argv, const struct learn_rules *rules)
{
        _cleanup_free_ struct learn_entry **items = NULL;
        int r = pathset_sorted(&rules->kept, &items);
        if (r < 0)
                return r;

        _cleanup_close_ int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (dup_fd < 0)
                return oh_negerrno();
        FILE *f = fdopen(dup_fd, "w");
        if (!f)
                return oh_negerrno();
        TAKE_FD(dup_fd);

        write_header(f, argv);
        if (rules->temporary_in_root)
                fputs("# Temporary files created and removed by the run directly in / keep their\n"
                      "# exact rules (a rule for / would cover everything).\n", f);
        write_rules(f, items, rules->kept.n);
        r = ferror(f) ? -EIO : 0;
        if (fclose(f) != 0 && r == 0)
                r = oh_negerrno();
        return r;
}

/* Temporaries first: they become DIR/ rules with or without collapsing
 * (a learned policy must work again), and are kept out of the collapse
 * count, which is about the files that stay. */
static int learn_write_locked(struct oh_learn *l, int fd, char *const *argv)
{
        _cleanup_free_ struct learn_entry **items = NULL;
        struct learn_rules rules = {};
        int r = l->error;

        if (r == 0)
                r = pathset_sorted(&l->seen, &items);
        if (r == 0)
                r = split_temporaries(items, l->seen.n, &rules);
        if (r == 0 && l->collapse) {
                struct pathset collapsed = {};

                free(TAKE_PTR(items));
                r = pathset_sorted(&rules.kept, &items);
                if (r == 0)
                        r = collapse(items, rules.kept.n, &collapsed);
                pathset_clear(&rules.kept);
                rules.kept = collapsed;
        }
        if (r == 0) {
                twalk_r(rules.temporary.root, merge_temporary, &rules);
                r = rules.error;
        }
        if (r == 0)
                r = write_file(fd, argv, &rules);
        learn_rules_clear(&rules);
        return r;
}

int oh_learn_write(struct oh_learn *learn, int fd, char *const *argv)
{
        pthread_mutex_lock(&learn->lock);
        int r = learn_write_locked(learn, fd, argv);
        pthread_mutex_unlock(&learn->lock);
        return r;
}
