/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The rules of a policy indexed by path component, so that a decision
 * costs a look-up per component of the path asked about, whatever the
 * number of rules (doc/DESIGN.md "Policy lookup").
 *
 * Each rule's path is a node of a tree whose edges are keyed by one
 * component; a node keeps, per kind (exact file, subtree), the first deny
 * and the first allow written for its path and the union of the letters
 * of its allows, whether a symlink an allow rule was written through lies
 * there, and whether any rule, or any allow rule or such symlink, lies
 * strictly below it.  A path is split at every '/', so a node is reached
 * exactly by the one string that spells its path, and its subtree holds
 * exactly the strings that start with its path and a '/': the decisions
 * are those of a plain string comparison against every rule (the tests
 * and fuzz/fuzz-policy.c compare the two).
 *
 * Built while rules are added (lib/policy.c), in batches that cannot fail
 * half-way: room is reserved first.  Never changed once a server decides
 * with it, so any number of threads may read it without a lock. */
#ifndef OH_POLICY_INDEX_H
#define OH_POLICY_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

#define OH_POLICY_NO_RULE UINT32_MAX

struct oh_policy_index;

int oh_policy_index_new(struct oh_policy_index **ret);
void oh_policy_index_free(struct oh_policy_index *ix);

/* The room oh_policy_index_reserve() needs for paths added in the order
 * they will be indexed: only the components a path does not share with
 * the one before it can be new nodes (that one's are there by then), so
 * rules of one directory need a node each, not one per component. */
struct oh_policy_index_room {
        size_t components;
        size_t bytes;
        const char *prev;       /* the path added last, or NULL */
};
void oh_policy_index_room_add(struct oh_policy_index_room *room, const char *path);

/* Makes room for paths adding up to ROOM, added next.  0 or -ENOMEM (IX
 * unchanged but for spare room). */
int oh_policy_index_reserve(struct oh_policy_index *ix, const struct oh_policy_index_room *room);

/* Adds R, whose number in the policy is NUMBER (numbers grow as rules are
 * added: among equal rules the first added decides).  Room was reserved. */
void oh_policy_index_add_rule(struct oh_policy_index *ix, const struct oh_rule *r, uint32_t number);
/* Adds a symlink an allow rule was written through.  Room was reserved. */
void oh_policy_index_add_link(struct oh_policy_index *ix, const char *path);

/* The number of the rule that decides PATH (the longest matching path,
 * an exact-file rule before a subtree rule of the same path, a deny
 * before an allow) or OH_POLICY_NO_RULE; *LETTERS is the union of the
 * allows of its path and kind, 0 when a deny or no rule decides. */
uint32_t oh_policy_index_match(const struct oh_policy_index *ix, const char *path, unsigned *letters);

/* True if PATH is a symlink an allow rule was written through. */
bool oh_policy_index_is_link(const struct oh_policy_index *ix, const char *path);

/* True if a rule lies strictly below PATH: with ALLOWS, only an allow
 * rule or a symlink one was written through counts. */
bool oh_policy_index_below(const struct oh_policy_index *ix, const char *path, bool allows);

#endif
