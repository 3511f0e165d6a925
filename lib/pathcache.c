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
 * remembered as well: the answers are glibc's. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hashtab.h"
#include "pathcache.h"

struct entry {
        char *key;
        size_t len;
        uint32_t hash;
        bool have_link, have_real;
        ssize_t link;           /* readlink's length, or -errno */
        char *target;
        int real_error;         /* 0, or realpath's -errno */
        char *real;
};

struct oh_pathcache {
        struct entry *v;
        size_t n, alloc;
        struct oh_hashtab table;
};

/* A key while it is looked up. */
struct key {
        const char *s;
        size_t len;
};

static bool entry_equal(const void *ctx, uint32_t item, const void *key)
{
        const struct entry *e = &((const struct oh_pathcache *) ctx)->v[item];
        const struct key *k = key;

        return e->len == k->len && memcmp(e->key, k->s, k->len) == 0;
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

static uint32_t find(const struct oh_pathcache *c, const char *s, size_t len)
{
        struct key k = { s, len };

        return oh_hashtab_find(&c->table, oh_hash(0, s, len), entry_equal, c, &k);
}

/* The entry for S[0..LEN), made if need be; NULL when out of memory.  The
 * pointer holds until the next call. */
static struct entry *entry(struct oh_pathcache *c, const char *s, size_t len)
{
        uint32_t i = find(c, s, len);
        struct entry *e;

        if (i != OH_HASHTAB_NONE)
                return &c->v[i];
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
        *e = (struct entry) { .key = strndup(s, len), .len = len, .hash = oh_hash(0, s, len) };
        if (!e->key)
                return NULL;
        oh_hashtab_insert(&c->table, e->hash, (uint32_t) c->n);
        c->n++;
        return e;
}

ssize_t oh_pathcache_readlink(struct oh_pathcache *c, const char *path, const char **ret)
{
        struct entry *e = entry(c, path, strlen(path));
        char buf[PATH_MAX];

        if (!e)
                return -ENOMEM;
        if (!e->have_link) {
                ssize_t n = readlink(path, buf, sizeof(buf) - 1);

                if (n >= 0) {
                        e->target = strndup(buf, (size_t) n);
                        if (!e->target)
                                return -ENOMEM;
                }
                e->link = n >= 0 ? n : -errno;
                e->have_link = true;
        }
        *ret = e->target;
        return e->link;
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
static const struct entry *known(const struct oh_pathcache *c, const char *s, size_t len)
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
        if (!known(c, path, len)) {
                int r = is_plain(path, len) ? resolve_plain(c, path, len) : from_glibc(c, path, len);

                if (r < 0)
                        return r;
        }
        e = known(c, path, len);
        *ret = e->real;
        return e->real_error;
}
