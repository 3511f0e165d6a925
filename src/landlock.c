/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Landlock through the raw syscalls: glibc has no wrappers, and the
 * installed kernel headers may be older than the running kernel, so the
 * rights added after ABI 1 are defined here when the header lacks them. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <linux/landlock.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "landlock.h"
#include "util.h"

#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif
/* ABI 4: TCP; ABI 6: scopes.  Named here, as the header may predate them. */
#define OH_LL_NET_BIND_TCP (1ULL << 0)
#define OH_LL_NET_CONNECT_TCP (1ULL << 1)
#define OH_LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define OH_LL_SCOPE_SIGNAL (1ULL << 1)

/* The kernel's struct landlock_ruleset_attr as of ABI 6; a prefix of it is
 * passed, as long as the running ABI knows. */
struct oh_ll_ruleset_attr {
        uint64_t handled_access_fs;
        uint64_t handled_access_net;
        uint64_t scoped;
};

#define LL_MAKE_ANY (LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR | \
                     LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK | \
                     LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK | \
                     LANDLOCK_ACCESS_FS_MAKE_SYM)

/* The kernel refuses directory-only rights on a rule for a non-directory. */
#define LL_FILE_RIGHTS (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | \
                        LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE | \
                        LANDLOCK_ACCESS_FS_IOCTL_DEV)

/* What each ABI version can handle; a ruleset may only name those. */
static uint64_t ll_handled(int abi)
{
        uint64_t fs = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;   /* ABI 1: bits 0..12 */

        if (abi >= 2)
                fs |= LANDLOCK_ACCESS_FS_REFER;
        if (abi >= 3)
                fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
        if (abi >= 5)
                fs |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
        return fs;
}

/* REFER goes with both sides: a cross-directory rename or link needs it at
 * the source (which loses the name) and at the target (which gains it). */
static uint64_t ll_rights(unsigned int access)
{
        uint64_t fs = 0;

        if (access & OH_LL_READ)
                fs |= LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;
        if (access & OH_LL_WRITE)
                fs |= LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_TRUNCATE;
        if (access & OH_LL_EXEC)
                fs |= LANDLOCK_ACCESS_FS_EXECUTE;
        if (access & OH_LL_CREATE)
                fs |= LL_MAKE_ANY | LANDLOCK_ACCESS_FS_REFER;
        if (access & OH_LL_DELETE)
                fs |= LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |
                      LANDLOCK_ACCESS_FS_REFER;
        if (access & OH_LL_DEV)
                fs |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
        return fs;
}

int oh_landlock_abi(void)
{
        long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);

        if (abi < 0)
                return -EOPNOTSUPP;     /* ENOSYS: not built in; EOPNOTSUPP: disabled at boot */
        return (int)abi;
}

static int ll_add_rule(int ruleset, const struct oh_ll_rule *rule, uint64_t handled)
{
        _cleanup_close_ int fd = open(rule->path, O_PATH | O_CLOEXEC);
        struct stat st;

        if (fd < 0)
                return errno == ENOENT || errno == ENOTDIR ? 0 : oh_negerrno();
        if (fstat(fd, &st) < 0)
                return oh_negerrno();

        struct landlock_path_beneath_attr attr = {
                .allowed_access = ll_rights(rule->access) & handled,
                .parent_fd = fd,
        };
        if (!S_ISDIR(st.st_mode))
                attr.allowed_access &= LL_FILE_RIGHTS;
        if (attr.allowed_access == 0)
                return 0;       /* the kernel rejects an empty rule */
        if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &attr, 0) < 0)
                return oh_negerrno();
        return 0;
}

/* The ruleset's handled rights for FLAGS (OH_LL_APPLY_*) on ABI, and how
 * many bytes of the attribute the kernel must read. */
static size_t ll_ruleset_attr(int abi, unsigned int flags, struct oh_ll_ruleset_attr *attr)
{
        size_t size = sizeof(attr->handled_access_fs);

        *attr = (struct oh_ll_ruleset_attr) { .handled_access_fs = ll_handled(abi) };
        /* No TCP rule is ever added: handling the rights denies them all. */
        if ((flags & OH_LL_APPLY_NO_TCP) && abi >= 4) {
                attr->handled_access_net = OH_LL_NET_BIND_TCP | OH_LL_NET_CONNECT_TCP;
                size = offsetof(struct oh_ll_ruleset_attr, scoped);
        }
        if ((flags & OH_LL_APPLY_SCOPE) && abi >= 6) {
                attr->scoped = OH_LL_SCOPE_ABSTRACT_UNIX_SOCKET | OH_LL_SCOPE_SIGNAL;
                size = sizeof(*attr);
        }
        return size;
}

int oh_landlock_ruleset(const struct oh_ll_rule *rules, size_t n, unsigned int flags)
{
        int abi = oh_landlock_abi();
        if (abi < 0)
                return abi;

        struct oh_ll_ruleset_attr attr;
        size_t size = ll_ruleset_attr(abi, flags, &attr);
        _cleanup_close_ int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
        if (ruleset < 0)
                return oh_negerrno();

        for (size_t i = 0; i < n; i++) {
                int r = ll_add_rule(ruleset, &rules[i], attr.handled_access_fs);
                if (r < 0)
                        return r;
        }
        return TAKE_FD(ruleset);
}

int oh_landlock_restrict(int ruleset)
{
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return oh_negerrno();
        if (syscall(SYS_landlock_restrict_self, ruleset, 0) < 0)
                return oh_negerrno();
        return 0;
}

int oh_landlock_apply(const struct oh_ll_rule *rules, size_t n, unsigned int flags)
{
        _cleanup_close_ int ruleset = oh_landlock_ruleset(rules, n, flags);

        if (ruleset < 0)
                return ruleset;
        return oh_landlock_restrict(ruleset);
}
