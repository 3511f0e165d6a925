/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The rule index (policy_index.h): a tree of path components whose edges
 * live in one hash table keyed by (parent node, component).
 *
 * A query walks the path it is given component by component from the
 * root, one hash look-up each, and stops at the first component no rule
 * names: so it costs O(depth of the path), and a path a confined program
 * made up (however long, however many components) never costs more than
 * the walk to the deepest rule along it.  Node 0 is "/". */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hashtab.h"
#include "policy_index.h"

enum { EXACT, SUBTREE };
enum { ALLOW, DENY };

struct node {
        size_t name;                    /* offset of the component in names */
        uint32_t name_len;
        uint32_t parent;
        uint32_t hash;                  /* of (parent, component) */
        uint32_t first[2][2];           /* [EXACT/SUBTREE][ALLOW/DENY]: rule number */
        unsigned letters[2];            /* the union of the allows, per kind */
        bool link;                      /* a symlink an allow rule was written through */
        bool rule_below;                /* any rule strictly below */
        bool allow_below;               /* an allow rule or such a symlink strictly below */
};

struct oh_policy_index {
        struct node *nodes;
        size_t n_nodes, n_alloc;
        char *names;
        size_t n_names, names_alloc;
        struct oh_hashtab edges;
};

/* An edge's key while it is looked up. */
struct edge {
        uint32_t parent;
        const char *name;
        size_t len;
};

static uint32_t edge_hash(uint32_t parent, const char *name, size_t len)
{
        return oh_hash(parent * 2654435761u, name, len);
}

static bool edge_equal(const void *ctx, uint32_t item, const void *key)
{
        const struct oh_policy_index *ix = ctx;
        const struct node *n = &ix->nodes[item];
        const struct edge *e = key;

        return n->parent == e->parent && n->name_len == e->len && memcmp(ix->names + n->name, e->name, e->len) == 0;
}

static uint32_t edge_hash_of(const void *ctx, uint32_t item)
{
        const struct oh_policy_index *ix = ctx;

        return ix->nodes[item].hash;
}

static void node_init(struct node *n)
{
        *n = (struct node) {
                .first = { { OH_POLICY_NO_RULE, OH_POLICY_NO_RULE }, { OH_POLICY_NO_RULE, OH_POLICY_NO_RULE } },
        };
}

int oh_policy_index_new(struct oh_policy_index **ret)
{
        struct oh_policy_index *ix = calloc(1, sizeof(*ix));

        if (!ix || !(ix->nodes = malloc(sizeof(*ix->nodes)))) {
                free(ix);
                return -ENOMEM;
        }
        node_init(&ix->nodes[0]);
        ix->n_nodes = ix->n_alloc = 1;
        *ret = ix;
        return 0;
}

void oh_policy_index_free(struct oh_policy_index *ix)
{
        if (!ix)
                return;
        oh_hashtab_done(&ix->edges);
        free(ix->nodes);
        free(ix->names);
        free(ix);
}

/* Where PATH's first component not shared with PREV starts (at its '/'),
 * or its end when all are.  Where the two part in the middle of a name
 * ("/a/b" and "/ab"), that name is not shared either: back to the '/'
 * before it. */
static size_t unshared(const char *path, const char *prev)
{
        size_t i = 0;

        if (!prev)
                return 0;
        while (path[i] && path[i] == prev[i])
                i++;
        if ((path[i] == '/' || !path[i]) && (prev[i] == '/' || !prev[i]))
                return i;
        while (i > 0 && path[--i] != '/')
                ;
        return i;
}

void oh_policy_index_room_add(struct oh_policy_index_room *room, const char *path)
{
        const char *c = path + unshared(path, room->prev);

        room->bytes += strlen(c);
        for (; *c; c++)
                room->components += *c == '/';
        room->prev = path;
}

/* Grows *V (of *ALLOC items of SIZE bytes, N used) to hold MORE items. */
static int grow(void **v, size_t *alloc, size_t n, size_t more, size_t size)
{
        size_t want = *alloc;
        void *p;

        if (n + more <= *alloc)
                return 0;
        if (more > UINT32_MAX - n)
                return -ENOMEM;
        while (want < n + more)
                want = want ? 2 * want : 64;
        p = realloc(*v, want * size);
        if (!p)
                return -ENOMEM;
        *v = p;
        *alloc = want;
        return 0;
}

int oh_policy_index_reserve(struct oh_policy_index *ix, const struct oh_policy_index_room *room)
{
        int r = grow((void **) &ix->nodes, &ix->n_alloc, ix->n_nodes, room->components, sizeof(*ix->nodes));

        if (r == 0)
                r = grow((void **) &ix->names, &ix->names_alloc, ix->n_names, room->bytes, 1);
        if (r == 0)
                r = oh_hashtab_reserve(&ix->edges, room->components, edge_hash_of, ix);
        return r;
}

static uint32_t child(const struct oh_policy_index *ix, uint32_t parent, const char *name, size_t len)
{
        struct edge e = { parent, name, len };

        return oh_hashtab_find(&ix->edges, edge_hash(parent, name, len), edge_equal, ix, &e);
}

/* The child of PARENT named NAME[0..LEN), made if need be (room was
 * reserved). */
static uint32_t make_child(struct oh_policy_index *ix, uint32_t parent, const char *name, size_t len)
{
        uint32_t n = child(ix, parent, name, len);
        struct node *c;

        if (n != OH_POLICY_NO_RULE)
                return n;
        n = (uint32_t) ix->n_nodes++;
        c = &ix->nodes[n];
        node_init(c);
        c->parent = parent;
        c->name = ix->n_names;
        c->name_len = (uint32_t) len;
        c->hash = edge_hash(parent, name, len);
        memcpy(ix->names + ix->n_names, name, len);
        ix->n_names += len;
        oh_hashtab_insert(&ix->edges, c->hash, n);
        return n;
}

/* Where a walk stands: the next component starts at NEXT, or the whole
 * path has been walked (NULL).  Splitting at every '/' keeps empty
 * components, so "/a/" is "a" then "", never "/a" (see the header). */
static const char *walk_start(const char *path)
{
        return path[1] ? path + 1 : NULL;
}

static size_t walk_step(const char **next)
{
        size_t len = strcspn(*next, "/");

        *next = (*next)[len] ? *next + len + 1 : NULL;
        return len;
}

/* The node PATH (from '/') spells, made with its ancestors, which learn
 * what now lies below them: a rule (RULE) and an allow rule or a symlink
 * one was written through (ALLOW). */
static struct node *make_path(struct oh_policy_index *ix, const char *path, bool rule, bool allow)
{
        uint32_t n = 0;

        for (const char *next = walk_start(path); next;) {
                const char *name = next;
                size_t len = walk_step(&next);

                ix->nodes[n].rule_below |= rule;
                ix->nodes[n].allow_below |= allow;
                n = make_child(ix, n, name, len);
        }
        return &ix->nodes[n];
}

void oh_policy_index_add_rule(struct oh_policy_index *ix, const struct oh_rule *r, uint32_t number)
{
        struct node *n = make_path(ix, r->path, true, !r->deny);
        uint32_t *first = &n->first[r->subtree ? SUBTREE : EXACT][r->deny ? DENY : ALLOW];

        if (*first == OH_POLICY_NO_RULE)
                *first = number;
        if (!r->deny)
                n->letters[r->subtree ? SUBTREE : EXACT] |= r->perms;
}

/* A symlink is no rule: what lies below its ancestors is the business of
 * oh_policy_index_below(..., true) alone. */
void oh_policy_index_add_link(struct oh_policy_index *ix, const char *path)
{
        make_path(ix, path, false, true)->link = true;
}

/* Takes the rule of kind KIND at N, if any, as the one deciding so far:
 * a deny before an allow.  Returns false if N has none of that kind. */
static bool decide(const struct node *n, int kind, uint32_t *rule, unsigned *letters)
{
        if (n->first[kind][DENY] != OH_POLICY_NO_RULE) {
                *rule = n->first[kind][DENY];
                *letters = 0;
                return true;
        }
        if (n->first[kind][ALLOW] != OH_POLICY_NO_RULE) {
                *rule = n->first[kind][ALLOW];
                *letters = n->letters[kind];
                return true;
        }
        return false;
}

/* Every node on the walk is a proper ancestor of PATH, where only its
 * subtree rules match, until the last, PATH itself; a deeper node's rule
 * is a longer path, so the last one found decides. */
uint32_t oh_policy_index_match(const struct oh_policy_index *ix, const char *path, unsigned *letters)
{
        uint32_t rule = OH_POLICY_NO_RULE, n = 0;

        *letters = 0;
        if (path[0] != '/') {   /* not a path: only "/" covers it */
                decide(&ix->nodes[0], SUBTREE, &rule, letters);
                return rule;
        }
        for (const char *next = walk_start(path); next;) {
                const char *name = next;
                size_t len = walk_step(&next);

                decide(&ix->nodes[n], SUBTREE, &rule, letters);
                n = child(ix, n, name, len);
                if (n == OH_POLICY_NO_RULE)
                        return rule;
        }
        if (!decide(&ix->nodes[n], EXACT, &rule, letters))
                decide(&ix->nodes[n], SUBTREE, &rule, letters);
        return rule;
}

/* The node PATH spells, or NULL. */
static const struct node *find(const struct oh_policy_index *ix, const char *path)
{
        uint32_t n = 0;

        if (path[0] != '/')
                return NULL;
        for (const char *next = walk_start(path); next && n != OH_POLICY_NO_RULE;) {
                const char *name = next;
                size_t len = walk_step(&next);

                n = child(ix, n, name, len);
        }
        return n == OH_POLICY_NO_RULE ? NULL : &ix->nodes[n];
}

bool oh_policy_index_is_link(const struct oh_policy_index *ix, const char *path)
{
        const struct node *n = find(ix, path);

        return n && n->link;
}

bool oh_policy_index_below(const struct oh_policy_index *ix, const char *path, bool allows)
{
        const struct node *n = find(ix, path);

        return n && (allows ? n->allow_below : n->rule_below);
}
