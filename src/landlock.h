/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Landlock for the confined program (openhook run) and for the broker
 * itself: the best ABI the kernel offers, degraded rights on older ones. */
#ifndef OH_LANDLOCK_H
#define OH_LANDLOCK_H

#include <stddef.h>

enum {
        OH_LL_READ = 1u << 0,    /* read files, list directories */
        OH_LL_WRITE = 1u << 1,   /* write and truncate existing files */
        OH_LL_EXEC = 1u << 2,    /* execute files */
        OH_LL_CREATE = 1u << 3,  /* create files, directories, symlinks, hard links (target side) */
        OH_LL_DELETE = 1u << 4,  /* remove files and directories, rename/link away (refer) */
        OH_LL_DEV = 1u << 5,     /* ioctl on devices (ABI 5) */
};

struct oh_ll_rule {
        const char *path;       /* a file or a directory (then the whole subtree) */
        unsigned int access;    /* OH_LL_* bits, and perhaps one of OH_LL_IS_* */
};

/* Not rights: what a rule's path was when it was looked at, so that the
 * kernel need not be asked again.  Neither (or both, after rules of one
 * path met): not known. */
enum {
        OH_LL_IS_DIR = 1u << 8,
        OH_LL_IS_FILE = 1u << 9,        /* anything but a directory */
};
#define OH_LL_IS_ANY (OH_LL_IS_DIR | OH_LL_IS_FILE)

/* The kernel's Landlock ABI version (> 0), or -EOPNOTSUPP when Landlock is
 * not available (not built in, or disabled at boot). */
int oh_landlock_abi(void);

enum {
        /* ABI 6: no signal to, and no abstract UNIX socket of, a process
         * outside the new domain (and the domains nested in it). */
        OH_LL_APPLY_SCOPE = 1u << 0,
        /* ABI 4: no TCP bind or connect at all. */
        OH_LL_APPLY_NO_TCP = 1u << 1,
};

/* The first ABI with each OH_LL_APPLY_* flag; below it the flag is
 * silently left out (callers tell the user). */
#define OH_LL_ABI_SCOPE 6
#define OH_LL_ABI_NET 4

/* Sets no_new_privs and restricts the calling thread (and its future
 * children) to RULES: every filesystem right the ABI handles is denied
 * except those granted.  A rule whose path does not exist is skipped, and
 * so is one that adds nothing to the rules on the directories above it
 * (ll_set.h).
 * FLAGS: OH_LL_APPLY_*.  Returns 0 or -errno. */
int oh_landlock_apply(const struct oh_ll_rule *rules, size_t n, unsigned int flags);

/* oh_landlock_apply() in two steps, so that a ruleset is built once, in
 * the parent, and only applied in a child between fork (or a CLONE_VM
 * spawn) and exec: the ruleset's fd (O_CLOEXEC), or -errno. */
int oh_landlock_ruleset(const struct oh_ll_rule *rules, size_t n, unsigned int flags);

/* oh_landlock_ruleset() of rules oh_ll_rules_reduce() left (ll_set.h:
 * sorted, merged, none that adds nothing), taken as they are. */
int oh_landlock_ruleset_reduced(const struct oh_ll_rule *rules, size_t n, unsigned int flags);

/* oh_landlock_ruleset_reduced() in two steps, so that the caller can do
 * other work (fork a helper: it gets none of the threads; load the rest
 * of a policy) while a second thread adds the rules, when there are
 * many: each an open and a landlock_add_rule.  RULES[N] (none if N is 0)
 * are queued, and must stay as they are until the end. */
struct oh_ll_build;
int oh_landlock_build_start(const struct oh_ll_rule *rules, size_t n, unsigned int flags, struct oh_ll_build **ret);

/* Queues the rule PATH[0..LEN) (copied) with ACCESS, as they are found:
 * a second thread starts adding queued rules once there are many, while
 * the caller finds the others.  0, -ENAMETOOLONG or -ENOMEM (then the
 * ruleset lacks the rule: cancel it). */
int oh_landlock_build_add(struct oh_ll_build *b, const char *path, size_t len, unsigned int access);

/* Queues RULES[N], which must stay as they are until the end.  0 or
 * -ENOMEM (then the ruleset lacks them: cancel it). */
int oh_landlock_build_queue(struct oh_ll_build *b, const struct oh_ll_rule *rules, size_t n);

/* Adds the rules no thread has taken yet, waits until the second thread
 * is gone (from the thread group, not only joined) and frees B: the
 * ruleset's fd (O_CLOEXEC), or -errno. */
int oh_landlock_build_finish(struct oh_ll_build *b);

/* Stops adding rules, waits as oh_landlock_build_finish() does, and
 * frees B and the ruleset. */
void oh_landlock_build_cancel(struct oh_ll_build *b);

/* Sets no_new_privs and restricts the calling thread to RULESET.  Makes
 * system calls only (safe in a CLONE_VM child).  0 or -errno. */
int oh_landlock_restrict(int ruleset);

#endif
