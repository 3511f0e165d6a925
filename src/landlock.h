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
        unsigned int access;    /* OH_LL_* bits */
};

/* The kernel's Landlock ABI version (> 0), or -EOPNOTSUPP when Landlock is
 * not available (not built in, or disabled at boot). */
int oh_landlock_abi(void);

/* Sets no_new_privs and restricts the calling thread (and its future
 * children) to RULES: every filesystem right the ABI handles is denied
 * except those granted.  A rule whose path does not exist is skipped.
 * Returns 0 or -errno. */
int oh_landlock_apply(const struct oh_ll_rule *rules, size_t n);

#endif
