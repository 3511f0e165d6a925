/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The policy language: what parses, what is refused with which message, which
 * rule decides a path, and how rule paths are canonicalised. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../fuzz/policy-reference.h"
#include "pathcache.h"
#include "policy.h"
#include "tap.h"
#include "util.h"

#define R OPENHOOK_PERM_R
#define W OPENHOOK_PERM_W
#define C OPENHOOK_PERM_C
#define D OPENHOOK_PERM_D

static char tmp[64];

static struct openhook_policy *policy(void)
{
        struct openhook_policy *p = NULL;

        if (openhook_policy_new(&p) < 0)
                abort();
        return p;
}

/* Parses TEXT as "policy.conf"; returns the error message (or NULL). */
static char *parse(struct openhook_policy *p, const char *text, int *ret)
{
        char *error = NULL;

        *ret = oh_policy_parse_buffer(p, "policy.conf", text, strlen(text), &error);
        return error;
}

static void check_error(const char *text, const char *expected)
{
        struct openhook_policy *p = policy();
        int r;
        char *error = parse(p, text, &r);
        size_t n;

        CHECK_EQ(r, -EINVAL);
        CHECK_STREQ(error, expected);
        oh_policy_rules(p, &n);
        CHECK_EQ(n, 0);
        free(error);
        openhook_policy_free(p);
}

static void write_file(const char *path, const char *text)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t) strlen(text))
                abort();
        close(fd);
}

static void comments_blank_lines_and_whitespace_are_tolerated(void)
{
        struct openhook_policy *p = policy();
        const struct oh_rule *rules;
        size_t n;
        int r;
        char *error = parse(p, "# a comment\n\n   \t\n  allow   rw   /data/  \r\n\tdeny /data/secret\n   # indented\n", &r);

        CHECK_EQ(r, 0);
        CHECK(error == NULL);
        rules = oh_policy_rules(p, &n);
        CHECK_EQ(n, 2);
        if (n == 2) {
                CHECK_STREQ(rules[0].path, "/data");
                CHECK(rules[0].subtree);
                CHECK_EQ(rules[0].perms, R | W);
                CHECK_STREQ(rules[0].origin, "policy.conf:4");
                CHECK_STREQ(rules[0].written, "/data/");
                CHECK(rules[1].deny);
                CHECK(!rules[1].subtree);
                CHECK_STREQ(rules[1].path, "/data/secret");
                CHECK_STREQ(rules[1].origin, "policy.conf:5");
        }
        openhook_policy_free(p);
}

static void last_line_without_newline_is_parsed(void)
{
        struct openhook_policy *p = policy();
        size_t n;
        int r;

        free(parse(p, "allow r /a\nallow rwcd /b/", &r));
        CHECK_EQ(r, 0);
        oh_policy_rules(p, &n);
        CHECK_EQ(n, 2);
        CHECK_EQ(oh_policy_letters(p, "/b/x"), R | W | C | D);
        openhook_policy_free(p);
}

static void quoted_path_may_contain_blanks(void)
{
        struct openhook_policy *p = policy();
        const struct oh_rule *rules;
        size_t n;
        int r;

        free(parse(p, "allow r \"/data/my dir/\"\ndeny \"/data/my dir/a \\\"q\\\" \\\\b\"  # why not\n", &r));
        CHECK_EQ(r, -EINVAL);   /* '#' after a path is not a comment */
        free(parse(p, "allow r \"/data/my dir/\"\ndeny \"/data/my dir/a \\\"q\\\" \\\\b\"\n", &r));
        CHECK_EQ(r, 0);
        rules = oh_policy_rules(p, &n);
        CHECK_EQ(n, 2);
        if (n == 2) {
                CHECK_STREQ(rules[0].path, "/data/my dir");
                CHECK(rules[0].subtree);
                CHECK_STREQ(rules[1].path, "/data/my dir/a \"q\" \\b");
        }
        openhook_policy_free(p);
}

/* What check and --learn write must parse back to the same path. */
static void formatted_paths_read_back_as_themselves(void)
{
        static const char *const paths[] = {
                "/plain/path", "/my dir/x", "/a b\"c#d", "/back\\slash", "/\"quoted\"", "/tab\there", "/x#y",
        };
        char spelled[OH_POLICY_PATH_FORMATTED_MAX], line[OH_POLICY_PATH_FORMATTED_MAX + 16], small[8];

        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
                struct openhook_policy *p = policy();
                const struct oh_rule *rules;
                size_t n;
                int r = oh_policy_format_path(paths[i], spelled, sizeof(spelled));

                CHECK(r > 0);
                CHECK_EQ(r, (long long) strlen(spelled));
                snprintf(line, sizeof(line), "allow r %s\n", spelled);
                free(parse(p, line, &r));
                CHECK_EQ(r, 0);
                rules = oh_policy_rules(p, &n);
                CHECK_EQ(n, 1);
                if (n == 1)
                        CHECK_STREQ(rules[0].path, paths[i]);
                openhook_policy_free(p);
        }
        oh_policy_format_path("/plain/path", spelled, sizeof(spelled));
        CHECK_STREQ(spelled, "/plain/path");
        oh_policy_format_path("/a b\"c", spelled, sizeof(spelled));
        CHECK_STREQ(spelled, "\"/a b\\\"c\"");
        CHECK_EQ(oh_policy_format_path("/1234567", small, sizeof(small)), -ENAMETOOLONG);
        CHECK_EQ(oh_policy_format_path("/123456", small, sizeof(small)), 7);
        CHECK_EQ(oh_policy_format_path("/a b", small, 6), -ENAMETOOLONG);
        CHECK_EQ(oh_policy_format_path("/a b", small, 7), 6);
}

static void unknown_keyword_is_named(void)
{
        check_error("\n\nalow r /x\n", "policy.conf:3: expected 'allow PERMS PATH' or 'deny PATH', got 'alow'");
        check_error("ALLOW r /x\n", "policy.conf:1: expected 'allow PERMS PATH' or 'deny PATH', got 'ALLOW'");
}

static void unknown_permission_is_named(void)
{
        check_error("allow r /ok\nallow rq /x\n", "policy.conf:2: unknown permission 'q' (expected letters from r, w, c, d, x, t)");
        check_error("allow R /x\n", "policy.conf:1: unknown permission 'R' (expected letters from r, w, c, d, x, t)");
        check_error("allow r\x01 /x\n", "policy.conf:1: unknown permission '\\x01' (expected letters from r, w, c, d, x, t)");
}

static void missing_parts_are_named(void)
{
        check_error("allow\n", "policy.conf:1: missing permissions and path (expected 'allow PERMS PATH')");
        check_error("allow /x\n", "policy.conf:1: missing permissions before the path "
                    "(expected 'allow PERMS PATH', PERMS expected letters from r, w, c, d, x, t)");
        check_error("allow rw\n", "policy.conf:1: missing path (expected 'allow PERMS PATH')");
        check_error("allow rw   \n", "policy.conf:1: missing path (expected 'allow PERMS PATH')");
        check_error("deny\n", "policy.conf:1: missing path (expected 'deny PATH')");
        check_error("deny \"\"\n", "policy.conf:1: missing path");
}

static void relative_path_is_refused(void)
{
        check_error("allow r data/x\n", "policy.conf:1: path 'data/x' is not absolute (rule paths start with '/')");
        check_error("deny ./x\n", "policy.conf:1: path './x' is not absolute (rule paths start with '/')");
}

static void dotdot_in_path_is_refused(void)
{
        check_error("allow r /a/../etc/\n", "policy.conf:1: '..' in path '/a/../etc/' (rule paths must not contain '..')");
        check_error("deny /a/..\n", "policy.conf:1: '..' in path '/a/..' (rule paths must not contain '..')");
}

static void trailing_garbage_is_refused_with_column(void)
{
        check_error("allow r /my dir\n", "policy.conf:1: unexpected 'dir' after the path at column 13 "
                    "(put a path containing blanks in double quotes)");
        check_error("deny /x y z\n", "policy.conf:1: unexpected 'y z' after the path at column 9 "
                    "(put a path containing blanks in double quotes)");
}

static void unterminated_quote_is_refused(void)
{
        check_error("allow r \"/my dir\n", "policy.conf:1: unterminated quoted path from column 9 (missing closing '\"')");
}

static void nul_byte_is_refused(void)
{
        struct openhook_policy *p = policy();
        char *error = NULL;
        int r = oh_policy_parse_buffer(p, "policy.conf", "allow r /a\0b\n", 13, &error);

        CHECK_EQ(r, -EINVAL);
        CHECK_STREQ(error, "policy.conf:1: NUL byte in line");
        free(error);
        openhook_policy_free(p);
}

static void error_leaves_no_rule_of_the_file(void)
{
        struct openhook_policy *p = policy();
        size_t n;
        int r;

        CHECK_EQ(openhook_policy_allow_arg(p, "r:/kept", NULL), 0);
        free(parse(p, "allow r /a\nallow w /b\nbogus\n", &r));
        CHECK_EQ(r, -EINVAL);
        oh_policy_rules(p, &n);
        CHECK_EQ(n, 1);
        CHECK_EQ(oh_policy_letters(p, "/a"), 0);
        CHECK_EQ(oh_policy_letters(p, "/kept"), R);
        openhook_policy_free(p);
}

static void every_faulty_line_is_reported(void)
{
        struct openhook_policy *p = policy();
        int r;
        char *error = parse(p, "allow rq /a/\nallow r /ok/\npermit r /b/\nallow r rel\n", &r);

        CHECK_EQ(r, -EINVAL);
        CHECK_STREQ(error, "policy.conf:1: unknown permission 'q' (expected letters from r, w, c, d, x, t)\n"
                    "policy.conf:3: expected 'allow PERMS PATH' or 'deny PATH', got 'permit'\n"
                    "policy.conf:4: path 'rel' is not absolute (rule paths start with '/')");
        CHECK_EQ(oh_policy_letters(p, "/ok/x"), 0);
        free(error);
        openhook_policy_free(p);
}

static void command_line_rules_parse_and_explain_errors(void)
{
        struct openhook_policy *p = policy();
        char *error = NULL;
        const struct oh_rule *rules;
        size_t n;

        CHECK_EQ(openhook_policy_allow_arg(p, "rw:/srv/data/", &error), 0);
        CHECK_EQ(openhook_policy_allow(p, "c", "/srv/drop/", &error), 0);
        CHECK_EQ(openhook_policy_deny(p, "/srv/data/secret/", &error), 0);
        CHECK(error == NULL);
        rules = oh_policy_rules(p, &n);
        CHECK_EQ(n, 3);
        if (n == 3) {
                CHECK_STREQ(rules[0].origin, "--allow rw:/srv/data/");
                CHECK_STREQ(rules[1].origin, "--allow c:/srv/drop/");
                CHECK_STREQ(rules[2].origin, "--deny /srv/data/secret/");
        }

        CHECK_EQ(openhook_policy_allow_arg(p, "rq:/x", &error), -EINVAL);
        CHECK_STREQ(error, "--allow rq:/x: unknown permission 'q' (expected letters from r, w, c, d, x, t)");
        free(error);
        CHECK_EQ(openhook_policy_allow_arg(p, ":/x", &error), -EINVAL);
        CHECK_STREQ(error, "--allow :/x: empty permissions (expected letters from r, w, c, d, x, t)");
        free(error);
        CHECK_EQ(openhook_policy_allow_arg(p, "/x", &error), -EINVAL);
        CHECK_STREQ(error, "--allow /x: expected PERMS:PATH, e.g. --allow rw:/data/");
        free(error);
        CHECK_EQ(openhook_policy_allow_arg(p, "r:x", &error), -EINVAL);
        CHECK_STREQ(error, "--allow r:x: path 'x' is not absolute (rule paths start with '/')");
        free(error);
        CHECK_EQ(openhook_policy_allow_arg(p, "r:", &error), -EINVAL);
        CHECK_STREQ(error, "--allow r:: missing path");
        free(error);
        CHECK_EQ(openhook_policy_deny(p, "/a/../b", &error), -EINVAL);
        CHECK_STREQ(error, "--deny /a/../b: '..' in path '/a/../b' (rule paths must not contain '..')");
        free(error);
        CHECK_EQ(openhook_policy_allow_arg(p, "r:/x", NULL), 0);       /* error is optional */
        CHECK_EQ(openhook_policy_allow_arg(p, "q:/x", NULL), -EINVAL);
        openhook_policy_free(p);
}

static void policy_file_loads_and_names_itself_in_errors(void)
{
        struct openhook_policy *p = policy();
        char path[128], *error = NULL;

        snprintf(path, sizeof(path), "%s/good.conf", tmp);
        write_file(path, "allow r /usr/\n");
        CHECK_EQ(openhook_policy_load_file(p, path, &error), 0);
        CHECK(error == NULL);
        CHECK_EQ(oh_policy_letters(p, "/usr/share"), R);

        snprintf(path, sizeof(path), "%s/bad.conf", tmp);
        write_file(path, "# one\nallow z /x\n");
        CHECK_EQ(openhook_policy_load_file(p, path, &error), -EINVAL);
        {
                char expected[256];

                snprintf(expected, sizeof(expected), "%s:2: unknown permission 'z' (expected letters from r, w, c, d, x, t)", path);
                CHECK_STREQ(error, expected);
        }
        free(error);
        openhook_policy_free(p);
}

static void unreadable_policy_file_is_reported(void)
{
        struct openhook_policy *p = policy();
        char path[128], expected[256], *error = NULL;

        snprintf(path, sizeof(path), "%s/missing.conf", tmp);
        CHECK_EQ(openhook_policy_load_file(p, path, &error), -ENOENT);
        snprintf(expected, sizeof(expected), "%s: cannot open: No such file or directory", path);
        CHECK_STREQ(error, expected);
        free(error);

        CHECK_EQ(openhook_policy_load_file(p, tmp, &error), -EISDIR);   /* a directory */
        snprintf(expected, sizeof(expected), "%s: cannot read: Is a directory", tmp);
        CHECK_STREQ(error, expected);
        free(error);
        openhook_policy_free(p);
}

static void longest_rule_path_decides(void)
{
        struct openhook_policy *p = policy();

        CHECK_EQ(openhook_policy_allow_arg(p, "r:/data/", NULL), 0);
        CHECK_EQ(openhook_policy_allow_arg(p, "rwc:/data/out/", NULL), 0);
        CHECK_EQ(oh_policy_letters(p, "/data"), R);
        CHECK_EQ(oh_policy_letters(p, "/data/in/x"), R);
        CHECK_EQ(oh_policy_letters(p, "/data/out"), R | W | C);
        CHECK_EQ(oh_policy_letters(p, "/data/out/deep/x"), R | W | C);
        CHECK_EQ(oh_policy_letters(p, "/data/outside"), R);     /* not below /data/out */
        CHECK_EQ(oh_policy_letters(p, "/dat"), 0);
        CHECK_EQ(oh_policy_letters(p, "/"), 0);
        CHECK(oh_policy_match(p, "/etc/passwd") == NULL);
        openhook_policy_free(p);
}

static void exact_file_rule_covers_only_that_file(void)
{
        struct openhook_policy *p = policy();

        CHECK_EQ(openhook_policy_allow_arg(p, "rw:/data/file", NULL), 0);
        CHECK_EQ(oh_policy_letters(p, "/data/file"), R | W);
        CHECK_EQ(oh_policy_letters(p, "/data/file/x"), 0);
        CHECK_EQ(oh_policy_letters(p, "/data/file2"), 0);
        CHECK_EQ(oh_policy_letters(p, "/data"), 0);
        openhook_policy_free(p);
}

static void exact_rule_beats_subtree_rule_of_same_path(void)
{
        struct openhook_policy *p = policy();

        CHECK_EQ(openhook_policy_allow_arg(p, "rwcd:/data/", NULL), 0);
        CHECK_EQ(openhook_policy_allow_arg(p, "r:/data", NULL), 0);
        CHECK_EQ(oh_policy_letters(p, "/data"), R);
        CHECK_EQ(oh_policy_letters(p, "/data/x"), R | W | C | D);
        openhook_policy_free(p);
}

static void deny_beats_allow_of_same_path_in_either_order(void)
{
        struct openhook_policy *p = policy();
        char hint[256];

        CHECK_EQ(openhook_policy_allow_arg(p, "rw:/a/", NULL), 0);
        CHECK_EQ(openhook_policy_deny(p, "/a/", NULL), 0);
        CHECK_EQ(openhook_policy_deny(p, "/b/", NULL), 0);
        CHECK_EQ(openhook_policy_allow_arg(p, "rw:/b/", NULL), 0);
        CHECK_EQ(oh_policy_letters(p, "/a/x"), 0);
        CHECK_EQ(oh_policy_letters(p, "/b/x"), 0);
        oh_policy_hint(p, "/b/x", R, hint, sizeof(hint));
        CHECK_STREQ(hint, "denied by 'deny /b/' (--deny /b/)");
        openhook_policy_free(p);
}

static void deny_inside_allow_and_allow_inside_deny(void)
{
        struct openhook_policy *p = policy();
        int r;

        free(parse(p, "allow rw /srv/\ndeny /srv/secret/\nallow r /srv/secret/public/\n", &r));
        CHECK_EQ(r, 0);
        CHECK_EQ(oh_policy_letters(p, "/srv/x"), R | W);
        CHECK_EQ(oh_policy_letters(p, "/srv/secret"), 0);
        CHECK_EQ(oh_policy_letters(p, "/srv/secret/key"), 0);
        CHECK_EQ(oh_policy_letters(p, "/srv/secret/public/k"), R);
        CHECK(oh_policy_match(p, "/srv/secret/key")->deny);
        openhook_policy_free(p);
}

static void allows_of_same_path_merge_letters(void)
{
        struct openhook_policy *p = policy();

        CHECK_EQ(openhook_policy_allow_arg(p, "r:/m/", NULL), 0);
        CHECK_EQ(openhook_policy_allow_arg(p, "c:/m/", NULL), 0);
        CHECK_EQ(openhook_policy_allow_arg(p, "w:/m", NULL), 0);        /* exact: not merged with the subtree */
        CHECK_EQ(oh_policy_letters(p, "/m/x"), R | C);
        CHECK_EQ(oh_policy_letters(p, "/m"), W);
        openhook_policy_free(p);
}

static void root_subtree_rule_covers_everything(void)
{
        struct openhook_policy *p = policy();

        CHECK_EQ(openhook_policy_allow_arg(p, "r:/", NULL), 0);
        CHECK_EQ(openhook_policy_deny(p, "/etc/", NULL), 0);
        CHECK_EQ(oh_policy_letters(p, "/"), R);
        CHECK_EQ(oh_policy_letters(p, "/usr/bin/ls"), R);
        CHECK_EQ(oh_policy_letters(p, "/etc/passwd"), 0);
        CHECK_EQ(oh_policy_letters(p, "/etcetera"), R);
        openhook_policy_free(p);
}

static void hint_names_the_missing_letters_or_the_deny_rule(void)
{
        struct openhook_policy *p = policy();
        char hint[256];
        int r;

        free(parse(p, "allow r /data/\ndeny /data/private/\n", &r));
        CHECK_EQ(r, 0);
        oh_policy_hint(p, "/data/x", W, hint, sizeof(hint));
        CHECK_STREQ(hint, "--allow rw:/data/x");
        oh_policy_hint(p, "/etc/passwd", R, hint, sizeof(hint));
        CHECK_STREQ(hint, "--allow r:/etc/passwd");
        oh_policy_hint(p, "/data/private/k", R, hint, sizeof(hint));
        CHECK_STREQ(hint, "denied by 'deny /data/private/' (policy.conf:2)");
        openhook_policy_free(p);
}

static void hint_for_a_create_also_offers_the_directory(void)
{
        struct openhook_policy *p = policy();
        char hint[256], small[40];
        int r;

        free(parse(p, "allow r /data/\ndeny /data/private/\n", &r));
        CHECK_EQ(r, 0);
        oh_policy_hint(p, "/tmp/cc6BPkzA.s", C, hint, sizeof(hint));
        CHECK_STREQ(hint, "--allow c:/tmp/cc6BPkzA.s (or c:/tmp/ for any new file there)");
        oh_policy_hint(p, "/data/new", C | W, hint, sizeof(hint));
        CHECK_STREQ(hint, "--allow rwc:/data/new (or rwc:/data/ for any new file there)");
        /* never "/": that rule would cover everything */
        oh_policy_hint(p, "/new", C, hint, sizeof(hint));
        CHECK_STREQ(hint, "--allow c:/new");
        /* a deny decides whatever is needed */
        oh_policy_hint(p, "/data/private/new", C, hint, sizeof(hint));
        CHECK_STREQ(hint, "denied by 'deny /data/private/' (policy.conf:2)");
        /* when both do not fit, the exact rule alone */
        oh_policy_hint(p, "/tmp/cc6BPkzA.s", C, small, sizeof(small));
        CHECK_STREQ(small, "--allow c:/tmp/cc6BPkzA.s");
        openhook_policy_free(p);
}

static void x_implies_r_and_t_needs_a_directory_rule(void)
{
        struct openhook_policy *p = policy();
        char *error = NULL;
        int r;

        free(parse(p, "allow x /oh-none/tool\nallow wcdx /build/\nallow t /scratch/\n", &r));
        CHECK_EQ(r, 0);
        CHECK_EQ(oh_policy_letters(p, "/oh-none/tool"), R | OPENHOOK_PERM_X);
        CHECK_EQ(oh_policy_letters(p, "/build/app"), R | W | C | D | OPENHOOK_PERM_X);
        CHECK_EQ(oh_policy_letters(p, "/scratch/f"), OPENHOOK_PERM_T);
        CHECK_EQ(openhook_policy_allow_arg(p, "t:/tmp", &error), -EINVAL);
        CHECK_STREQ(error, "--allow t:/tmp: 't' needs a directory rule: write '/tmp/' "
                    "(what the sandbox creates there is its own)");
        free(error);
        openhook_policy_free(p);
}

static void hints_name_x_and_t(void)
{
        struct openhook_policy *p = policy();
        char hint[256];
        int r;

        free(parse(p, "allow t /tmp/\nallow r /src/\n", &r));
        CHECK_EQ(r, 0);
        oh_policy_hint(p, "/tmp/other", R, hint, sizeof(hint));
        CHECK_STREQ(hint, "--allow r:/tmp/other (t on /tmp/ allows only new names there and what this "
                    "sandbox created)");
        oh_policy_hint(p, "/src/build/app", OPENHOOK_PERM_X, hint, sizeof(hint));
        CHECK_STREQ(hint, "--allow rx:/src/build/app (or rx:/src/build/ for any program there)");
        openhook_policy_free(p);
}

static void ancestors_of_allowed_paths_are_known(void)
{
        struct openhook_policy *p = policy();

        CHECK_EQ(openhook_policy_allow_arg(p, "r:/a/b/c/", NULL), 0);
        CHECK_EQ(openhook_policy_deny(p, "/z/", NULL), 0);
        CHECK(oh_policy_is_ancestor(p, "/"));
        CHECK(oh_policy_is_ancestor(p, "/a"));
        CHECK(oh_policy_is_ancestor(p, "/a/b"));
        CHECK(!oh_policy_is_ancestor(p, "/a/b/c"));
        CHECK(!oh_policy_is_ancestor(p, "/a/bb"));
        CHECK(!oh_policy_is_ancestor(p, "/z"));         /* deny rules do not count */
        openhook_policy_free(p);
}

static void rule_paths_are_normalised_lexically(void)
{
        struct openhook_policy *p = policy();
        const struct oh_rule *rules;
        size_t n;

        CHECK_EQ(openhook_policy_allow_arg(p, "r://nonexistent-oh//./x/", NULL), 0);
        CHECK_EQ(openhook_policy_allow_arg(p, "r:/nonexistent-oh/./y/.", NULL), 0);
        rules = oh_policy_rules(p, &n);
        CHECK_EQ(n, 2);
        if (n == 2) {
                CHECK_STREQ(rules[0].path, "/nonexistent-oh/x");
                CHECK(rules[0].subtree);
                CHECK_STREQ(rules[0].written, "//nonexistent-oh//./x/");
                CHECK_STREQ(rules[1].path, "/nonexistent-oh/y");
                CHECK(!rules[1].subtree);
        }
        openhook_policy_free(p);
}

static void rule_through_symlink_matches_the_real_path(void)
{
        struct openhook_policy *p = policy();
        char real[128], link[128], rule[160], expected[160];
        const struct oh_rule *rules;
        size_t n;

        snprintf(real, sizeof(real), "%s/run", tmp);
        snprintf(link, sizeof(link), "%s/varrun", tmp);
        CHECK_EQ(mkdir(real, 0755), 0);
        CHECK_EQ(symlink("run", link), 0);

        snprintf(rule, sizeof(rule), "r:%s/x", link);          /* /var/run/x with /var/run -> /run */
        CHECK_EQ(openhook_policy_allow_arg(p, rule, NULL), 0);
        snprintf(rule, sizeof(rule), "rw:%s/", link);          /* the link itself, as a subtree */
        CHECK_EQ(openhook_policy_allow_arg(p, rule, NULL), 0);
        rules = oh_policy_rules(p, &n);
        CHECK_EQ(n, 2);
        if (n == 2) {
                snprintf(expected, sizeof(expected), "%s/x", real);
                CHECK_STREQ(rules[0].path, expected);
                CHECK_STREQ(rules[1].path, real);
                CHECK(rules[1].subtree);
                CHECK_EQ(oh_policy_letters(p, expected), R);
        }
        /* An exact rule naming a link is about the link, not its target. */
        snprintf(rule, sizeof(rule), "r:%s", link);
        CHECK_EQ(openhook_policy_allow_arg(p, rule, NULL), 0);
        rules = oh_policy_rules(p, &n);
        CHECK_EQ(n, 3);
        if (n == 3) {
                CHECK_STREQ(rules[2].path, link);
                CHECK(!rules[2].subtree);
        }
        /* The link the rules were written through may be followed. */
        CHECK(oh_policy_may_follow(p, link));
        CHECK(oh_policy_is_ancestor(p, tmp));
        snprintf(expected, sizeof(expected), "%s/elsewhere", tmp);
        CHECK(!oh_policy_may_follow(p, expected));
        openhook_policy_free(p);
}

/* ---- The index against a scan of every rule ---------------------------- */

/* Every path of up to DEPTH names from NAMES below TOP, each also with
 * "/", "//x", "x" or "/." after it, given to CHECK_ONE; returns how many
 * failed. */
static unsigned each_path(const char *top, const char *const names[], size_t n_names, unsigned depth,
                          bool (*check_one)(void *ctx, const char *path), void *ctx)
{
        static const char *const after[] = { "", "/", "//x", "x", "/." };
        char path[256];
        unsigned failed = 0, codes = 1;

        for (unsigned d = 0; d <= depth; d++, codes *= (unsigned) n_names)
                for (unsigned code = 0; code < codes; code++)
                        for (size_t k = 0; k < ELEMENTSOF(after); k++) {
                                size_t n = (size_t) snprintf(path, sizeof(path), "%s", top);

                                for (unsigned i = 0, c = code; i < d; i++, c /= (unsigned) n_names)
                                        n += (size_t) snprintf(path + n, sizeof(path) - n, "/%s", names[c % n_names]);
                                snprintf(path + n, sizeof(path) - n, "%s", after[k]);
                                if (!check_one(ctx, path) && failed++ < 5)
                                        printf("#   differs on %s\n", path);
                        }
        return failed;
}

static bool agrees_with_scan(void *ctx, const char *path)
{
        return !ref_disagreement(ctx, path);
}

/* Rules over few names, so that they share paths, prefixes ("a", "ab")
 * and kinds; first the same set in every order a file may hold it. */
static const char *const tricky_rules[] = {
        "allow r /oh-none/a/", "deny /oh-none/a/b/", "allow rw /oh-none/a/b", "allow c /oh-none/a/b/",
        "allow w /oh-none/a/", "deny /oh-none/ab", "allow x /oh-none/ab/a", "allow t /oh-none/b/",
        "allow d /", "deny /oh-none/a/b/a", "allow r /oh-none/a.b", "deny /oh-none/",
};

/* Adds RULE ("allow PERMS PATH" or "deny PATH") as the command line
 * would: one rule at a time. */
static int add_as_option(struct openhook_policy *p, const char *rule)
{
        char perms[8], path[64];

        if (sscanf(rule, "allow %7s %63s", perms, path) == 2)
                return openhook_policy_allow(p, perms, path, NULL);
        return openhook_policy_deny(p, rule + strlen("deny "), NULL);
}

static void index_decides_as_a_scan_of_every_rule(void)
{
        static const char *const names[] = { "a", "b", "ab", "a.b" };
        unsigned seed = 1;

        /* Random picks in random orders, through the file parser (all the
         * rules in one batch) or as options (one at a time). */
        for (unsigned round = 0; round < 40; round++) {
                struct openhook_policy *p = policy();
                char text[1024] = "";
                int r = 0;

                for (size_t i = 0; i < ELEMENTSOF(tricky_rules); i++) {
                        seed = seed * 1103515245 + 12345;
                        const char *rule = tricky_rules[(seed >> 16) % ELEMENTSOF(tricky_rules)];

                        if (round % 2)
                                CHECK_EQ(add_as_option(p, rule), 0);
                        else
                                strcat(strcat(text, rule), "\n");
                }
                free(parse(p, text, &r));
                CHECK_EQ(r, 0);
                CHECK_EQ(each_path("/oh-none", names, ELEMENTSOF(names), 3, agrees_with_scan, p), 0);
                CHECK(!ref_disagreement(p, "/"));
                CHECK(!ref_disagreement(p, "x"));
                openhook_policy_free(p);
        }
}

static void index_knows_the_links_rules_were_written_through(void)
{
        static const char *const names[] = { "lk", "chain", "real", "x", "sub", "deny", "far" };
        struct openhook_policy *p = policy();
        char dir[128], path[192], text[1024];
        int r;

        snprintf(dir, sizeof(dir), "%s/links", tmp);
        snprintf(path, sizeof(path), "%s/real", dir);
        CHECK_EQ(mkdir(dir, 0755), 0);
        CHECK_EQ(mkdir(path, 0755), 0);
        snprintf(path, sizeof(path), "%s/lk", dir);
        CHECK_EQ(symlink("real", path), 0);
        snprintf(path, sizeof(path), "%s/far", dir);
        CHECK_EQ(mkdir(path, 0755), 0);
        snprintf(path, sizeof(path), "%s/far/lk", dir);         /* only the link lies below far */
        CHECK_EQ(symlink("../real", path), 0);
        snprintf(path, sizeof(path), "%s/chain", dir);
        CHECK_EQ(symlink("lk", path), 0);
        snprintf(text, sizeof(text), "allow r %1$s/chain/x\nallow rw %1$s/lk/sub/\ndeny %1$s/lk/deny\n"
                 "deny %1$s/chain/\nallow r %1$s/real/x/\nallow r %1$s/far/lk/sub\n", dir);
        free(parse(p, text, &r));
        CHECK_EQ(r, 0);
        CHECK(oh_policy_may_follow(p, path));           /* chain */
        snprintf(path, sizeof(path), "%s/lk", dir);
        CHECK(oh_policy_may_follow(p, path));
        snprintf(path, sizeof(path), "%s/far", dir);
        CHECK(oh_policy_is_ancestor(p, path));
        CHECK_EQ(each_path(dir, names, ELEMENTSOF(names), 3, agrees_with_scan, p), 0);
        CHECK_EQ(each_path(tmp, names, 1, 1, agrees_with_scan, p), 0);
        openhook_policy_free(p);
}

/* Rules after the first of a directory reached through symlinks start
 * their walk at the directory's realpath, which canonicalising the rule
 * found: a link as their last name is recorded where the resolver meets
 * it (real/d/f2), never at a path it never walks (lk/b/f2). */
static void a_later_rule_of_a_linked_directory_records_its_link_at_the_real_place(void)
{
        struct openhook_policy *p = policy();
        char dir[128], path[192], text[512];
        int r;

        snprintf(dir, sizeof(dir), "%s/later", tmp);
        CHECK_EQ(mkdir(dir, 0755), 0);
        snprintf(path, sizeof(path), "%s/real", dir);
        CHECK_EQ(mkdir(path, 0755), 0);
        snprintf(path, sizeof(path), "%s/real/d", dir);
        CHECK_EQ(mkdir(path, 0755), 0);
        snprintf(path, sizeof(path), "%s/lk", dir);
        CHECK_EQ(symlink("real", path), 0);
        snprintf(path, sizeof(path), "%s/real/b", dir);
        CHECK_EQ(symlink("d", path), 0);
        snprintf(path, sizeof(path), "%s/real/d/f2", dir);
        CHECK_EQ(symlink("f1", path), 0);
        snprintf(text, sizeof(text), "allow r %1$s/lk/b/f1\nallow r %1$s/lk/b/f2\n", dir);
        free(parse(p, text, &r));
        CHECK_EQ(r, 0);

        size_t n;
        const char *const *links = oh_policy_links(p, &n);
        CHECK_EQ(n, 3);
        if (n == 3)
                CHECK_STREQ(links[2], path);
        openhook_policy_free(p);
}

/* The index reserves room for the components a path does not share with
 * the one before it: "/qK/a/b" after "/qK/ab" shares "/qK" only, and
 * needs nodes for "a" and "b" (with one too few, 40 such pairs overflow
 * the nodes reserved). */
static void paths_sharing_only_the_start_of_a_name_are_indexed(void)
{
        struct openhook_policy *p = policy();
        char text[4096], path[64];
        size_t o = 0;
        int r;

        for (int k = 0; k < 40; k++)
                o += (size_t) snprintf(text + o, sizeof(text) - o, "allow r /q%d/ab\nallow rw /q%d/a/b\n", k, k);
        free(parse(p, text, &r));
        CHECK_EQ(r, 0);
        for (int k = 0; k < 40; k++) {
                snprintf(path, sizeof(path), "/q%d/ab", k);
                CHECK_EQ(oh_policy_letters(p, path), OPENHOOK_PERM_R);
                snprintf(path, sizeof(path), "/q%d/a/b", k);
                CHECK_EQ(oh_policy_letters(p, path), OPENHOOK_PERM_R | OPENHOOK_PERM_W);
                snprintf(path, sizeof(path), "/q%d/a", k);
                CHECK_EQ(oh_policy_letters(p, path), 0);
        }
        openhook_policy_free(p);
}

/* realpath and readlink through the cache answer as glibc and the
 * kernel do, whatever was asked before (ctx: one cache for all). */
static bool agrees_with_glibc(void *ctx, const char *path)
{
        _cleanup_free_ char *real = realpath(path, NULL);
        int error = real ? 0 : -errno;
        char target[256];
        ssize_t n = readlink(path, target, sizeof(target) - 1);
        int link_error = n < 0 ? -errno : 0;
        const char *cached, *cached_target;
        int r = oh_pathcache_realpath(ctx, path, &cached);
        ssize_t k = oh_pathcache_readlink(ctx, path, &cached_target);

        if (r != error || (real && strcmp(real, cached) != 0))
                return false;
        if (n >= 0)
                target[n] = '\0';
        return n >= 0 ? k == n && strcmp(cached_target, target) == 0 : k == link_error;
}

static void path_cache_answers_as_glibc(void)
{
        static const char *const names[] = { "d", "e", "f", "file", "l1", "l2", "abs", "loop", "up", "tofile",
                                             "dangling", "missing", ".", "..", "" };
        static const char *const links[][2] = {
                { "l1", "d" }, { "l2", "l1/e" }, { "loop", "loop" }, { "up", "d/.." }, { "tofile", "file" },
                { "dangling", "nowhere" }, { "d/e/back", "../../l2" },
        };
        struct oh_pathcache *cache = NULL;
        char dir[128], path[192];

        snprintf(dir, sizeof(dir), "%s/pc", tmp);
        snprintf(path, sizeof(path), "%s/d/e/f", dir);
        CHECK_EQ(mkdir(dir, 0755), 0);
        for (char *slash = strchr(path + strlen(dir) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
                *slash = '\0';
                CHECK_EQ(mkdir(path, 0755), 0);
                *slash = '/';
        }
        CHECK_EQ(mkdir(path, 0755), 0);
        snprintf(path, sizeof(path), "%s/file", dir);
        write_file(path, "x");
        for (size_t i = 0; i < ELEMENTSOF(links); i++) {
                snprintf(path, sizeof(path), "%s/%s", dir, links[i][0]);
                CHECK_EQ(symlink(links[i][1], path), 0);
        }
        snprintf(path, sizeof(path), "%s/abs", dir);
        char target[160];
        snprintf(target, sizeof(target), "%s/d/e", dir);
        CHECK_EQ(symlink(target, path), 0);
        CHECK_EQ(oh_pathcache_new(&cache), 0);
        CHECK_EQ(each_path(dir, names, ELEMENTSOF(names), 3, agrees_with_glibc, cache), 0);
        oh_pathcache_free(cache);
}

/* Rules of many names in one directory: their types come from one
 * listing of it (lib/pathcache.c), which the broker's Landlock uses
 * instead of looking again; what a listing cannot tell stays unknown. */
static void rule_paths_are_typed_from_their_directory_listing(void)
{
        struct openhook_policy *p = policy();
        char dir[128], path[192], text[4096] = "";
        size_t n, len = 0;
        int r;

        snprintf(dir, sizeof(dir), "%s/listed", tmp);
        CHECK_EQ(mkdir(dir, 0755), 0);
        for (int i = 0; i < 12; i++) {
                snprintf(path, sizeof(path), "%s/f%d", dir, i);
                write_file(path, "x");
                len += (size_t) snprintf(text + len, sizeof(text) - len, "allow r %s\n", path);
        }
        snprintf(path, sizeof(path), "%s/sub", dir);
        CHECK_EQ(mkdir(path, 0755), 0);
        snprintf(path, sizeof(path), "%s/link", dir);
        CHECK_EQ(symlink("f0", path), 0);
        len += (size_t) snprintf(text + len, sizeof(text) - len,
                                 "allow r %1$s/sub/\nallow r %1$s/link\nallow r %1$s/missing\ndeny %1$s/f1\n", dir);
        free(parse(p, text, &r));
        CHECK_EQ(r, 0);

        const struct oh_rule *rules = oh_policy_rules(p, &n);
        CHECK_EQ(n, 16);
        for (size_t i = 0; i < 12 && i < n; i++)
                CHECK_EQ(rules[i].listed_type, DT_REG);
        if (n == 16) {
                CHECK_EQ(rules[12].listed_type, DT_DIR);
                CHECK_EQ(rules[13].listed_type, DT_LNK);
                CHECK_EQ(rules[14].listed_type, -ENOENT);
        }
        openhook_policy_free(p);
}

/* What oh_policy_on_rule() was told: the allow rules' paths, and how
 * often the rules added since the last commit were dropped. */
struct told {
        char paths[8][64];
        size_t n;
        unsigned int dropped;
};

static void tell(void *data, const struct oh_rule *r)
{
        struct told *t = data;

        if (!r)
                t->dropped++;
        else if (t->n < ELEMENTSOF(t->paths))
                snprintf(t->paths[t->n++], sizeof(t->paths[0]), "%s", r->path);
}

/* The broker's Landlock starts on each allow rule as it is added
 * (src/ceiling.h), and starts over if a file with an error drops them. */
static void each_allow_rule_is_told_as_added_and_a_dropped_file_too(void)
{
        struct openhook_policy *p = policy();
        struct told t = {};
        int r;

        oh_policy_on_rule(p, tell, &t);
        free(parse(p, "allow r /a\ndeny /a/b\nallow rw /c/\n", &r));
        CHECK_EQ(r, 0);
        CHECK_EQ(t.n, 2);
        CHECK_STREQ(t.paths[0], "/a");
        CHECK_STREQ(t.paths[1], "/c");
        CHECK_EQ(t.dropped, 0);
        free(parse(p, "allow r /d\nallow q /e\n", &r));
        CHECK_EQ(r, -EINVAL);
        CHECK_EQ(t.n, 3);
        CHECK_EQ(t.dropped, 1);
        oh_policy_on_rule(p, NULL, NULL);
        free(parse(p, "allow r /f\n", &r));
        CHECK_EQ(t.n, 3);
        openhook_policy_free(p);
}

int main(void)
{
        snprintf(tmp, sizeof(tmp), "/tmp/oh-test-policy-XXXXXX");
        if (!mkdtemp(tmp))
                return 1;

        RUN(comments_blank_lines_and_whitespace_are_tolerated);
        RUN(last_line_without_newline_is_parsed);
        RUN(quoted_path_may_contain_blanks);
        RUN(formatted_paths_read_back_as_themselves);
        RUN(unknown_keyword_is_named);
        RUN(unknown_permission_is_named);
        RUN(missing_parts_are_named);
        RUN(relative_path_is_refused);
        RUN(dotdot_in_path_is_refused);
        RUN(trailing_garbage_is_refused_with_column);
        RUN(unterminated_quote_is_refused);
        RUN(nul_byte_is_refused);
        RUN(error_leaves_no_rule_of_the_file);
        RUN(every_faulty_line_is_reported);
        RUN(command_line_rules_parse_and_explain_errors);
        RUN(policy_file_loads_and_names_itself_in_errors);
        RUN(unreadable_policy_file_is_reported);
        RUN(longest_rule_path_decides);
        RUN(exact_file_rule_covers_only_that_file);
        RUN(exact_rule_beats_subtree_rule_of_same_path);
        RUN(deny_beats_allow_of_same_path_in_either_order);
        RUN(deny_inside_allow_and_allow_inside_deny);
        RUN(allows_of_same_path_merge_letters);
        RUN(root_subtree_rule_covers_everything);
        RUN(hint_names_the_missing_letters_or_the_deny_rule);
        RUN(hint_for_a_create_also_offers_the_directory);
        RUN(x_implies_r_and_t_needs_a_directory_rule);
        RUN(hints_name_x_and_t);
        RUN(ancestors_of_allowed_paths_are_known);
        RUN(rule_paths_are_normalised_lexically);
        RUN(rule_through_symlink_matches_the_real_path);
        RUN(index_decides_as_a_scan_of_every_rule);
        RUN(index_knows_the_links_rules_were_written_through);
        RUN(a_later_rule_of_a_linked_directory_records_its_link_at_the_real_place);
        RUN(paths_sharing_only_the_start_of_a_name_are_indexed);
        RUN(path_cache_answers_as_glibc);
        RUN(rule_paths_are_typed_from_their_directory_listing);
        RUN(each_allow_rule_is_told_as_added_and_a_dropped_file_too);

        {
                char cmd[128];

                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
                if (system(cmd) != 0)
                        printf("# could not remove %s\n", tmp);
        }
        return TAP_DONE();
}
