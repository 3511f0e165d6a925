/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Landlock rules as a set (ll_set.h).
 *
 * Reducing a list: sorted so that a directory comes right before
 * everything below it ('/' sorts before any other byte), the rules are
 * walked once with a stack of the directories above the current one,
 * each with the union of what it and the directories above it grant.  A
 * rule whose rights that union holds is moved out; the others stay, in
 * sorted order.  Only the rules that stay are on the stack: one moved
 * out granted nothing the stack did not already hold. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ll_set.h"
#include "util.h"

/* What a file can be granted: Landlock's rights for files (landlock.c
 * LL_FILE_RIGHTS) are those of these letters and no others. */
#define OH_LL_FILE_ACCESS (OH_LL_READ | OH_LL_WRITE | OH_LL_EXEC | OH_LL_DEV)

static unsigned int rights_of(unsigned int access)
{
        return access & ~(OH_LL_IS_ANY | OH_LL_ADDED);
}

static unsigned int rights(const struct oh_ll_rule *rule)
{
        return rights_of(rule->access);
}

/* The rights of X, part of the rule M, that the ruleset being built
 * holds already: added as M would be, of the same type. */
static unsigned int added_rights(unsigned int x, unsigned int m)
{
        return (x & OH_LL_ADDED) && (x & OH_LL_IS_ANY) == (m & OH_LL_IS_ANY) ? rights_of(x) : 0;
}

/* A and B of one path as one rule: added, if all of it is. */
static unsigned int merged(unsigned int a, unsigned int b)
{
        unsigned int m = (a | b) & ~OH_LL_ADDED;

        return rights_of(m) & ~(added_rights(a, m) | added_rights(b, m)) ? m : m | OH_LL_ADDED;
}

static bool is_dir(const struct oh_ll_rule *rule)
{
        return (rule->access & OH_LL_IS_ANY) == OH_LL_IS_DIR;
}

static bool is_file(const struct oh_ll_rule *rule)
{
        return (rule->access & OH_LL_IS_ANY) == OH_LL_IS_FILE;
}

unsigned int oh_ll_effective(const struct oh_ll_rule *rule)
{
        return is_dir(rule) ? rights(rule) : rights(rule) & OH_LL_FILE_ACCESS;
}

/* What a rule needs from the directories above it to add nothing. */
static unsigned int needed(const struct oh_ll_rule *rule)
{
        return is_file(rule) ? rights(rule) & OH_LL_FILE_ACCESS : rights(rule);
}

bool oh_ll_set_covers(const struct oh_ll_set *s, const struct oh_ll_rule *rule)
{
        return (needed(rule) & ~oh_ll_set_granted(s, rule->path, true)) == 0;
}

/* Byte order with '/' first, so that "/a/b" < "/a/b/c" < "/a/b-c". */
static int path_cmp(const char *a, const char *b)
{
        while (*a == *b && *a)
                a++, b++;
        int x = *a == '/' ? 1 : *a ? (unsigned char) *a + 1 : 0;
        int y = *b == '/' ? 1 : *b ? (unsigned char) *b + 1 : 0;

        return x - y;
}

static int rule_cmp(const void *a, const void *b)
{
        return path_cmp(((const struct oh_ll_rule *) a)->path, ((const struct oh_ll_rule *) b)->path);
}

/* Sorts V[N] by path.  Rules often come sorted but for a few at the end
 * (a reduced set, then run's direct set): those are sorted alone and
 * merged in. */
static void sort_rules(struct oh_ll_rule *v, size_t n)
{
        size_t k = 1;

        while (k < n && rule_cmp(&v[k - 1], &v[k]) <= 0)
                k++;
        if (k >= n)
                return;
        _cleanup_free_ struct oh_ll_rule *head = k > n / 2 ? reallocarray(NULL, k, sizeof(*head)) : NULL;
        if (!head) {
                qsort(v, n, sizeof(*v), rule_cmp);
                return;
        }
        qsort(v + k, n - k, sizeof(*v), rule_cmp);
        memcpy(head, v, k * sizeof(*v));
        for (size_t i = 0, j = k, o = 0; i < k; o++)
                v[o] = j < n && rule_cmp(&v[j], &head[i]) < 0 ? v[j++] : head[i++];
}

/* True if DIR[0..LEN) is a directory above PATH. */
static bool is_above(const char *dir, size_t len, const char *path)
{
        if (len == 1)
                return path[1] != '\0';         /* "/" is above all but itself */
        return strncmp(dir, path, len) == 0 && path[len] == '/';
}

static void swap(struct oh_ll_rule *a, struct oh_ll_rule *b)
{
        struct oh_ll_rule t = *a;

        *a = *b;
        *b = t;
}

/* Merges rules of one path (adjacent once sorted) into the first; the
 * others go to the end.  Returns how many are left. */
static size_t merge_same_paths(struct oh_ll_rule *v, size_t n)
{
        size_t k = 0;

        for (size_t i = 0; i < n; i++) {
                if (k > 0 && strcmp(v[k - 1].path, v[i].path) == 0) {
                        v[k - 1].access = merged(v[k - 1].access, v[i].access);
                        continue;
                }
                swap(&v[k++], &v[i]);
        }
        return k;
}

struct above {
        const char *path;
        size_t len;
        unsigned int granted;           /* by it and everything above it */
};

int oh_ll_rules_reduce(struct oh_ll_rule *v, size_t *n)
{
        size_t m, k = 0, depth = 0;

        sort_rules(v, *n);
        m = merge_same_paths(v, *n);

        _cleanup_free_ struct above *stack = calloc(m ? m : 1, sizeof(*stack));

        if (!stack) {
                *n = m;                 /* merged only: the same rights, more rules */
                return -ENOMEM;
        }
        for (size_t i = 0; i < m; i++) {
                while (depth > 0 && !is_above(stack[depth - 1].path, stack[depth - 1].len, v[i].path))
                        depth--;
                unsigned int granted = depth > 0 ? stack[depth - 1].granted : 0;

                /* Unknown type: perhaps not a canonical path (the direct
                 * set as given: a symlink, "..") that may lead elsewhere. */
                if ((is_dir(&v[i]) || is_file(&v[i])) && (needed(&v[i]) & ~granted) == 0)
                        continue;
                swap(&v[k], &v[i]);
                /* A file has nothing below it.  A rule of unknown type
                 * with a canonical path below it is canonical too, and a
                 * directory (or both are missing). */
                if (!is_file(&v[k]))
                        stack[depth++] = (struct above) { v[k].path, strlen(v[k].path), granted | rights(&v[k]) };
                k++;
        }
        *n = k;
        return 0;
}

/* ---- The set ------------------------------------------------------------ */

struct key {
        const char *s;
        size_t len;
};

static bool rule_equal(const void *ctx, uint32_t item, const void *key)
{
        const char *path = ((const struct oh_ll_set *) ctx)->v[item].path;
        const struct key *k = key;

        return strncmp(path, k->s, k->len) == 0 && path[k->len] == '\0';
}

static uint32_t rule_hash_of(const void *ctx, uint32_t item)
{
        const char *path = ((const struct oh_ll_set *) ctx)->v[item].path;

        return oh_hash(0, path, strlen(path));
}

static uint32_t find_hashed(const struct oh_ll_set *s, const char *path, size_t len, uint32_t hash)
{
        struct key k = { path, len };

        return oh_hashtab_find(&s->by_path, hash, rule_equal, s, &k);
}

static uint32_t find(const struct oh_ll_set *s, const char *path, size_t len)
{
        return find_hashed(s, path, len, oh_hash(0, path, len));
}

void oh_ll_set_done(struct oh_ll_set *s)
{
        for (size_t i = 0; i < s->n; i++)
                free((char *) s->v[i].path);
        free(s->v);
        oh_hashtab_done(&s->by_path);
        *s = (struct oh_ll_set) {};
}

static int grow(struct oh_ll_set *s)
{
        size_t m = s->allocated ? 2 * s->allocated : 16;
        struct oh_ll_rule *v;

        if (m >= UINT32_MAX || !(v = reallocarray(s->v, m, sizeof(*v))))
                return -ENOMEM;
        s->v = v;
        s->allocated = m;
        return 0;
}

int oh_ll_set_add(struct oh_ll_set *s, const char *path, size_t len, unsigned int access)
{
        uint32_t hash = oh_hash(0, path, len), i = find_hashed(s, path, len, hash);
        char *copy;

        if (i != OH_HASHTAB_NONE) {
                s->v[i].access = merged(s->v[i].access, access);
                return 0;
        }
        if ((s->n == s->allocated && grow(s) < 0) || oh_hashtab_reserve(&s->by_path, 1, rule_hash_of, s) < 0)
                return -ENOMEM;
        copy = strndup(path, len);
        if (!copy)
                return -ENOMEM;
        s->v[s->n] = (struct oh_ll_rule) { .path = copy, .access = access };
        oh_hashtab_insert(&s->by_path, hash, (uint32_t) s->n);
        if (len < OH_LL_SET_LENGTHS)
                s->lengths[len / 64] |= UINT64_C(1) << (len % 64);
        s->n++;
        return 0;
}

static unsigned int granted_at(const struct oh_ll_set *s, const char *path, size_t len)
{
        if (len < OH_LL_SET_LENGTHS && !(s->lengths[len / 64] & (UINT64_C(1) << (len % 64))))
                return 0;
        uint32_t i = find(s, path, len);

        return i == OH_HASHTAB_NONE ? 0 : oh_ll_effective(&s->v[i]);
}

unsigned int oh_ll_set_granted(const struct oh_ll_set *s, const char *path, bool with_self)
{
        size_t len = strlen(path);
        unsigned int granted = 0;

        if (s->n == 0)
                return 0;
        if (len > 1)
                granted |= granted_at(s, "/", 1);
        for (const char *c = path + 1; (c = memchr(c, '/', len - (size_t) (c - path))); c++)
                granted |= granted_at(s, path, (size_t) (c - path));
        if (with_self)
                granted |= granted_at(s, path, len);
        return granted;
}

int oh_ll_set_reduce(struct oh_ll_set *s)
{
        size_t n = s->n;
        int r = oh_ll_rules_reduce(s->v, &n);

        for (size_t i = n; i < s->n; i++)
                free((char *) s->v[i].path);
        s->n = n;
        /* The rules moved: their numbers in the table are rebuilt. */
        oh_hashtab_done(&s->by_path);
        if (oh_hashtab_reserve(&s->by_path, s->n, rule_hash_of, s) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < s->n; i++)
                oh_hashtab_insert(&s->by_path, rule_hash_of(s, (uint32_t) i), (uint32_t) i);
        return r;
}
