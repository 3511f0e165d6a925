/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Rules: parsing (command line and policy files) and matching.
 *
 * Rule paths are canonicalised once, at load time, so that matching is a
 * plain string comparison against the canonical path the resolver computed.
 * Every error message starts with where the rule came from, so a person can
 * find and fix it.
 *
 * Matching goes through an index by path component (policy_index.h),
 * brought up to date whenever rules are added: so a decision costs the
 * depth of the path, not the number of rules, and a policy a server
 * decides with is only ever read (no index is built on a first look-up,
 * which many threads could race to). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "created.h"
#include "pathcache.h"
#include "policy.h"
#include "policy_index.h"
#include "util.h"

#define POLICY_FILE_MAX (1u << 20)
#define SHOWN_MAX 64            /* longest piece of input quoted back in a message */
#define MAX_ERRORS 50           /* reported per policy file */

struct openhook_policy {
        struct oh_rule *rules;
        size_t n_rules;
        size_t n_alloc;
        /* Every rule and link but the ones being added now (from
         * n_indexed and n_links_indexed on): a policy file adds all its
         * rules or none. */
        struct oh_policy_index *index;
        size_t n_indexed;
        /* Symlinks an allow rule was written through (/var/run when the
         * rule says /var/run/x): the walk may follow them. */
        char **links;
        size_t n_links;
        size_t n_links_alloc;
        size_t n_links_indexed;
        /* What the file system answered, while rules are being added. */
        struct oh_pathcache *cache;
        /* A refused path that does not exist is told ENOENT (or ENOTDIR),
         * as stat(2) would tell the peer: openhook run, serve
         * --reveal-missing. */
        bool reveal_missing;
        /* What this broker created in t directories (lib/created.h). */
        struct oh_created *created;
        /* Told of each allow rule as it is added (oh_policy_on_rule()). */
        oh_policy_rule_fn *on_rule;
        void *on_rule_data;
};

/* In the order of the OPENHOOK_PERM_* bits. */
static const char perm_letters[] = "rwcdxt";
static const char perms_expected[] = "expected letters from r, w, c, d, x, t";

int openhook_policy_new(struct openhook_policy **ret)
{
        struct openhook_policy *p = calloc(1, sizeof(*p));

        if (!p || oh_policy_index_new(&p->index) < 0 || oh_created_new(&p->created) < 0) {
                if (p)
                        oh_policy_index_free(p->index);
                free(p);
                return -ENOMEM;
        }
        *ret = p;
        return 0;
}

struct oh_created *oh_policy_created(const struct openhook_policy *p)
{
        return p->created;
}

void oh_policy_share_created(struct openhook_policy *dst, const struct openhook_policy *src)
{
        oh_created_unref(dst->created);
        dst->created = oh_created_ref(src->created);
}

void oh_policy_on_rule(struct openhook_policy *p, oh_policy_rule_fn *fn, void *data)
{
        p->on_rule = fn;
        p->on_rule_data = data;
}

void openhook_policy_reveal_missing(struct openhook_policy *p, int reveal)
{
        p->reveal_missing = reveal != 0;
}

bool oh_policy_reveals_missing(const struct openhook_policy *p)
{
        return p->reveal_missing;
}

/* PATH, WRITTEN and ORIGIN in one allocation, owned through PATH: a
 * policy of thousands of rules is loaded with one malloc per rule. */
static int rule_strings(struct oh_rule *r, const char *path, const char *written, const char *origin)
{
        size_t pl = strlen(path), wl = strlen(written), ol = strlen(origin);
        char *block = malloc(pl + wl + ol + 3);

        if (!block)
                return -ENOMEM;
        r->path = memcpy(block, path, pl + 1);
        r->written = memcpy(block + pl + 1, written, wl + 1);
        r->origin = memcpy(block + pl + wl + 2, origin, ol + 1);
        r->len = pl;
        return 0;
}

static void rule_done(struct oh_rule *r)
{
        free(r->path);          /* and WRITTEN and ORIGIN with it */
}

static void truncate_rules(struct openhook_policy *p, size_t n, size_t n_links)
{
        while (p->n_rules > n)
                rule_done(&p->rules[--p->n_rules]);
        while (p->n_links > n_links)
                free(p->links[--p->n_links]);
}

void openhook_policy_free(struct openhook_policy *p)
{
        if (!p)
                return;
        truncate_rules(p, 0, 0);
        oh_policy_index_free(p->index);
        oh_created_unref(p->created);
        free(p->rules);
        free(p->links);
        free(p);
}

const struct oh_rule *oh_policy_rules(const struct openhook_policy *p, size_t *n)
{
        *n = p->n_rules;
        return p->rules;
}

const char *const *oh_policy_links(const struct openhook_policy *p, size_t *n)
{
        *n = p->n_links;
        return (const char *const *) p->links;
}

char *oh_perms_format(unsigned perms, char buf[static OH_PERMS_FORMATTED_MAX])
{
        size_t n = 0;

        for (size_t i = 0; i < OH_PERMS_FORMATTED_MAX - 1; i++)
                if (perms & (1u << i))
                        buf[n++] = perm_letters[i];
        buf[n] = '\0';
        return buf;
}

/* ---- Matching ---------------------------------------------------------- */

const struct oh_rule *oh_policy_match(const struct openhook_policy *p, const char *path)
{
        unsigned letters;
        uint32_t n = oh_policy_index_match(p->index, path, &letters);

        return n == OH_POLICY_NO_RULE ? NULL : &p->rules[n];
}

unsigned oh_policy_letters(const struct openhook_policy *p, const char *path)
{
        unsigned letters;

        oh_policy_index_match(p->index, path, &letters);
        return letters;
}

bool oh_policy_may_follow(const struct openhook_policy *p, const char *path)
{
        return oh_policy_index_is_link(p->index, path) || oh_policy_letters(p, path) != 0;
}

/* "/" is everything's ancestor, and everything lies below it. */
bool oh_policy_is_ancestor(const struct openhook_policy *p, const char *path)
{
        return strlen(path) == 1 || oh_policy_index_below(p->index, path, true);
}

bool oh_policy_rule_below(const struct openhook_policy *p, const char *path)
{
        return oh_policy_index_below(p->index, strlen(path) == 1 ? "/" : path, false);
}

/* In a t directory the refusal is about whose the object is, so the hint
 * says so after the rule that would allow it regardless. */
static int private_note(const struct oh_rule *r, char *buf, size_t size)
{
        if (!r || !(r->perms & OPENHOOK_PERM_T))
                return snprintf(buf, size, "%s", "");
        return snprintf(buf, size, "t on %s%s allows only new names there and what this sandbox created",
                        r->path, r->len > 1 ? "/" : "");
}

int oh_policy_hint(const struct openhook_policy *p, const char *path, unsigned needed, char *buf, size_t size)
{
        const struct oh_rule *r = oh_policy_match(p, path);
        char letters[OH_PERMS_FORMATTED_MAX], note[OPENHOOK_PATH_MAX + 80];

        if (r && r->deny)
                return snprintf(buf, size, "denied by 'deny %s' (%s)", r->written, r->origin);
        /* t needs a directory rule: never offered for one name. */
        oh_perms_format((needed | oh_policy_letters(p, path)) & ~OPENHOOK_PERM_T, letters);
        private_note(r, note, sizeof(note));

        /* A new file's name is often random (gcc's /tmp/ccXXXXXX.s): a rule
         * for that one name never matches again, so also offer its
         * directory (never "/", which would cover everything); a program
         * to execute is often one of several built there.  When both do
         * not fit, the exact rule alone. */
        const char *slash = strrchr(path, '/');
        if ((needed & (OPENHOOK_PERM_C | OPENHOOK_PERM_X)) && slash && slash != path && slash[1] != '\0') {
                int n = snprintf(buf, size, "--allow %s:%s (or %s:%.*s/ for any %s there%s%s)",
                                 letters, path, letters, (int) (slash - path), path,
                                 needed & OPENHOOK_PERM_C ? "new file" : "program", note[0] ? "; " : "", note);
                if (n >= 0 && (size_t) n < size)
                        return n;
        }
        if (note[0])
                return snprintf(buf, size, "--allow %s:%s (%s)", letters, path, note);
        return snprintf(buf, size, "--allow %s:%s", letters, path);
}

/* ---- Adding rules ------------------------------------------------------ */

static int fail(char **error, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(char **error, const char *fmt, ...)
{
        va_list ap;

        if (error) {
                va_start(ap, fmt);
                if (vasprintf(error, fmt, ap) < 0)
                        *error = NULL;
                va_end(ap);
        }
        return -EINVAL;
}

static int shown(size_t n)
{
        return (int) (n < SHOWN_MAX ? n : SHOWN_MAX);
}

static int parse_perms(const char *where, const char *s, size_t n, unsigned *ret, char **error)
{
        unsigned perms = 0;

        if (n == 0)
                return fail(error, "%s: empty permissions (%s)", where, perms_expected);
        for (size_t i = 0; i < n; i++) {
                const char *l = memchr(perm_letters, s[i], sizeof(perm_letters) - 1);

                if (!l) {
                        if ((unsigned char) s[i] < 0x20 || (unsigned char) s[i] >= 0x7f)
                                return fail(error, "%s: unknown permission '\\x%02x' (%s)", where,
                                            (unsigned char) s[i], perms_expected);
                        return fail(error, "%s: unknown permission '%c' (%s)", where, s[i], perms_expected);
                }
                perms |= 1u << (l - perm_letters);
        }
        *ret = perms;
        return 0;
}

/* Lexically normalises an absolute rule path into OUT: drops empty and `.`
 * components; `..` is refused because its meaning depends on symlinks the
 * administrator may not have in mind. */
static int normalize(const char *where, const char *path, char out[static PATH_MAX], bool *subtree, char **error)
{
        size_t n = strlen(path), o = 0;

        if (n == 0)
                return fail(error, "%s: missing path", where);
        if (path[0] != '/')
                return fail(error, "%s: path '%.*s' is not absolute (rule paths start with '/')",
                            where, shown(n), path);
        if (n >= PATH_MAX)
                return fail(error, "%s: path is too long (%zu bytes, at most %d)", where, n, PATH_MAX - 1);

        for (const char *c = path; *c;) {
                size_t l;

                while (*c == '/')
                        c++;
                l = strcspn(c, "/");
                if (l == 2 && c[0] == '.' && c[1] == '.')
                        return fail(error, "%s: '..' in path '%.*s' (rule paths must not contain '..')",
                                    where, shown(n), path);
                if (l > 0 && !(l == 1 && c[0] == '.')) {
                        out[o++] = '/';
                        memcpy(out + o, c, l);
                        o += l;
                }
                c += l;
        }
        if (o == 0)
                out[o++] = '/';
        out[o] = '\0';
        *subtree = path[n - 1] == '/' || o == 1;
        return 0;
}

/* Resolves the symlinks of the longest existing prefix of NORM (so that
 * "/var/run/x" matches what the resolver calls "/run/x") and keeps the
 * rest as written: a rule may name something that does not exist yet.
 * The last name of an exact rule is kept too: a rule naming a symlink is
 * about the link (it may be followed; its target needs a rule of its own),
 * never silently about whatever it pointed to at load time. */
static int canonicalize(struct oh_pathcache *cache, const char *norm, bool subtree, char out[static PATH_MAX],
                        size_t *dir_len)
{
        char prefix[PATH_MAX];
        size_t cut = strlen(norm);

        *dir_len = 0;

        if (!subtree)
                while (cut > 0 && norm[--cut] != '/')
                        ;

        for (;;) {
                const char *real, *rest = norm + cut;
                int r;

                if (cut == 0)
                        strcpy(prefix, "/");
                else {
                        memcpy(prefix, norm, cut);
                        prefix[cut] = '\0';
                }
                r = oh_pathcache_realpath(cache, prefix, &real);
                if (r == 0) {
                        size_t rl = strlen(real), tl = strlen(rest);

                        if (rl == 1 && tl > 0)
                                rl = 0;         /* "/" + "/x" */
                        if (rl + tl >= PATH_MAX)
                                return -ENAMETOOLONG;
                        memcpy(out, real, rl);
                        memcpy(out + rl, rest, tl + 1);
                        if (!subtree && rest == strrchr(norm, '/'))
                                *dir_len = rl;
                        return 0;
                }
                if (r == -ENOMEM || cut == 0)
                        return r;
                while (cut > 0 && norm[--cut] != '/')
                        ;
        }
}

static int push_rule(struct openhook_policy *p, struct oh_rule *r)
{
        if (p->n_rules == p->n_alloc) {
                size_t n = p->n_alloc ? p->n_alloc * 2 : 8;
                struct oh_rule *rules = realloc(p->rules, n * sizeof(*rules));

                if (!rules)
                        return -ENOMEM;
                p->rules = rules;
                p->n_alloc = n;
        }
        p->rules[p->n_rules++] = *r;
        return 0;
}

/* Many rules may name paths through one link: it is kept once, but for
 * repeats among the rules being added that other links separate (the
 * index holds each once anyway). */
static int add_link(struct openhook_policy *p, const char *path)
{
        char *copy;

        if (oh_policy_index_is_link(p->index, path) ||
            (p->n_links > p->n_links_indexed && strcmp(p->links[p->n_links - 1], path) == 0))
                return 0;
        if (p->n_links == p->n_links_alloc) {
                size_t n = p->n_links_alloc ? p->n_links_alloc * 2 : 8;
                char **links = realloc(p->links, n * sizeof(*links));

                if (!links)
                        return -ENOMEM;
                p->links = links;
                p->n_links_alloc = n;
        }
        copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        p->links[p->n_links++] = copy;
        return 0;
}

/* Sets LOC to the canonical location of LOC's parent plus its last name.
 * Returns false if the parent does not exist. */
static bool locate(struct oh_pathcache *cache, char loc[static PATH_MAX])
{
        char *slash = strrchr(loc, '/');
        const char *parent;
        size_t pl, nl;
        int r;

        if (slash == loc)
                return true;
        *slash = '\0';
        r = oh_pathcache_realpath(cache, loc, &parent);
        *slash = '/';
        if (r < 0)
                return false;
        pl = strcmp(parent, "/") == 0 ? 0 : strlen(parent);
        nl = strlen(slash);
        if (pl + nl >= PATH_MAX)
                return false;
        memmove(loc + pl, slash, nl + 1);
        memcpy(loc, parent, pl);
        return true;
}

/* Follows the next component of the normalised rule path at *C from
 * WALKED (its canonical location so far; "" for "/"), recording every
 * symlink it passes through, at its canonical location, following chains
 * of links as the broker's walk will; with LAST, WALKED is not needed
 * after it.  1: WALKED and *C moved on; 0: nothing exists below, so no
 * more links; -ENOMEM. */
static int walk_next(struct openhook_policy *p, struct oh_pathcache *cache, char walked[static PATH_MAX],
                     const char **c, bool last)
{
        char loc[PATH_MAX];
        const char *real;
        size_t l;
        int hops = 0;

        *c += strspn(*c, "/");
        l = strcspn(*c, "/");
        if (l == 0)
                return 0;
        size_t wl = strlen(walked);
        if (wl + 1 + l >= sizeof(loc))
                return 0;
        memcpy(loc, walked, wl);
        loc[wl] = '/';
        memcpy(loc + wl + 1, *c, l);
        loc[wl + 1 + l] = '\0';
        *c += l;
        for (;;) {
                const char *target;
                ssize_t n = oh_pathcache_readlink(cache, loc, &target);
                char next[PATH_MAX];
                int r;

                if (n == -ENOMEM)
                        return -ENOMEM;
                if (n <= 0 || ++hops > 40)
                        break;
                r = add_link(p, loc);
                if (r < 0)
                        return r;
                if (target[0] == '/')
                        snprintf(next, sizeof(next), "%s", target);
                else if (snprintf(next, sizeof(next), "%.*s/%s", (int) (strrchr(loc, '/') - loc),
                                  loc, target) >= (int) sizeof(next))
                        return 0;
                memcpy(loc, next, sizeof(loc));
                if (!locate(cache, loc))
                        return 0;
        }
        if (last)
                return 1;
        if (oh_pathcache_realpath(cache, loc, &real) < 0)
                return 0;
        snprintf(walked, PATH_MAX, "%s", strcmp(real, "/") == 0 ? "" : real);
        return 1;
}

/* Sets WALKED to the realpath of NORM's directory NORM[0..DL) ("" for
 * "/"): CANON[0..CANON_DIR) when canonicalize() found it (CANON_DIR > 0).
 * Returns false if it does not exist. */
static bool walked_to_dir(struct oh_pathcache *cache, const char *norm, size_t dl, const char *canon,
                          size_t canon_dir, char walked[static PATH_MAX])
{
        char dir[PATH_MAX];
        const char *real;

        if (canon_dir > 0) {
                memcpy(walked, canon, canon_dir);
                walked[canon_dir] = '\0';
                return true;
        }
        memcpy(dir, norm, dl);
        dir[dl] = '\0';
        if (oh_pathcache_realpath(cache, dir, &real) < 0)
                return false;
        snprintf(walked, PATH_MAX, "%s", strcmp(real, "/") == 0 ? "" : real);
        return true;
}

/* Records every symlink the normalised rule path NORM (canonical: CANON,
 * whose directory is CANON[0..CANON_DIR) if CANON_DIR > 0) passes
 * through.  Rules come in bunches of one directory: its components are
 * walked for the first only (the links they pass through are recorded
 * then), and where that walk got to is the directory's realpath. */
static int record_links(struct openhook_policy *p, struct oh_pathcache *cache, const char *norm, const char *canon,
                        size_t canon_dir)
{
        const char *slash = strrchr(norm, '/'), *c = norm;
        size_t dl = (size_t) (slash - norm);
        char walked[PATH_MAX] = "";
        int r = dl > 0 ? oh_pathcache_visit(cache, norm, dl) : 1;

        if (r < 0)
                return r;
        if (r == 0) {
                if (!walked_to_dir(cache, norm, dl, canon, canon_dir, walked))
                        return 0;       /* nothing exists below: no more links */
                c = slash;
                r = 1;
        }
        while (r > 0 && *c)
                r = walk_next(p, cache, walked, &c, c >= slash);
        return r < 0 ? r : 0;
}

/* Adds a rule to P->rules, not to the index yet (see commit()). */
static int add_rule(struct openhook_policy *p, const char *where, bool deny, unsigned perms,
                    const char *path, char **error)
{
        char norm[PATH_MAX], canon[PATH_MAX];
        struct oh_rule r = { .perms = perms, .deny = deny, .listed_type = DT_UNKNOWN };
        size_t canon_dir;
        int ret;

        ret = normalize(where, path, norm, &r.subtree, error);
        if (ret < 0)
                return ret;
        /* t is about what is made in a directory: a rule for one name
         * would decide nothing made below it. */
        if ((perms & OPENHOOK_PERM_T) && !r.subtree)
                return fail(error, "%s: 't' needs a directory rule: write '%.*s/' (what the sandbox creates "
                            "there is its own)", where, shown(strlen(path)), path);
        /* Executing a file means reading it too (the loader, an
         * interpreter), and Landlock lets the program do both. */
        if (perms & OPENHOOK_PERM_X)
                r.perms |= OPENHOOK_PERM_R;
        ret = canonicalize(p->cache, norm, r.subtree, canon, &canon_dir);
        if (ret == -ENAMETOOLONG)
                return fail(error, "%s: path '%.*s' is too long once its symlinks are resolved",
                            where, shown(strlen(path)), path);
        if (ret < 0)
                return ret;
        ret = rule_strings(&r, canon, path, where);
        if (ret < 0)
                return ret;
        ret = push_rule(p, &r);
        if (ret < 0) {
                rule_done(&r);
                return ret;
        }
        if (deny)
                return 0;
        ret = record_links(p, p->cache, norm, canon, canon_dir);
        /* Asked now, while the cache has the path at hand; add_end() asks
         * again of the rules whose directory was not listed yet. */
        p->rules[p->n_rules - 1].listed_type = oh_pathcache_listed_type(p->cache, canon);
        if (ret == 0 && p->on_rule)
                p->on_rule(p->on_rule_data, &p->rules[p->n_rules - 1]);
        return ret;
}

/* Adds the rules and links added since the last commit to the index, all
 * or none: room is made for them first. */
static int commit(struct openhook_policy *p)
{
        struct oh_policy_index_room room = {};
        int r;

        if (p->n_rules >= OH_POLICY_NO_RULE)
                return -ENOMEM;
        for (size_t i = p->n_indexed; i < p->n_rules; i++)
                oh_policy_index_room_add(&room, p->rules[i].path);
        for (size_t i = p->n_links_indexed; i < p->n_links; i++)
                oh_policy_index_room_add(&room, p->links[i]);
        r = oh_policy_index_reserve(p->index, &room);
        if (r < 0)
                return r;
        for (; p->n_indexed < p->n_rules; p->n_indexed++)
                oh_policy_index_add_rule(p->index, &p->rules[p->n_indexed], (uint32_t) p->n_indexed);
        for (; p->n_links_indexed < p->n_links; p->n_links_indexed++)
                oh_policy_index_add_link(p->index, p->links[p->n_links_indexed]);
        return 0;
}

/* Starts adding rules: the file system's answers are remembered until
 * add_end(). */
static int add_begin(struct openhook_policy *p)
{
        return oh_pathcache_new(&p->cache);
}

/* Ends adding rules: with R == 0 they join the index, else (or if that
 * fails) every rule and link added since add_begin() is dropped. */
static int add_end(struct openhook_policy *p, int r)
{
        /* Directories are listed once many names in them were asked
         * about: what they said of a rule added before is known only now
         * (a listing never takes back what it said). */
        for (size_t i = p->n_indexed; r >= 0 && i < p->n_rules; i++)
                if (!p->rules[i].deny && p->rules[i].listed_type == DT_UNKNOWN)
                        p->rules[i].listed_type = oh_pathcache_listed_type(p->cache, p->rules[i].path);
        oh_pathcache_free(p->cache);
        p->cache = NULL;
        if (r >= 0)
                r = commit(p);
        if (r < 0 && p->on_rule)
                p->on_rule(p->on_rule_data, NULL);
        if (r < 0)
                truncate_rules(p, p->n_indexed, p->n_links_indexed);
        return r;
}

/* One rule of the command line or the API. */
static int add_one(struct openhook_policy *p, const char *where, bool deny, unsigned perms, const char *path,
                   char **error)
{
        int r = add_begin(p);

        if (r < 0)
                return r;
        return add_end(p, add_rule(p, where, deny, perms, path, error));
}

int openhook_policy_allow(struct openhook_policy *p, const char *perms, const char *path, char **error)
{
        _cleanup_free_ char *where = NULL;
        unsigned bits;
        int r;

        if (asprintf(&where, "--allow %s:%s", perms, path) < 0)
                return -ENOMEM;
        r = parse_perms(where, perms, strlen(perms), &bits, error);
        if (r < 0)
                return r;
        return add_one(p, where, false, bits, path, error);
}

int openhook_policy_allow_arg(struct openhook_policy *p, const char *arg, char **error)
{
        _cleanup_free_ char *where = NULL;
        const char *colon = strchr(arg, ':');
        unsigned bits;
        int r;

        if (asprintf(&where, "--allow %s", arg) < 0)
                return -ENOMEM;
        if (!colon)
                return fail(error, "%s: expected PERMS:PATH, e.g. --allow rw:/data/", where);
        r = parse_perms(where, arg, colon - arg, &bits, error);
        if (r < 0)
                return r;
        return add_one(p, where, false, bits, colon + 1, error);
}

int openhook_policy_deny(struct openhook_policy *p, const char *path, char **error)
{
        _cleanup_free_ char *where = NULL;

        if (asprintf(&where, "--deny %s", path) < 0)
                return -ENOMEM;
        return add_one(p, where, true, 0, path, error);
}

/* ---- Policy files -------------------------------------------------------- */

/* One line being parsed: [pos, end) is what is left of it. */
struct line {
        const char *where;      /* "FILE:LINE" */
        const char *start;
        const char *pos;
        const char *end;
};

static bool is_blank(char c)
{
        return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Only what the policy-file parser reads specially, and '#', so that no
 * reader mistakes the rest of a line for a comment. */
static bool needs_quotes(const char *path)
{
        for (const char *c = path; *c; c++)
                if (is_blank(*c) || *c == '"' || *c == '\\' || *c == '#')
                        return true;
        return false;
}

int oh_policy_format_path(const char *path, char *buf, size_t size)
{
        bool quote = needs_quotes(path);
        size_t need = strlen(path) + 1, n = 0;

        if (quote) {
                need += 2;
                for (const char *c = path; *c; c++)
                        need += *c == '"' || *c == '\\';
        }
        if (need > size || need > INT_MAX)
                return -ENAMETOOLONG;
        if (quote)
                buf[n++] = '"';
        for (const char *c = path; *c; c++) {
                if (quote && (*c == '"' || *c == '\\'))
                        buf[n++] = '\\';
                buf[n++] = *c;
        }
        if (quote)
                buf[n++] = '"';
        buf[n] = '\0';
        return (int) n;
}

static void skip_blanks(struct line *l)
{
        while (l->pos < l->end && is_blank(*l->pos))
                l->pos++;
}

/* The next blank-separated word, or an empty one at the end of the line. */
static size_t word(struct line *l, const char **ret)
{
        const char *w;

        skip_blanks(l);
        w = l->pos;
        while (l->pos < l->end && !is_blank(*l->pos))
                l->pos++;
        *ret = w;
        return l->pos - w;
}

/* A path is one word, or a double-quoted string (for paths with blanks)
 * in which a backslash takes the next character literally. */
static int path_token(struct line *l, const char *expected, char out[static PATH_MAX], char **error)
{
        const char *quote;
        size_t o = 0;

        skip_blanks(l);
        if (l->pos == l->end)
                return fail(error, "%s: missing path (expected '%s')", l->where, expected);
        if (*l->pos != '"') {
                const char *w;
                size_t n = word(l, &w);

                if (n >= PATH_MAX)
                        return fail(error, "%s: path is too long (%zu bytes, at most %d)", l->where, n, PATH_MAX - 1);
                memcpy(out, w, n);
                out[n] = '\0';
                return 0;
        }
        quote = l->pos;
        for (l->pos++; l->pos < l->end && *l->pos != '"'; l->pos++) {
                if (*l->pos == '\\' && l->pos + 1 < l->end)
                        l->pos++;
                if (o >= PATH_MAX - 1)
                        return fail(error, "%s: path is too long (at most %d bytes)", l->where, PATH_MAX - 1);
                out[o++] = *l->pos;
        }
        if (l->pos == l->end)
                return fail(error, "%s: unterminated quoted path from column %zu (missing closing '\"')",
                            l->where, (size_t) (quote - l->start) + 1);
        l->pos++;
        out[o] = '\0';
        return 0;
}

static int expect_end(struct line *l, char **error)
{
        const char *w;
        size_t n;

        skip_blanks(l);
        if (l->pos == l->end)
                return 0;
        n = (size_t) (l->end - l->pos);
        w = l->pos;
        return fail(error, "%s: unexpected '%.*s' after the path at column %zu "
                    "(put a path containing blanks in double quotes)",
                    l->where, shown(n), w, (size_t) (w - l->start) + 1);
}

static int parse_allow(struct openhook_policy *p, struct line *l, char **error)
{
        char path[PATH_MAX];
        const char *w;
        size_t n = word(l, &w);
        unsigned bits;
        int r;

        if (n == 0)
                return fail(error, "%s: missing permissions and path (expected 'allow PERMS PATH')", l->where);
        if (w[0] == '/' || w[0] == '"')
                return fail(error, "%s: missing permissions before the path (expected 'allow PERMS PATH', "
                            "PERMS %s)", l->where, perms_expected);
        r = parse_perms(l->where, w, n, &bits, error);
        if (r < 0)
                return r;
        r = path_token(l, "allow PERMS PATH", path, error);
        if (r < 0)
                return r;
        r = expect_end(l, error);
        if (r < 0)
                return r;
        return add_rule(p, l->where, false, bits, path, error);
}

static int parse_deny(struct openhook_policy *p, struct line *l, char **error)
{
        char path[PATH_MAX];
        int r;

        r = path_token(l, "deny PATH", path, error);
        if (r < 0)
                return r;
        r = expect_end(l, error);
        if (r < 0)
                return r;
        return add_rule(p, l->where, true, 0, path, error);
}

static int parse_line(struct openhook_policy *p, struct line *l, char **error)
{
        const char *w;
        size_t n;

        if (memchr(l->start, '\0', l->end - l->start))
                return fail(error, "%s: NUL byte in line", l->where);
        skip_blanks(l);
        if (l->pos == l->end || *l->pos == '#')
                return 0;
        n = word(l, &w);
        if (n == 5 && memcmp(w, "allow", 5) == 0)
                return parse_allow(p, l, error);
        if (n == 4 && memcmp(w, "deny", 4) == 0)
                return parse_deny(p, l, error);
        return fail(error, "%s: expected 'allow PERMS PATH' or 'deny PATH', got '%.*s'",
                    l->where, shown(n), w);
}

/* Appends MSG as a line of *ALL. */
static int append_error(char **all, const char *msg)
{
        size_t old = *all ? strlen(*all) : 0, n = strlen(msg);
        char *s = realloc(*all, old + n + 2);

        if (!s)
                return -ENOMEM;
        if (old)
                s[old++] = '\n';
        memcpy(s + old, msg, n + 1);
        *all = s;
        return 0;
}

/* Writes ":LINENO" after the NAME_LEN bytes of the file's name WHERE
 * starts with: every rule keeps its line, and snprintf() of the whole for
 * each line of 10,000 took 1 % of a broker's start-up. */
static void set_line_number(char *where, size_t name_len, unsigned lineno)
{
        char digits[sizeof("4294967295")];
        size_t n = 0;

        do
                digits[n++] = (char) ('0' + lineno % 10);
        while ((lineno /= 10) > 0);
        where[name_len] = ':';
        for (size_t i = 0; i < n; i++)
                where[name_len + 1 + i] = digits[n - 1 - i];
        where[name_len + 1 + n] = '\0';
}

/* Every faulty line is reported (up to MAX_ERRORS), so one run of
 * `openhook check` shows all that needs fixing; but a file with any error
 * adds no rule (add_end() drops them). */
static int parse_lines(struct openhook_policy *p, const char *name, const char *buf, size_t len, char **error)
{
        _cleanup_free_ char *all = NULL;
        const char *end = buf + len;
        unsigned lineno = 0, n_errors = 0;

        size_t name_len = strlen(name);
        _cleanup_free_ char *where = malloc(name_len + sizeof(":4294967295"));

        if (!where)
                return -ENOMEM;
        memcpy(where, name, name_len);
        for (const char *s = buf; s < end && n_errors < MAX_ERRORS;) {
                const char *nl = memchr(s, '\n', end - s);
                _cleanup_free_ char *msg = NULL;
                struct line l;
                int r;

                set_line_number(where, name_len, ++lineno);
                l = (struct line) { .where = where, .start = s, .pos = s, .end = nl ? nl : end };
                r = parse_line(p, &l, &msg);
                if (r == -EINVAL) {
                        n_errors++;
                        if (msg && append_error(&all, msg) < 0)
                                r = -ENOMEM;
                }
                if (r < 0 && r != -EINVAL)
                        return r;
                s = l.end + 1;
        }
        if (n_errors == 0)
                return 0;
        if (error)
                *error = TAKE_PTR(all);
        return -EINVAL;
}

int oh_policy_parse_buffer(struct openhook_policy *p, const char *name, const char *buf, size_t len, char **error)
{
        int r = add_begin(p);

        if (r < 0)
                return r;
        return add_end(p, parse_lines(p, name, buf, len, error));
}

/* Room for all of FD when it is a file of known size (one read, and one
 * more to see its end), else 0 (a size of 0 may be unknown: /proc). */
static size_t file_room(int fd)
{
        struct stat st;

        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size >= POLICY_FILE_MAX)
                return 0;
        return (size_t) st.st_size + 1;
}

int oh_policy_read_fd(int fd, char **ret, size_t *ret_len)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, size = 0, room = file_room(fd);

        for (;;) {
                ssize_t n;

                if (len == size) {
                        char *b;

                        if (size >= POLICY_FILE_MAX)
                                return -EFBIG;
                        size = !size ? (room ? room : 4096) : size * 2 < POLICY_FILE_MAX ? size * 2 : POLICY_FILE_MAX;
                        b = realloc(buf, size);
                        if (!b)
                                return -ENOMEM;
                        buf = b;
                }
                n = read(fd, buf + len, size - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return oh_negerrno();
                if (n == 0)
                        break;
                len += n;
        }
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

int openhook_policy_load_file(struct openhook_policy *p, const char *file, char **error)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int r;

        fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                r = oh_negerrno();
                fail(error, "%s: cannot open: %s", file, strerror(-r));
                return r;
        }
        r = oh_policy_read_fd(fd, &buf, &len);
        if (r == -EFBIG)
                return fail(error, "%s: too large for a policy file (more than %u bytes)", file, POLICY_FILE_MAX);
        if (r < 0) {
                fail(error, "%s: cannot read: %s", file, strerror(-r));
                return r;
        }
        return oh_policy_parse_buffer(p, file, buf, len, error);
}
