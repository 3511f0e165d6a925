/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the policy-file parser: arbitrary bytes must either
 * load (and then match sanely) or be refused with a located message. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int cond)
{
        if (!cond)
                __builtin_trap();
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
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct openhook_policy *p = NULL;
        char *error = NULL;
        size_t n;
        int r;

        if (size > 1 << 16 || openhook_policy_new(&p) < 0)
                return 0;
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
        return 0;
}
