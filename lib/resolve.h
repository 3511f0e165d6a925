/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Performing file operations on behalf of a peer, under a policy.
 *
 * Every function returns >= 0 (an fd for oh_do_open, else 0) or -errno.  A
 * path the policy does not allow gets -EACCES whether or not it exists, and
 * nothing outside the policy is ever created, truncated, renamed or deleted,
 * whatever another process does to the tree concurrently. */
#ifndef OH_RESOLVE_H
#define OH_RESOLVE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "openhook.h"

/* Filled in for logging: why a request was refused. */
struct oh_verdict {
        int denied;                     /* the policy refused (not the kernel) */
        char hint[OPENHOOK_PATH_MAX + 64];   /* e.g. "--allow w:/data/x" or "denied by 'deny /etc/' (policy.conf:3)" */
};

int oh_do_open(const struct openhook_policy *p, const char *path, uint32_t flags, uint32_t mode, struct oh_verdict *v);
int oh_do_mkdir(const struct openhook_policy *p, const char *path, uint32_t mode, struct oh_verdict *v);
int oh_do_unlink(const struct openhook_policy *p, const char *path, struct oh_verdict *v);
int oh_do_rmdir(const struct openhook_policy *p, const char *path, struct oh_verdict *v);
int oh_do_rename(const struct openhook_policy *p, const char *oldpath, const char *newpath, uint32_t flags, struct oh_verdict *v);
int oh_do_symlink(const struct openhook_policy *p, const char *target, const char *linkpath, struct oh_verdict *v);
int oh_do_link(const struct openhook_policy *p, const char *oldpath, const char *newpath, struct oh_verdict *v);
int oh_do_truncate(const struct openhook_policy *p, const char *path, uint64_t length, struct oh_verdict *v);

/* Both need w on PATH and act on exactly the object decided on.  FLAGS is
 * 0 or AT_SYMLINK_NOFOLLOW (anything else: -EINVAL).  chmod drops the
 * setuid, setgid and sticky bits from MODE.  TIMES as for utimensat(2),
 * never NULL. */
int oh_do_chmod(const struct openhook_policy *p, const char *path, uint32_t mode, uint32_t flags, struct oh_verdict *v);
int oh_do_utimens(const struct openhook_policy *p, const char *path, const struct timespec times[2], uint32_t flags,
                  struct oh_verdict *v);

/* chown(2) of PATH: w, and only a change that leaves owner and group as
 * they are ((uint32_t) -1 keeps one); anything else -EPERM, a refusal by
 * the policy too.  FLAGS as for oh_do_chmod(). */
int oh_do_chown(const struct openhook_policy *p, const char *path, uint32_t uid, uint32_t gid, uint32_t flags,
                struct oh_verdict *v);

/* faccessat(2) of PATH by the letters the operations it asks about need
 * (openhook_access() in openhook.h says which); FLAGS 0, AT_EACCESS,
 * AT_SYMLINK_NOFOLLOW. */
int oh_do_access(const struct openhook_policy *p, const char *path, uint32_t mode, uint32_t flags,
                 struct oh_verdict *v);

/* Whether the object open as FD, whose canonical name is PATH, has the
 * NEEDED letters (OPENHOOK_PERM_*): the rules' at PATH, or under a t rule
 * r, w, c and d when it is one the sandbox created (lib/created.h). */
bool oh_fd_grants(const struct openhook_policy *p, const char *path, int fd, unsigned needed);

/* A UNIX socket to connect or send to: w on PATH (the kernel asks write
 * permission on the socket file), a final symlink followed as connect(2)
 * does.  Returns an O_PATH fd of the socket, to be reached through
 * /proc/self/fd/N, so the kernel meets the very inode decided on;
 * -ECONNREFUSED when PATH is not a socket. */
int oh_do_socket_path(const struct openhook_policy *p, const char *path, struct oh_verdict *v);

#endif
