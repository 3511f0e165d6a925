/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What readlink(2) and realpath(3) answered, remembered for the length of
 * one load of rules (a policy file, or one command-line rule), so that
 * canonicalising rule paths asks the kernel once per distinct name rather
 * than once per component of every rule: 10,000 rules in a few
 * directories cost about 10,000 readlink calls, not 225,000.
 *
 * Within one load the file system is taken to hold still, as a load that
 * asks the kernel component by component must anyway; nothing is kept
 * past it, so a rule added later sees the file system as it is then. */
#ifndef OH_PATHCACHE_H
#define OH_PATHCACHE_H

#include <sys/types.h>

struct oh_pathcache;

int oh_pathcache_new(struct oh_pathcache **ret);
void oh_pathcache_free(struct oh_pathcache *c);

/* readlink(PATH): the length of the link's text, with *RET the text
 * (NUL-terminated, C's), or -errno (-EINVAL: PATH is no symlink). */
ssize_t oh_pathcache_readlink(struct oh_pathcache *c, const char *path, const char **ret);

/* What the listing of PATH's directory said of PATH, if it was listed
 * (readlink of many names there): its type (DT_*), -ENOENT when it is not
 * there, DT_UNKNOWN when the listing does not tell.  Asks nothing of the
 * file system. */
int oh_pathcache_listed_type(struct oh_pathcache *c, const char *path);

/* Remembers that PATH[0..LEN) was visited, for a caller that does
 * something once per path of a load: 1 the first time, then 0; or
 * -ENOMEM. */
int oh_pathcache_visit(struct oh_pathcache *c, const char *path, size_t len);

/* realpath(PATH, NULL), as glibc computes it: 0 with *RET (C's), or
 * -errno. */
int oh_pathcache_realpath(struct oh_pathcache *c, const char *path, const char **ret);

#endif
