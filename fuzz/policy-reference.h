/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The policy's queries as they were before the rules had an index: a
 * plain scan of every rule, kept only to check the index against
 * (fuzz/fuzz-policy.c, tests/unit/test-policy.c).  Each rule either
 * covers a path as a string or not, so this is what lib/policy.h
 * promises, spelt as directly as possible. */
#ifndef OH_POLICY_REFERENCE_H
#define OH_POLICY_REFERENCE_H

#include <stdbool.h>
#include <string.h>

#include "policy.h"

static bool ref_covers(const struct oh_rule *r, const char *path, size_t len)
{
        if (r->len == 1)        /* "/" */
                return r->subtree || len == 1;
        if (len < r->len || memcmp(path, r->path, r->len) != 0)
                return false;
        if (len == r->len)
                return true;
        return r->subtree && path[r->len] == '/';
}

/* Longer path first, then exact before subtree, then deny before allow. */
static size_t ref_specificity(const struct oh_rule *r)
{
        return r->len * 4 + (r->subtree ? 0 : 2) + (r->deny ? 1 : 0);
}

static const struct oh_rule *ref_match(const struct openhook_policy *p, const char *path)
{
        size_t n, len = strlen(path);
        const struct oh_rule *rules = oh_policy_rules(p, &n), *best = NULL;

        for (size_t i = 0; i < n; i++)
                if (ref_covers(&rules[i], path, len) && (!best || ref_specificity(&rules[i]) > ref_specificity(best)))
                        best = &rules[i];
        return best;
}

static unsigned ref_letters(const struct openhook_policy *p, const char *path)
{
        const struct oh_rule *best = ref_match(p, path), *rules;
        unsigned letters = 0;
        size_t n;

        if (!best || best->deny)
                return 0;
        rules = oh_policy_rules(p, &n);
        for (size_t i = 0; i < n; i++)
                if (!rules[i].deny && rules[i].subtree == best->subtree && strcmp(rules[i].path, best->path) == 0)
                        letters |= rules[i].perms;
        return letters;
}

static bool ref_may_follow(const struct openhook_policy *p, const char *path)
{
        size_t n;
        const char *const *links = oh_policy_links(p, &n);

        for (size_t i = 0; i < n; i++)
                if (strcmp(links[i], path) == 0)
                        return true;
        return ref_letters(p, path) != 0;
}

static bool ref_is_below(const char *below, const char *path, size_t len)
{
        return strlen(below) > len && below[len] == '/' && memcmp(below, path, len) == 0;
}

static bool ref_is_ancestor(const struct openhook_policy *p, const char *path)
{
        size_t n, n_links, len = strlen(path);
        const struct oh_rule *rules = oh_policy_rules(p, &n);
        const char *const *links = oh_policy_links(p, &n_links);

        if (len == 1)
                return true;
        for (size_t i = 0; i < n; i++)
                if (!rules[i].deny && ref_is_below(rules[i].path, path, len))
                        return true;
        for (size_t i = 0; i < n_links; i++)
                if (ref_is_below(links[i], path, len))
                        return true;
        return false;
}

static bool ref_rule_below(const struct openhook_policy *p, const char *path)
{
        size_t n, len = strlen(path);
        const struct oh_rule *rules = oh_policy_rules(p, &n);

        for (size_t i = 0; i < n; i++)
                if (len == 1 ? rules[i].len > 1 : ref_is_below(rules[i].path, path, len))
                        return true;
        return false;
}

/* The first query on which the index and the scan disagree about PATH,
 * or NULL. */
static const char *ref_disagreement(const struct openhook_policy *p, const char *path)
{
        if (oh_policy_match(p, path) != ref_match(p, path))
                return "oh_policy_match";
        if (oh_policy_letters(p, path) != ref_letters(p, path))
                return "oh_policy_letters";
        if (oh_policy_may_follow(p, path) != ref_may_follow(p, path))
                return "oh_policy_may_follow";
        if (oh_policy_is_ancestor(p, path) != ref_is_ancestor(p, path))
                return "oh_policy_is_ancestor";
        if (oh_policy_rule_below(p, path) != ref_rule_below(p, path))
                return "oh_policy_rule_below";
        return NULL;
}

#endif
