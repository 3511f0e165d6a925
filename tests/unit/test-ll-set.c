/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Landlock rules as a set (src/ll_set.h): which rules a list reduces to,
 * and what a set grants along a path.  A rule is left out only when the
 * directories above it grant, between them, all it could: the tables
 * below say which, and a reduced list must grant every path what the
 * whole list granted (checked against a plain walk over all rules). */
#include <stdlib.h>
#include <string.h>

#include "ll_set.h"
#include "tap.h"
#include "util.h"

#define R OH_LL_READ
#define W OH_LL_WRITE
#define X OH_LL_EXEC
#define C OH_LL_CREATE
#define D OH_LL_DELETE
#define DIR OH_LL_IS_DIR
#define FILE_ OH_LL_IS_FILE

/* What the kernel grants PATH (a file when FILE, else a directory) under
 * RULES[N]: the union of the rules on it and on the directories above it,
 * as Landlock walks up (a rule on a file grants only file rights). */
static unsigned int walk(const struct oh_ll_rule *rules, size_t n, const char *path, bool file)
{
        unsigned int granted = 0;
        size_t len = strlen(path);

        for (size_t i = 0; i < n; i++) {
                const char *p = rules[i].path;
                size_t pl = strlen(p);
                bool self = strcmp(p, path) == 0;
                bool above = !self && (pl == 1 || (strncmp(p, path, pl) == 0 && len > pl && path[pl] == '/'));

                if ((rules[i].access & OH_LL_IS_ANY) == OH_LL_IS_FILE && !self)
                        continue;
                if (self || above)
                        granted |= rules[i].access & ~OH_LL_IS_ANY;
        }
        return file ? granted & (R | W | X | OH_LL_DEV) : granted;
}

/* Reduces RULES[N] and checks that what is left is WANT (paths, in
 * order) and grants every path of the list, and one made up below each,
 * what the whole list granted. */
static void check_reduces_to(const struct oh_ll_rule *rules, size_t n, const char *const *want, size_t n_want)
{
        _cleanup_free_ struct oh_ll_rule *v = calloc(n, sizeof(*v));
        size_t k = n;

        memcpy(v, rules, n * sizeof(*v));
        CHECK_EQ(oh_ll_rules_reduce(v, &k), 0);
        CHECK_EQ(k, n_want);
        for (size_t i = 0; i < k && i < n_want; i++)
                CHECK_STREQ(v[i].path, want[i]);
        for (size_t i = 0; i < n; i++) {
                char below[256];
                bool file = (rules[i].access & OH_LL_IS_ANY) == OH_LL_IS_FILE;

                snprintf(below, sizeof(below), "%s/below", strcmp(rules[i].path, "/") ? rules[i].path : "");
                CHECK_EQ(walk(v, k, rules[i].path, file), walk(rules, n, rules[i].path, file));
                if (!file) {
                        CHECK_EQ(walk(v, k, below, true), walk(rules, n, below, true));
                        CHECK_EQ(walk(v, k, below, false), walk(rules, n, below, false));
                }
        }
}

#define REDUCES_TO(rules, ...) do { \
        static const char *const want_[] = { __VA_ARGS__ }; \
        check_reduces_to(rules, ELEMENTSOF(rules), want_, ELEMENTSOF(want_)); \
} while (0)

static void files_inside_a_directory_that_grants_them_are_left_out(void)
{
        static const struct oh_ll_rule rules[] = {
                { "/data/a", R | FILE_ }, { "/data", R | W | DIR }, { "/data/b", R | W | FILE_ },
                { "/data/sub/c", W | FILE_ }, { "/other/d", R | FILE_ },
        };
        REDUCES_TO(rules, "/data", "/other/d");
}

static void a_file_that_needs_more_than_its_directory_grants_stays(void)
{
        static const struct oh_ll_rule rules[] = {
                { "/data", R | DIR }, { "/data/a", R | W | FILE_ }, { "/data/b", X | R | FILE_ },
                { "/data/c", R | FILE_ },
        };
        REDUCES_TO(rules, "/data", "/data/a", "/data/b");
}

static void rights_of_several_directories_above_add_up(void)
{
        static const struct oh_ll_rule rules[] = {
                { "/a", R | DIR }, { "/a/b", W | DIR }, { "/a/b/c", R | W | FILE_ },
                { "/a/b/d", R | W | C | DIR }, { "/a/e", R | W | FILE_ },
        };
        REDUCES_TO(rules, "/a", "/a/b", "/a/b/d", "/a/e");
}

/* Directory rights (create, delete, list) are not a file's: a file rule
 * with them needs only what a file can have. */
static void a_file_needs_only_file_rights_a_directory_all(void)
{
        static const struct oh_ll_rule rules[] = {
                { "/d", R | W | DIR }, { "/d/f", R | W | C | D | FILE_ }, { "/d/sub", R | C | DIR },
        };
        REDUCES_TO(rules, "/d", "/d/sub");
}

static void a_name_that_only_starts_like_a_directory_is_not_below_it(void)
{
        static const struct oh_ll_rule rules[] = {
                { "/a/b", R | W | DIR }, { "/a/b-c", R | FILE_ }, { "/a/b.d/e", R | FILE_ },
                { "/a/b/e", R | FILE_ }, { "/a/bc", R | FILE_ },
        };
        REDUCES_TO(rules, "/a/b", "/a/b-c", "/a/b.d/e", "/a/bc");
}

static void a_file_is_above_nothing(void)
{
        static const struct oh_ll_rule rules[] = {
                { "/f", R | W | FILE_ }, { "/f/x", R | FILE_ },
        };
        REDUCES_TO(rules, "/f", "/f/x");
}

/* The direct set as given may name a symlink or hold "..": such a rule
 * is never left out, but what lies below it is below its directory. */
static void a_rule_of_unknown_type_stays_and_covers_what_is_below(void)
{
        static const struct oh_ll_rule rules[] = {
                { "/usr", R | X | DIR }, { "/usr/lib/link", R }, { "/usr/../etc", R },
                { "/opt", R | X }, { "/opt/tool/bin", R | X | DIR }, { "/opt/tool/f", R | FILE_ },
        };
        REDUCES_TO(rules, "/opt", "/usr", "/usr/../etc", "/usr/lib/link");
}

static void rules_of_one_path_merge(void)
{
        static const struct oh_ll_rule rules[] = {
                { "/d", R | DIR }, { "/d/f", W | FILE_ }, { "/d", C }, { "/d/f", R | FILE_ },
        };
        _cleanup_free_ struct oh_ll_rule *v = calloc(ELEMENTSOF(rules), sizeof(*v));
        size_t k = ELEMENTSOF(rules);

        memcpy(v, rules, sizeof(rules));
        CHECK_EQ(oh_ll_rules_reduce(v, &k), 0);
        CHECK_EQ(k, 2);
        CHECK_STREQ(v[0].path, "/d");
        CHECK_EQ(v[0].access, R | C | DIR);
        CHECK_STREQ(v[1].path, "/d/f");
        CHECK_EQ(v[1].access, R | W | FILE_);
}

static void the_root_is_above_everything(void)
{
        static const struct oh_ll_rule rules[] = {
                { "/x/y", R | DIR }, { "/", R | X | DIR }, { "/bin/sh", X | R | FILE_ }, { "/tmp", R | W | C | DIR },
        };
        REDUCES_TO(rules, "/", "/tmp");
}

/* A reduced set followed by a few more (run's direct set): sorted by a
 * merge, with the same result as any order. */
static void rules_after_a_sorted_run_are_merged_in(void)
{
        static const struct oh_ll_rule rules[] = {
                { "/a/f", R | FILE_ }, { "/b", R | DIR }, { "/b/g", W | FILE_ }, { "/c/h", R | FILE_ },
                { "/d", R | W | DIR }, { "/e/i", R | FILE_ }, { "/f", R | DIR }, { "/g/j", X | R | FILE_ },
                { "/c", R | X }, { "/a", W | DIR }, { "/d/k", R | FILE_ }, { "/0", R },
        };
        REDUCES_TO(rules, "/0", "/a", "/a/f", "/b", "/b/g", "/c", "/d", "/e/i", "/f", "/g/j");
}

static void a_set_grants_along_the_path(void)
{
        struct oh_ll_set s = {};

        CHECK_EQ(oh_ll_set_add(&s, "/a", 2, R | DIR), 0);
        CHECK_EQ(oh_ll_set_add(&s, "/a/b/c", 6, W | FILE_), 0);
        CHECK_EQ(oh_ll_set_add(&s, "/a/bx", 5, C | DIR), 0);
        CHECK_EQ(oh_ll_set_add(&s, "/a/b/", 4, X | DIR), 0);    /* "/a/b": LEN counts */
        CHECK_EQ(oh_ll_set_add(&s, "/a", 2, D), 0);             /* merges */
        CHECK_EQ(s.n, 4);
        CHECK_EQ(oh_ll_set_granted(&s, "/a/b/c", false), R | D | X);
        CHECK_EQ(oh_ll_set_granted(&s, "/a/b/c", true), R | D | X | W);
        CHECK_EQ(oh_ll_set_granted(&s, "/a/bx/y", false), R | D | C);
        CHECK_EQ(oh_ll_set_granted(&s, "/a", false), 0);
        CHECK_EQ(oh_ll_set_granted(&s, "/a", true), R | D);
        /* A file above a path grants it nothing but a file's rights. */
        CHECK_EQ(oh_ll_set_granted(&s, "/a/b/c/d", false), R | D | X | W);

        CHECK(oh_ll_set_covers(&s, &(struct oh_ll_rule) { "/a/x", R | D | DIR }));
        CHECK(!oh_ll_set_covers(&s, &(struct oh_ll_rule) { "/a/x", R | W | DIR }));
        CHECK(oh_ll_set_covers(&s, &(struct oh_ll_rule) { "/a/b/c", R | W | C | FILE_ }));
        /* Not known to be a file: it might be a directory, which needs c. */
        CHECK(!oh_ll_set_covers(&s, &(struct oh_ll_rule) { "/a/b/c", R | W | C }));

        /* Reduced, the set still answers by path. */
        CHECK_EQ(oh_ll_set_reduce(&s), 0);
        CHECK_EQ(s.n, 4);
        CHECK_EQ(oh_ll_set_granted(&s, "/a/b/c", true), R | D | X | W);
        CHECK_EQ(oh_ll_set_add(&s, "/a/b/c/e", 8, R | FILE_), 0);
        CHECK_EQ(oh_ll_set_reduce(&s), 0);
        CHECK_EQ(s.n, 4);
        oh_ll_set_done(&s);
}

/* A rule the ruleset being built holds already (OH_LL_ADDED, serve's
 * wall built while the policy loads) stays marked only while all its
 * rights are in the ruleset, as added; a mark is no right. */
static void a_rule_stays_added_only_while_all_its_rights_are(void)
{
        struct oh_ll_set s = {};
        const unsigned int A = OH_LL_ADDED;

        CHECK_EQ(oh_ll_set_add(&s, "/d/f", 4, R | FILE_ | A), 0);
        CHECK_EQ(oh_ll_set_add(&s, "/d/f", 4, R | FILE_), 0);
        CHECK_EQ(s.v[0].access, R | FILE_ | A);
        CHECK_EQ(oh_ll_set_add(&s, "/d/f", 4, W | FILE_ | A), 0);
        CHECK_EQ(s.v[0].access, R | W | FILE_ | A);
        CHECK_EQ(oh_ll_set_add(&s, "/d/f", 4, X | FILE_), 0);
        CHECK_EQ(s.v[0].access, R | W | X | FILE_);
        /* Added as a file; of a directory it is another rule. */
        CHECK_EQ(oh_ll_set_add(&s, "/d/g", 4, R | FILE_ | A), 0);
        CHECK_EQ(oh_ll_set_add(&s, "/d/g", 4, R | DIR), 0);
        CHECK_EQ(s.v[1].access, R | OH_LL_IS_ANY);
        CHECK_EQ(oh_ll_set_add(&s, "/e", 2, R | DIR), 0);
        CHECK_EQ(oh_ll_set_granted(&s, "/d/f", true), R | W | X);
        CHECK(oh_ll_set_covers(&s, &(struct oh_ll_rule) { "/e/h", R | FILE_ | A }));
        CHECK(!oh_ll_set_covers(&s, &(struct oh_ll_rule) { "/e/h", W | FILE_ | A }));
        oh_ll_set_done(&s);
}

/* Directories are looked up by the lengths rules have (ll_set.h): a
 * directory of any length, a long one (past OH_LL_SET_LENGTHS) and "/"
 * grant what lies below them. */
static void directories_of_every_length_grant_below_them(void)
{
        char path[OH_LL_SET_LENGTHS + 64];
        struct oh_ll_set s = {};

        memset(path, 'x', sizeof(path));
        path[0] = '/';
        for (size_t len = 2; len < sizeof(path) - 3; len += 97) {
                CHECK_EQ(oh_ll_set_add(&s, path, len, R | DIR), 0);
                memcpy(path + len, "/f", 3);
                CHECK_EQ(oh_ll_set_granted(&s, path, false), R);
                CHECK_EQ(oh_ll_set_granted(&s, path, true), R);
                path[len] = path[len + 1] = path[len + 2] = 'x';
                oh_ll_set_done(&s);
        }
        memcpy(path + 1, "f", 2);
        CHECK_EQ(oh_ll_set_add(&s, "/", 1, W | DIR), 0);
        CHECK_EQ(oh_ll_set_granted(&s, path, false), W);
        oh_ll_set_done(&s);
}

int main(void)
{
        RUN(files_inside_a_directory_that_grants_them_are_left_out);
        RUN(a_file_that_needs_more_than_its_directory_grants_stays);
        RUN(rights_of_several_directories_above_add_up);
        RUN(a_file_needs_only_file_rights_a_directory_all);
        RUN(a_name_that_only_starts_like_a_directory_is_not_below_it);
        RUN(a_file_is_above_nothing);
        RUN(a_rule_of_unknown_type_stays_and_covers_what_is_below);
        RUN(rules_of_one_path_merge);
        RUN(the_root_is_above_everything);
        RUN(rules_after_a_sorted_run_are_merged_in);
        RUN(a_set_grants_along_the_path);
        RUN(directories_of_every_length_grant_below_them);
        RUN(a_rule_stays_added_only_while_all_its_rights_are);
        return TAP_DONE();
}
