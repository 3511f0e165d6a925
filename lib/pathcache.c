/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Remembered readlink and realpath answers (pathcache.h).
 *
 * realpath of a plain path (absolute, no empty, "." or ".." component, no
 * trailing '/') is built from its longest prefix already known: glibc
 * resolves a path component by component, calling readlink on the
 * canonical prefix followed by the next name, and goes on with that name
 * when readlink says EINVAL (no symlink); any other error ends it with
 * that error, and so ends every longer path too.  This does the same, one
 * remembered readlink per component, and hands a component that is a
 * symlink (where glibc starts over with the link's text, counting hops)
 * and any path that is not plain to glibc itself, whose answer is then
 * remembered as well: the answers are glibc's.
 *
 * readlink of many names in one directory (a policy of thousands of
 * files) is answered from one listing of the directory: getdents64's
 * d_type is lstat's type, so a name listed as anything but a symlink is
 * EINVAL, a name not listed ENOENT, and a symlink (or a type the file
 * system does not tell) is still read.  A directory is listed once
 * LIST_AFTER names in it were asked about, and only when every one of
 * those was answered (no EACCES: the names there can be looked up, so
 * the listing says what readlink would), reading at most LIST_COST
 * entries per name asked about: a directory far larger than the rules
 * in it is not read whole for them (it is tried again, with a larger
 * budget, when eight times as many were asked). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hashtab.h"
#include "pathcache.h"
#include "util.h"

#define LIST_AFTER 8
#define LIST_COST 64

enum listing {
        LISTING_NONE,           /* not (yet) */
        LISTING_DONE,           /* every name in it has an entry, in_listing */
        LISTING_NEVER,          /* cannot be listed, or a name in it refused */
};

struct entry {
        char *key;
        size_t len;
        uint32_t hash;
        bool have_link, have_real;
        ssize_t link;           /* readlink's length, or -errno */
        char *target;
        int real_error;         /* 0, or realpath's -errno */
        char *real;
        /* As a directory: readlink asked of names in it, and its listing. */
        uint32_t asked, list_at;
        enum listing listing;
        bool in_listing;        /* a name its directory's listing holds */
        unsigned char d_type;   /* as the listing says, or DT_UNKNOWN */
        bool visited;           /* oh_pathcache_visit() */
};

struct oh_pathcache {
        struct entry *v;
        size_t n, alloc;
        struct oh_hashtab table;
        uint32_t last;          /* the entry found or made last, if < N */
};

/* A key while it is looked up. */
struct key {
        const char *s;
        size_t len;
        uint32_t hash;
};

static bool entry_equal(const void *ctx, uint32_t item, const void *key)
{
        const struct entry *e = &((const struct oh_pathcache *) ctx)->v[item];
        const struct key *k = key;

        /* The hash first: the paths of one directory are mostly of one
         * length, and share all but their last bytes. */
        return e->hash == k->hash && e->len == k->len && memcmp(e->key, k->s, k->len) == 0;
}

static uint32_t entry_hash_of(const void *ctx, uint32_t item)
{
        return ((const struct oh_pathcache *) ctx)->v[item].hash;
}

int oh_pathcache_new(struct oh_pathcache **ret)
{
        *ret = calloc(1, sizeof(**ret));
        return *ret ? 0 : -ENOMEM;
}

void oh_pathcache_free(struct oh_pathcache *c)
{
        if (!c)
                return;
        for (size_t i = 0; i < c->n; i++) {
                free(c->v[i].key);
                free(c->v[i].target);
                free(c->v[i].real);
        }
        free(c->v);
        oh_hashtab_done(&c->table);
        free(c);
}

static uint32_t find_hashed(const struct oh_pathcache *c, const char *s, size_t len, uint32_t hash)
{
        struct key k = { s, len, hash };

        return oh_hashtab_find(&c->table, hash, entry_equal, c, &k);
}

/* S[0..LEN) if it is the entry found or made last: a rule's directory,
 * and then its path, are each asked about twice in a row (the realpath
 * of the directory, then its visit; the readlink of the path, then its
 * listed type), and comparing bytes at hand costs less than hashing them
 * and probing the table again. */
static uint32_t recent(const struct oh_pathcache *c, const char *s, size_t len)
{
        const struct entry *e = c->last < c->n ? &c->v[c->last] : NULL;

        return e && e->len == len && memcmp(e->key, s, len) == 0 ? c->last : OH_HASHTAB_NONE;
}

static uint32_t find(struct oh_pathcache *c, const char *s, size_t len)
{
        uint32_t i = recent(c, s, len);

        if (i == OH_HASHTAB_NONE && (i = find_hashed(c, s, len, oh_hash(0, s, len))) != OH_HASHTAB_NONE)
                c->last = i;
        return i;
}

/* The entry for S[0..LEN), made if need be; NULL when out of memory.  The
 * pointer holds until the next call. */
static struct entry *entry(struct oh_pathcache *c, const char *s, size_t len)
{
        uint32_t i = recent(c, s, len), hash;
        struct entry *e;

        if (i != OH_HASHTAB_NONE)
                return &c->v[i];
        hash = oh_hash(0, s, len);
        i = find_hashed(c, s, len, hash);
        if (i != OH_HASHTAB_NONE) {
                c->last = i;
                return &c->v[i];
        }
        if (c->n == c->alloc) {
                size_t n = c->alloc ? 2 * c->alloc : 64;

                if (n >= UINT32_MAX || !(e = reallocarray(c->v, n, sizeof(*e))))
                        return NULL;
                c->v = e;
                c->alloc = n;
        }
        if (oh_hashtab_reserve(&c->table, 1, entry_hash_of, c) < 0)
                return NULL;
        e = &c->v[c->n];
        *e = (struct entry) { .key = strndup(s, len), .len = len, .hash = hash };
        if (!e->key)
                return NULL;
        oh_hashtab_insert(&c->table, e->hash, (uint32_t) c->n);
        c->last = (uint32_t) c->n++;
        return e;
}

static void set_link(struct entry *e, ssize_t link)
{
        e->link = link;
        e->have_link = true;
}

/* Makes an entry for each name of the directory E[I] (open as FD), with
 * readlink's answer for those that are no symlink, and marks E[I] listed
 * if all were read within BUDGET names.  0 or -errno. */
static int list_into(struct oh_pathcache *c, uint32_t i, int fd, size_t budget)
{
        char buf[32768], key[PATH_MAX];
        size_t dl = c->v[i].len == 1 ? 0 : c->v[i].len, names = 0;

        memcpy(key, c->v[i].key, dl);
        key[dl] = '/';
        for (;;) {
                long n = syscall(SYS_getdents64, fd, buf, sizeof(buf));

                if (n <= 0)
                        return n < 0 ? oh_negerrno() : 0;
                for (long off = 0; off < n;) {
                        const struct dirent64 *d = (const struct dirent64 *) (buf + off);
                        size_t nl = strlen(d->d_name);
                        struct entry *e;

                        off += d->d_reclen;
                        if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
                                continue;
                        if (++names > budget)
                                return -EFBIG;
                        if (dl + 1 + nl >= sizeof(key))
                                return -ENAMETOOLONG;
                        memcpy(key + dl + 1, d->d_name, nl);
                        e = entry(c, key, dl + 1 + nl);
                        if (!e)
                                return -ENOMEM;
                        e->in_listing = true;
                        e->d_type = d->d_type;
                        if (d->d_type != DT_LNK && d->d_type != DT_UNKNOWN && !e->have_link)
                                set_link(e, -EINVAL);
                }
        }
}

/* Lists the directory E[I] if it is time to (see the top of this file). */
static int maybe_list(struct oh_pathcache *c, uint32_t i)
{
        struct entry *dir = &c->v[i];

        if (dir->listing != LISTING_NONE || ++dir->asked < (dir->list_at ? dir->list_at : LIST_AFTER))
                return 0;
        dir->list_at = dir->asked * 8;

        _cleanup_close_ int fd = open(dir->key, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                dir->listing = LISTING_NEVER;
                return 0;
        }
        int r = list_into(c, i, fd, (size_t) c->v[i].asked * LIST_COST);
        if (r == -ENOMEM)
                return r;
        c->v[i].listing = r == 0 ? LISTING_DONE : r == -EFBIG ? LISTING_NONE : LISTING_NEVER;
        return 0;
}

/* The length of the directory PATH[0..LEN) names something in, or 0 when
 * its listing cannot tell (".", "..", nothing after the last '/'). */
static size_t listed_dir_len(const char *path, size_t len)
{
        const char *slash = memrchr(path, '/', len), *name = slash ? slash + 1 : path;
        size_t nl = len - (size_t) (name - path);

        if (!slash || nl == 0 || (name[0] == '.' && (nl == 1 || (nl == 2 && name[1] == '.'))))
                return 0;
        return slash == path ? 1 : (size_t) (slash - path);
}

/* The entry of that directory, made if need be; OH_HASHTAB_NONE when
 * there is none (or no memory: the answers are then the kernel's). */
static uint32_t listed_dir(struct oh_pathcache *c, const char *path, size_t len)
{
        size_t dl = listed_dir_len(path, len);
        struct entry *dir = dl ? entry(c, path, dl) : NULL;

        return dir ? (uint32_t) (dir - c->v) : OH_HASHTAB_NONE;
}

/* Makes the entry of PATH[0..LEN) hold readlink's answer: from its
 * directory's listing, or from the kernel.  0 or -ENOMEM. */
static int answer_link(struct oh_pathcache *c, const char *path, size_t len)
{
        uint32_t d = listed_dir(c, path, len);
        struct entry *e;
        char buf[PATH_MAX];

        if (d != OH_HASHTAB_NONE && maybe_list(c, d) < 0)
                return -ENOMEM;
        e = entry(c, path, len);
        if (!e)
                return -ENOMEM;
        if (!e->have_link && d != OH_HASHTAB_NONE && c->v[d].listing == LISTING_DONE && !e->in_listing)
                set_link(e, -ENOENT);
        if (e->have_link)
                return 0;

        ssize_t n = readlink(e->key, buf, sizeof(buf) - 1);
        if (n >= 0 && !(e->target = strndup(buf, (size_t) n)))
                return -ENOMEM;
        set_link(e, n >= 0 ? n : -errno);
        /* Its directory cannot be searched: listing it would answer what
         * readlink does not. */
        if (n < 0 && errno == EACCES && d != OH_HASHTAB_NONE)
                c->v[d].listing = LISTING_NEVER;
        return 0;
}

ssize_t oh_pathcache_readlink(struct oh_pathcache *c, const char *path, const char **ret)
{
        size_t len = strlen(path);
        uint32_t i = find(c, path, len);

        if (i == OH_HASHTAB_NONE || !c->v[i].have_link) {
                if (answer_link(c, path, len) < 0)
                        return -ENOMEM;
                i = find(c, path, len);
        }
        *ret = c->v[i].target;
        return c->v[i].link;
}

int oh_pathcache_visit(struct oh_pathcache *c, const char *path, size_t len)
{
        struct entry *e = entry(c, path, len);

        if (!e)
                return -ENOMEM;
        if (e->visited)
                return 0;
        e->visited = true;
        return 1;
}

/* Asked of every rule of a load: its directory is looked up only when
 * the listing does not hold it. */
int oh_pathcache_listed_type(struct oh_pathcache *c, const char *path)
{
        size_t len = strlen(path), dl;
        uint32_t i = find(c, path, len), d;

        if (i != OH_HASHTAB_NONE && c->v[i].in_listing)
                return c->v[i].d_type;
        dl = listed_dir_len(path, len);
        d = dl ? find(c, path, dl) : OH_HASHTAB_NONE;
        if (d != OH_HASHTAB_NONE && c->v[d].listing == LISTING_DONE)
                return -ENOENT;
        return DT_UNKNOWN;
}

/* Remembers REAL (malloc'ed; NULL: ERROR) as the realpath of S[0..LEN).
 * Returns 0 or ERROR. */
static int remember(struct oh_pathcache *c, const char *s, size_t len, char *real, int error)
{
        struct entry *e = entry(c, s, len);

        if (!e || (!real && error == -ENOMEM)) {
                free(real);
                return -ENOMEM;
        }
        free(e->real);
        e->real = real;
        e->real_error = real ? 0 : error;
        e->have_real = true;
        return e->real_error;
}

/* glibc's answer for S[0..LEN), remembered. */
static int from_glibc(struct oh_pathcache *c, const char *s, size_t len)
{
        char *copy = strndup(s, len), *real;

        if (!copy)
                return -ENOMEM;
        real = realpath(copy, NULL);
        free(copy);
        return remember(c, s, len, real, real ? 0 : (errno > 0 ? -errno : -EIO));
}

static bool is_plain(const char *path, size_t len)
{
        if (path[0] != '/' || (len > 1 && path[len - 1] == '/'))
                return false;
        for (const char *c = path + 1; c < path + len;) {
                size_t l = strcspn(c, "/");

                if (l == 0 || (c[0] == '.' && (l == 1 || (l == 2 && c[1] == '.'))))
                        return false;
                c += l + 1;
        }
        return true;
}

/* The realpath of PATH[0..END) from REAL, that of PATH[0..K), and the
 * component between, as glibc would go on.  0 or -errno. */
static int extend(struct oh_pathcache *c, const char *path, size_t k, size_t end, const char *real)
{
        char joined[PATH_MAX], *copy;
        const char *target;
        size_t rl = strcmp(real, "/") == 0 ? 0 : strlen(real);
        ssize_t n;

        if (rl + end - k >= sizeof(joined))
                return remember(c, path, end, NULL, -ENAMETOOLONG);
        memcpy(joined, real, rl);
        memcpy(joined + rl, path + k, end - k);
        joined[rl + end - k] = '\0';
        n = oh_pathcache_readlink(c, joined, &target);
        if (n >= 0)
                return from_glibc(c, path, end);
        if (n != -EINVAL)
                return remember(c, path, end, NULL, (int) n);
        copy = strdup(joined);
        return remember(c, path, end, copy, -ENOMEM);
}

/* The remembered realpath of S[0..LEN), or NULL. */
static const struct entry *known(struct oh_pathcache *c, const char *s, size_t len)
{
        uint32_t i = find(c, s, len);

        return i != OH_HASHTAB_NONE && c->v[i].have_real ? &c->v[i] : NULL;
}

/* Resolves PATH[0..LEN) from its longest prefix already known ("/" always
 * is), one component at a time. */
static int resolve_plain(struct oh_pathcache *c, const char *path, size_t len)
{
        const struct entry *e = NULL;
        const char *real = "/";
        size_t k = len;

        while (k > 0 && !(e = known(c, path, k)))
                k = (size_t) ((const char *) memrchr(path, '/', k) - path);
        if (e && e->real_error)
                return e->real_error;
        if (e)
                real = e->real;
        while (k < len) {
                size_t end = k + 1 + strcspn(path + k + 1, "/");
                int r = extend(c, path, k, end, real);

                if (r < 0)
                        return r;
                real = known(c, path, end)->real;
                k = end;
        }
        return 0;
}

int oh_pathcache_realpath(struct oh_pathcache *c, const char *path, const char **ret)
{
        size_t len = strlen(path);
        const struct entry *e;

        if (len == 1 && path[0] == '/') {
                *ret = "/";
                return 0;
        }
        e = known(c, path, len);
        if (!e) {
                int r = is_plain(path, len) ? resolve_plain(c, path, len) : from_glibc(c, path, len);

                if (r < 0)
                        return r;
                e = known(c, path, len);
        }
        *ret = e->real;
        return e->real_error;
}
