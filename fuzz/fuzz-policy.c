/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the policy engine, in two modes chosen by the first
 * byte:
 *  - policy text (below 0xf0): arbitrary bytes must either load (and then
 *    match sanely) or be refused with a located message;
 *  - rule sets (0xf0 and up): the rest builds a policy of rules over a
 *    few names and a list of paths, some not canonical, some not paths.
 * In both, every query of the index is compared with a plain scan of the
 * rules (policy-reference.h) on the paths the rules name, their
 * neighbours, and the paths of the input. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "policy-reference.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RULE_SET_MODE 0xf0

static void require(int cond)
{
        if (!cond)
                __builtin_trap();
}

/* The index decides PATH as the scan does. */
static void check_path(const struct openhook_policy *p, const char *path)
{
        const char *which = path[0] ? ref_disagreement(p, path) : NULL;

        if (which) {
                fprintf(stderr, "%s disagrees with the reference scan on '%s'\n", which, path);
                __builtin_trap();
        }
}

/* PATH and what lies around it: PATH/, PATH/x, PATHx, PATH//x, its parent. */
static void check_around(const struct openhook_policy *p, const char *path)
{
        static const char *const suffixes[] = { "", "/", "/x", "x", "//x", "/." };
        char buf[OPENHOOK_PATH_MAX + 8];
        const char *slash = strrchr(path, '/');

        for (size_t i = 0; i < sizeof(suffixes) / sizeof(*suffixes); i++) {
                snprintf(buf, sizeof(buf), "%s%s", path, suffixes[i]);
                check_path(p, buf);
        }
        if (slash) {
                snprintf(buf, sizeof(buf), "%.*s", (int) (slash - path), path);
                check_path(p, buf);
        }
}

static void check_index(const struct openhook_policy *p)
{
        size_t n, n_links;
        const struct oh_rule *rules = oh_policy_rules(p, &n);
        const char *const *links = oh_policy_links(p, &n_links);

        check_around(p, "/");
        for (size_t i = 0; i < n; i++)
                check_around(p, rules[i].path);
        for (size_t i = 0; i < n_links; i++)
                check_around(p, links[i]);
}

static void check_rules(const struct openhook_policy *p)
{
        const struct oh_rule *rules;
        size_t n;
        char hint[OPENHOOK_PATH_MAX + 64];

        rules = oh_policy_rules(p, &n);
        for (size_t i = 0; i < n; i++) {
                const struct oh_rule *r = &rules[i];
                const struct oh_rule *m;

                /* Rule paths are canonical: matching compares plain strings. */
                require(r->path[0] == '/' && strlen(r->path) == r->len);
                require(r->len == 1 || r->path[r->len - 1] != '/');
                require(!strstr(r->path, "//") && !strstr(r->path, "/./") && !strstr(r->path, "/../"));
                require(r->deny ? r->perms == 0 : (r->perms && !(r->perms & ~OH_PERM_ALL)));
                require(strncmp(r->origin, "fuzz.conf:", 10) == 0);

                m = oh_policy_match(p, r->path);
                require(m != NULL && m->len >= r->len);
                if (r->deny && m->len == r->len && !m->subtree == !r->subtree)
                        require(oh_policy_letters(p, r->path) == 0);
                oh_policy_hint(p, r->path, OPENHOOK_PERM_R, hint, sizeof(hint));
                require(hint[0] != '\0');
        }
        check_index(p);
}

static void policy_text(const uint8_t *data, size_t size)
{
        struct openhook_policy *p = NULL;
        char *error = NULL;
        size_t n;
        int r;

        if (openhook_policy_new(&p) < 0)
                return;
        r = oh_policy_parse_buffer(p, "fuzz.conf", (const char *) data, size, &error);
        if (r == 0) {
                require(error == NULL);
                check_rules(p);
        } else {
                require(r == -EINVAL || r == -ENOMEM || r == -ENAMETOOLONG);
                require(r != -EINVAL || (error && strncmp(error, "fuzz.conf:", 10) == 0));
                oh_policy_rules(p, &n);
                require(n == 0);        /* all or nothing */
        }
        free(error);
        openhook_policy_free(p);
}

/* ---- Rule sets ----------------------------------------------------------- */

/* Few names, so that rules share paths, prefixes ("a", "ab") and kinds.
 * The directory does not exist: rule paths stay as written. */
static const char *const names[] = { "a", "b", "ab", "a.b" };
#define TOP "/oh-fuzz-none"

/* Appends to BUF, from the two bytes at D, "/" alone or TOP and up to 7
 * names; the second byte may decorate a path that is no rule's: "//", a
 * trailing '/', "." or "..". */
static void spell_path(const uint8_t *d, bool decorate, char *buf, size_t size)
{
        unsigned depth = d[0] & 7, bits = d[1] | d[0] << 8;
        size_t n = strlen(buf);

        if ((d[0] & 0x18) == 0x18) {
                snprintf(buf + n, size - n, "/");
                return;
        }
        n += snprintf(buf + n, size - n, TOP);
        for (unsigned i = 0; i < depth && n < size; i++, bits >>= 2)
                n += snprintf(buf + n, size - n, "/%s", names[bits & 3]);
        if (decorate && n < size)
                snprintf(buf + n, size - n, "%s", (const char *[]) { "", "/", "//x", "/.", "/..", "", "", "" }
                         [d[1] >> 5]);
}

/* One rule line from the three bytes at D: kind, letters and path. */
static void rule_line(const uint8_t *d, char *buf, size_t size)
{
        static const char letters[] = "rwcdxt";
        char perms[8] = "";
        size_t k = 0;

        for (unsigned i = 0; i < 6; i++)
                if (d[0] & (1u << i))
                        perms[k++] = letters[i];
        if (d[0] & 0x80 || k == 0)
                snprintf(buf, size, "deny ");
        else
                snprintf(buf, size, "allow %s ", perms);
        spell_path(d + 1, false, buf, size);
        /* t needs a directory rule: the parser refuses it otherwise. */
        if (d[0] & 0x40 || strchr(perms, 't'))
                strncat(buf, "/", size - strlen(buf) - 1);
        strncat(buf, "\n", size - strlen(buf) - 1);
}

/* D[0] is the number of rules, 3 bytes each; each 2 bytes after them
 * spell a path to ask about. */
static void rule_set(const uint8_t *d, size_t size)
{
        size_t n_rules = size ? d[0] : 0, used = 1 + 3 * n_rules;
        struct openhook_policy *p = NULL;
        char *text, line[256], path[256];

        if (size < used || openhook_policy_new(&p) < 0 || !(text = calloc(n_rules + 1, sizeof(line)))) {
                openhook_policy_free(p);
                return;
        }
        for (size_t i = 0; i < n_rules; i++) {
                rule_line(d + 1 + 3 * i, line, sizeof(line));
                strcat(text, line);
        }
        require(oh_policy_parse_buffer(p, "fuzz.conf", text, strlen(text), NULL) == 0);
        check_index(p);
        for (size_t i = used; i + 1 < size; i += 2) {
                path[0] = '\0';
                spell_path(d + i, true, path, sizeof(path));
                check_path(p, path);
        }
        free(text);
        openhook_policy_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size > 1 << 16)
                return 0;
        if (size > 0 && data[0] >= RULE_SET_MODE)
                rule_set(data + 1, size - 1);
        else
                policy_text(data, size);
        return 0;
}
