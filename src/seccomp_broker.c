/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The broker's seccomp allowlist (confine.c loads it), built with
 * libseccomp.  Only raise() and abort() name the broker itself (tgkill
 * to its own pid), so openhook takes the program prebuilt, with the pid
 * written in (seccomp_prebuilt.h); the generator builds it here. */
#include <errno.h>
#include <linux/fs.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "confine.h"
#include "seccomp_broker.h"
#include "seccomp_internal.h"
#include "seccomp_notify.h"
#include "util.h"

#define SYS_FCHMODAT2 452

/* Every syscall the broker (server loop, resolver, log, glibc's malloc and
 * threads) makes once it is confined.  What is not here kills the process:
 * a broker doing something it never does is compromised, and a loud death
 * (logged by the kernel with the syscall number) is better than an EPERM an
 * attacker can probe around.  Filesystem syscalls are all here because
 * Landlock, not seccomp, bounds where they reach. */
static const int allowed_syscalls[] = {
        /* the server loop and fd passing */
        SCMP_SYS(epoll_create1), SCMP_SYS(epoll_ctl), SCMP_SYS(epoll_wait),
        SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_pwait2), SCMP_SYS(poll), SCMP_SYS(ppoll),
        SCMP_SYS(accept), SCMP_SYS(accept4), SCMP_SYS(recvmsg), SCMP_SYS(sendmsg),
        SCMP_SYS(recvfrom), SCMP_SYS(sendto), SCMP_SYS(getsockopt), SCMP_SYS(setsockopt),
        SCMP_SYS(getsockname), SCMP_SYS(getpeername), SCMP_SYS(shutdown),
        SCMP_SYS(eventfd2), SCMP_SYS(pipe2),
        /* descriptors */
        SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
        SCMP_SYS(pread64), SCMP_SYS(lseek), SCMP_SYS(close), SCMP_SYS(close_range),
        SCMP_SYS(fcntl), SCMP_SYS(dup), SCMP_SYS(dup3), SCMP_SYS(fsync), SCMP_SYS(fdatasync),
        /* the resolver and the file operations */
        SCMP_SYS(open), SCMP_SYS(openat), SCMP_SYS(openat2), SCMP_SYS(readlinkat),
        SCMP_SYS(readlink), SCMP_SYS(newfstatat), SCMP_SYS(fstat), SCMP_SYS(stat),
        SCMP_SYS(lstat), SCMP_SYS(statx), SCMP_SYS(fstatfs), SCMP_SYS(statfs),
        SCMP_SYS(faccessat), SCMP_SYS(faccessat2), SCMP_SYS(getdents64),
        SCMP_SYS(mkdirat), SCMP_SYS(unlinkat), SCMP_SYS(renameat), SCMP_SYS(renameat2),
        SCMP_SYS(symlinkat), SCMP_SYS(linkat), SCMP_SYS(ftruncate), SCMP_SYS(umask),
        SCMP_SYS(getcwd), SCMP_SYS(access), SCMP_SYS(unlink), SCMP_SYS(rmdir),
        SCMP_SYS(mkdir), SCMP_SYS(rename), SCMP_SYS(symlink), SCMP_SYS(link),
        SCMP_SYS(utimensat),    /* and fchmodat2, see add_rules() */
        SCMP_SYS(name_to_handle_at),    /* who a t directory's object is (lib/created.c) */
        SCMP_SYS(fchownat),     /* CHOWN: only ever to the owner there is */
        /* memory */
        SCMP_SYS(brk), SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap),
        SCMP_SYS(mprotect), SCMP_SYS(madvise),
        /* threads (clone itself is handled below) */
        SCMP_SYS(futex), SCMP_SYS(set_robust_list), SCMP_SYS(get_robust_list),
        SCMP_SYS(rseq), SCMP_SYS(set_tid_address), SCMP_SYS(sched_yield),
        SCMP_SYS(sched_getaffinity), SCMP_SYS(gettid), SCMP_SYS(getpid), SCMP_SYS(getppid),
        SCMP_SYS(exit), SCMP_SYS(exit_group),
        /* signals: handlers, masks, and ending the broker's own child (run) */
        SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn),
        SCMP_SYS(rt_sigtimedwait), SCMP_SYS(signalfd4), SCMP_SYS(sigaltstack),
        SCMP_SYS(restart_syscall), SCMP_SYS(kill), SCMP_SYS(wait4), SCMP_SYS(waitid),
        /* time, limits and identity (log lines, qsort's sysinfo, sysconf) */
        SCMP_SYS(clock_gettime), SCMP_SYS(clock_getres), SCMP_SYS(gettimeofday),
        SCMP_SYS(time), SCMP_SYS(nanosleep), SCMP_SYS(clock_nanosleep),
        SCMP_SYS(getrandom), SCMP_SYS(prlimit64), SCMP_SYS(getrlimit), SCMP_SYS(sysinfo),
        SCMP_SYS(uname), SCMP_SYS(getuid), SCMP_SYS(geteuid), SCMP_SYS(getgid),
        SCMP_SYS(getegid), SCMP_SYS(getgroups),
};

/* The supervisor answers notifications and reads paths from the target's
 * memory.  libseccomp asks seccomp() for the notification sizes; seccomp()
 * can only ever add restrictions, so it is allowed whole. */
static const int supervisor_syscalls[] = {
        SCMP_SYS(process_vm_readv), SCMP_SYS(process_vm_writev), SCMP_SYS(pidfd_open),
        SCMP_SYS(pidfd_getfd), SCMP_SYS(pidfd_send_signal), SCMP_SYS(seccomp),
        /* connect and sends for the program, on its own sockets
         * (seccomp_sockets.c), and metadata through its fds
         * (seccomp_fdmeta.c) */
        SCMP_SYS(connect), SCMP_SYS(sendmmsg), SCMP_SYS(fchmod), SCMP_SYS(fchownat),
        SCMP_SYS(fsetxattr), SCMP_SYS(fremovexattr),
};

/* ID_VALID also under its first, wrong-direction number, which the kernel
 * still accepts and older libseccomp sends. */
static const unsigned long supervisor_ioctls[] = {
        SECCOMP_IOCTL_NOTIF_RECV, SECCOMP_IOCTL_NOTIF_SEND, SECCOMP_IOCTL_NOTIF_ID_VALID,
        SECCOMP_IOR(2, __u64), SECCOMP_IOCTL_NOTIF_ADDFD, SECCOMP_IOCTL_NOTIF_SET_FLAGS, FS_IOC_SETFLAGS,
        FS_IOC_FSSETXATTR,
};

static int allow_all(scmp_filter_ctx ctx, const int *nrs, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                int k = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nrs[i], 0);
                if (k < 0)
                        return k;
        }
        return 0;
}

/* ioctl is limited to request numbers (compared as the kernel's 32-bit
 * command) the broker sends: TCGETS is stdio asking whether a stream is a
 * terminal. */
static int allow_ioctl(scmp_filter_ctx ctx, unsigned long request)
{
        return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
                                SCMP_A1(SCMP_CMP_MASKED_EQ, UINT32_MAX, request));
}

/* Threads yes, processes no: clone must carry CLONE_THREAD.  clone3 passes
 * its flags in memory seccomp cannot read, so it fails with ENOSYS, which
 * makes glibc fall back to clone. */
static int allow_threads_only(scmp_filter_ctx ctx)
{
        int k = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                                 SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
        if (k < 0)
                return k;
        return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
}

static int add_rules(scmp_filter_ctx ctx, unsigned int flags, pid_t self)
{
        int k;

        if ((k = allow_all(ctx, allowed_syscalls, ELEMENTSOF(allowed_syscalls))) < 0 ||
            (k = allow_threads_only(ctx)) < 0 ||
            (k = allow_ioctl(ctx, TCGETS)) < 0)
                return k;
        /* CHMOD (lib/resolve.c) uses fchmodat2, newer than libseccomp's
         * syscall table: named by its number, the same on every
         * architecture. */
        if ((k = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SYS_FCHMODAT2, 0)) < 0)
                return k;
        /* CONNECT hands out new socketpairs; no other socket is ever made. */
        if ((k = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socketpair), 1,
                                  SCMP_A0(SCMP_CMP_EQ, AF_UNIX, 0))) < 0)
                return k;
        /* raise() and abort() signal this process only. */
        if ((k = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
                                  SCMP_A0(SCMP_CMP_EQ, (uint64_t)self, 0))) < 0)
                return k;

        if (!(flags & OH_CONFINE_SECCOMP_SUPERVISOR))
                return 0;
        if ((k = allow_all(ctx, supervisor_syscalls, ELEMENTSOF(supervisor_syscalls))) < 0)
                return k;
        for (size_t i = 0; i < ELEMENTSOF(supervisor_ioctls); i++)
                if ((k = allow_ioctl(ctx, supervisor_ioctls[i])) < 0)
                        return k;
        return 0;
}

/* What a request costs in the broker: a filter walked for every syscall is
 * part of each round trip, so these come first and the rest is a binary
 * tree (libseccomp's default is one comparison after another). */
static const int hot_syscalls[] = {
        SCMP_SYS(recvmsg), SCMP_SYS(sendmsg), SCMP_SYS(openat2), SCMP_SYS(fcntl),
        SCMP_SYS(close), SCMP_SYS(poll), SCMP_SYS(epoll_wait), SCMP_SYS(epoll_ctl),
        SCMP_SYS(sched_yield), SCMP_SYS(futex),
};

static int prefer_hot_syscalls(scmp_filter_ctx ctx)
{
        int k = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
        if (k < 0)
                return k;
        for (size_t i = 0; i < ELEMENTSOF(hot_syscalls); i++) {
                k = seccomp_syscall_priority(ctx, hot_syscalls[i], (uint8_t)(255 - i));
                if (k < 0)
                        return k;
        }
        return 0;
}

static void filter_releasep(scmp_filter_ctx *ctx)
{
        if (*ctx)
                seccomp_release(*ctx);
}

int oh_broker_filter_build(unsigned int flags, pid_t pid, struct oh_seccomp_filter *ret)
{
        __attribute__((cleanup(filter_releasep))) scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
        int k;

        *ret = (struct oh_seccomp_filter) {};
        if (!ctx)
                return -ENOMEM;
        if ((k = add_rules(ctx, flags, pid)) < 0 || (k = prefer_hot_syscalls(ctx)) < 0)
                return k;
        return oh_seccomp_export(ctx, NULL, 0, ret);
}
