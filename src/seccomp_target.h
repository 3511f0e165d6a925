/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading what a stopped syscall names, from the stopped task's side: its
 * memory, its cwd and fds, its /proc/self.  Everything read here may be a
 * lie by the time it is used unless the notification is checked still valid
 * afterwards (the task may have died and its TID been reused). */
#ifndef OH_SECCOMP_TARGET_H
#define OH_SECCOMP_TARGET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Copies the NUL-terminated string at ADDR in task TID into BUF[SIZE].
 * Returns its length, -ENAMETOOLONG if no NUL within SIZE bytes, -EFAULT
 * for an unreadable address, -ESRCH if the task is gone. */
int oh_target_read_string(pid_t tid, uint64_t addr, char *buf, size_t size);

/* Copies exactly SIZE bytes at ADDR in task TID into BUF.  0 or -errno. */
int oh_target_read(pid_t tid, uint64_t addr, void *buf, size_t size);

/* Copies SIZE bytes from BUF to ADDR in task TID (a result the syscall
 * hands back, as sendmmsg's msg_len).  0 or -errno. */
int oh_target_write(pid_t tid, uint64_t addr, const void *buf, size_t size);

/* Turns PATH, as task TID would look it up relative to DIRFD (AT_FDCWD or
 * one of its fds), into an absolute path in OUT[SIZE], with /proc/self and
 * /proc/thread-self rewritten to name the task.  Returns the length or
 * -errno as the kernel would answer (-EBADF, -ENOTDIR, -ENAMETOOLONG). */
int oh_target_abspath(pid_t tid, int dirfd, const char *path, char *out, size_t size);

/* If absolute PATH names one of task TID's own fds (/dev/stdin,
 * /dev/fd/N, /proc/TGID/fd/N, /proc/TGID/task/TID/fd/N), returns N with
 * *REST pointing at what follows ("" or "/...") and *OWNER the task whose
 * fd table holds it (TID only in the task/TID form: a thread may have
 * unshared its table); else -1. */
int oh_target_own_fd(pid_t tid, const char *path, const char **rest, pid_t *owner);

/* The path task TID's fd N was opened at (readlink of /proc/TID/fd/N:
 * "pipe:[...]" for what has none).  Returns the length or -errno. */
int oh_target_fd_path(pid_t tid, int n, char *out, size_t size);

/* A duplicate of task TID's fd N (pidfd_getfd: the same open file
 * description), or -errno. */
int oh_target_dup_fd(pid_t tid, int n);

/* The thread group id and umask of task TID, from /proc/TID/status. */
int oh_target_status(pid_t tid, pid_t *ret_tgid, mode_t *ret_umask);

#endif
