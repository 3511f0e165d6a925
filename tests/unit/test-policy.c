/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The policy language: what parses, what is refused with which message, which
 * rule decides a path, and how rule paths are canonicalised. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

        {
                char cmd[128];

                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
                if (system(cmd) != 0)
                        printf("# could not remove %s\n", tmp);
        }
        return TAP_DONE();
}
