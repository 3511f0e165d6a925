/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The policy engine's internal interface: the loaded rules (read-only, for
 * deriving Landlock rulesets) and matching against canonical paths.
 *
 * A "canonical path" here is absolute, without symlinks, `.`, `..`, `//` or
 * a trailing '/' (except "/" itself): what lib/resolve.c computes. */
#ifndef OH_POLICY_H
#define OH_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "openhook.h"

#define OH_PERM_ALL (OPENHOOK_PERM_R | OPENHOOK_PERM_W | OPENHOOK_PERM_C | OPENHOOK_PERM_D | \
                     OPENHOOK_PERM_X | OPENHOOK_PERM_T)

struct oh_created;

struct oh_rule {
        char *path;             /* canonical; no trailing '/' except "/" itself */
        size_t len;             /* strlen(path) */
        unsigned perms;         /* OPENHOOK_PERM_* bits; 0 for a deny rule */
        bool subtree;           /* written with a trailing '/': the directory and all below it */
        bool deny;
        char *written;          /* the path as the user wrote it, for messages */
        char *origin;           /* "policy.conf:12", "--allow r:/x" or "--deny /x" */
                                /* (the three strings: one allocation, PATH's) */
        /* An allow rule's path when it was added, as the listing of its
         * directory told (oh_pathcache_listed_type()): a DT_* type, -ENOENT,
         * or DT_UNKNOWN (not listed): the broker's Landlock need not look
         * again (src/confine.c). */
        int listed_type;
};

/* Tells FN, with DATA, of each allow rule as it is added, before the
 * rules added with it are indexed (the policy may not be asked about
 * it yet), so that work on it can start early (src/ceiling.h); then of
 * NULL when the rules added since the last commit are dropped (a policy
 * file with an error: none of its rules is added).  A rule's strings
 * live only until then.  FN NULL: no longer told. */
typedef void oh_policy_rule_fn(void *data, const struct oh_rule *r);
void oh_policy_on_rule(struct openhook_policy *p, oh_policy_rule_fn *fn, void *data);

/* The rules in the order they were added.  Several rules may share a path
 * (allows of one path merge; a deny beats an allow of the same path).
 * Every query below looks them up in an index by path component
 * (lib/policy_index.h): its cost is the depth of the path asked about. */
const struct oh_rule *oh_policy_rules(const struct openhook_policy *p, size_t *n);

/* The symlinks allow rules were written through, each at its canonical
 * location (/var/run for "allow r /var/run/x"), in the order found. */
const char *const *oh_policy_links(const struct openhook_policy *p, size_t *n);

/* The rule that decides PATH: the longest matching path, an exact-file rule
 * before a subtree rule of the same path, a deny before an allow.  NULL if
 * none matches. */
const struct oh_rule *oh_policy_match(const struct openhook_policy *p, const char *path);

/* The OPENHOOK_PERM_* letters granted on PATH: 0 if no rule or a deny rule
 * decides, else the union of the allows that share the deciding rule's path
 * and kind. */
unsigned oh_policy_letters(const struct openhook_policy *p, const char *path);

/* True if the resolver may follow a symlink located at PATH: the policy
 * grants some letter there, or an allow rule was written through it (the
 * rule "allow r /var/run/x" lets "/var/run" be followed to "/run"). */
bool oh_policy_may_follow(const struct openhook_policy *p, const char *path);

/* True if PATH is a proper ancestor of an allow rule's path, or of a
 * symlink an allow rule was written through (so its existence is no
 * secret: the administrator named something below it). */
bool oh_policy_is_ancestor(const struct openhook_policy *p, const char *path);

/* Whether a refused path that does not exist is answered ENOENT or
 * ENOTDIR rather than EACCES (openhook_policy_reveal_missing()). */
bool oh_policy_reveals_missing(const struct openhook_policy *p);

/* True if any rule, allow or deny, names a path strictly below PATH: such
 * a rule stops deciding on what it names if PATH is moved away. */
bool oh_policy_rule_below(const struct openhook_policy *p, const char *path);

/* Writes into BUF why PATH lacks the NEEDED letters: "denied by 'deny /etc/'
 * (policy.conf:3)" when a deny rule decides, else the option that would
 * permit it, e.g. "--allow rw:/data/x" (the letters already granted plus
 * NEEDED).  When NEEDED includes c (or x) the directory is offered too:
 * "--allow c:/tmp/x (or c:/tmp/ for any new file there)" (never "/"; the
 * exact rule alone when both do not fit).  Where a t rule decides, a note
 * says that it covers only new names and what the sandbox created there.
 * Returns what snprintf returns. */
int oh_policy_hint(const struct openhook_policy *p, const char *path, unsigned needed, char *buf, size_t size);

/* Parses policy-file text BUF[0..LEN) (need not be NUL-terminated; NUL bytes
 * are an error) as file NAME.  All rules or none are added.  Returns 0, or
 * -EINVAL with *ERROR (if not NULL) set to "NAME:LINE: what is wrong", one
 * line per faulty line of the file, or -ENOMEM. */
int oh_policy_parse_buffer(struct openhook_policy *p, const char *name, const char *buf, size_t len, char **error);

/* Reads all of FD, a policy file, into *RET (malloc'ed, not
 * NUL-terminated) and *RET_LEN.  0, -EFBIG past the largest policy file
 * accepted, or -errno. */
int oh_policy_read_fd(int fd, char **ret, size_t *ret_len);

/* Writes PERMS as letters in the order "rwcdxt" and returns BUF. */
#define OH_PERMS_FORMATTED_MAX 7
char *oh_perms_format(unsigned perms, char buf[static OH_PERMS_FORMATTED_MAX]);

/* The record of what the broker deciding with P created in t directories
 * (lib/created.h); shared by everyone deciding with P. */
struct oh_created *oh_policy_created(const struct openhook_policy *p);

/* Makes DST use SRC's record, so that a policy that replaces SRC
 * (openhook_server_set_policy()) keeps what the sandbox created. */
void oh_policy_share_created(struct openhook_policy *dst, const struct openhook_policy *src);

/* Room for any path shorter than OPENHOOK_PATH_MAX, quoted and escaped. */
#define OH_POLICY_PATH_FORMATTED_MAX (2 * OPENHOOK_PATH_MAX + 3)

/* Writes PATH into BUF as a policy file spells it, so that it parses back
 * to PATH: as is when it is one plain word, else double-quoted with a
 * backslash before '"' and '\\' (a blank, '"', '\\' or '#' in it).  PATH
 * must not hold a newline, which no policy file can.  Returns the length
 * written, or -ENAMETOOLONG when SIZE is too small. */
int oh_policy_format_path(const char *path, char *buf, size_t size);

#endif
