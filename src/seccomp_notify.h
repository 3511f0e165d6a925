/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* openhook run --mode seccomp: the confined program's path syscalls become
 * user notifications that the broker answers with the policy engine. */
#ifndef OH_SECCOMP_NOTIFY_H
#define OH_SECCOMP_NOTIFY_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "openhook.h"

enum {
        /* --mode seccomp: the path syscalls (opens and the like) are
         * notified too; in preload mode the shim brokers libc's and the
         * raw path metadata calls are refused. */
        OH_SECCOMP_OPENS = 1u << 0,
        /* --no-network: socket() only for AF_UNIX. */
        OH_SECCOMP_NO_NETWORK = 1u << 1,
        /* Nobody can answer notifications (the supervisor cannot read the
         * program's memory): what would be notified is refused instead. */
        OH_SECCOMP_NO_LISTENER = 1u << 2,
        /* With OH_SECCOMP_OPENS, where Landlock holds the program: a
         * read-only open() or openat() with OH_OPEN_MARK is not notified
         * (lib/open_mark.h). */
        OH_SECCOMP_MARK = 1u << 3,
        /* --learn: Landlock lets the program execute anything; what it
         * executes outside the direct set is logged, not refused. */
        OH_SECCOMP_LEARN_EXEC = 1u << 4,
        OH_SECCOMP_ALL_FLAGS = (1u << 5) - 1,
};

/* The program's filter for FLAGS (OH_SECCOMP_*), built ahead: building
 * it (libseccomp) is most of the cost of installing it, and done before
 * fork it is done once, beside the broker's start-up, not in the child. */
struct sock_filter;
struct oh_seccomp_filter {
        struct sock_filter *insns;
        unsigned short len;
        unsigned int flags;
};

/* Builds the filter for FLAGS into *RET with libseccomp
 * (oh_seccomp_filter_done() frees it, also after a failure).  0 or
 * -errno.  openhook run takes the same program prebuilt
 * (seccomp_prebuilt.h). */
int oh_seccomp_build(unsigned int flags, struct oh_seccomp_filter *ret);
void oh_seccomp_filter_done(struct oh_seccomp_filter *f);

/* The program libseccomp built in CTX (a scmp_filter_ctx), as the kernel
 * takes it, behind the N_PREFIX instructions of PREFIX (which may jump
 * into it), into *RET (its insns and len).  0 or -errno. */
int oh_seccomp_export(void *ctx, const struct sock_filter *prefix, size_t n_prefix, struct oh_seccomp_filter *ret);

/* In the child, after no_new_privs and Landlock, right before execve:
 * installs F and returns the notification listener fd (O_CLOEXEC, to hand
 * to the supervisor), 0 with OH_SECCOMP_NO_LISTENER, or -errno. */
int oh_seccomp_load(const struct oh_seccomp_filter *f);

/* oh_seccomp_build() and oh_seccomp_load() in one. */
int oh_seccomp_install(unsigned int flags);

/* Whether --mode seccomp can work here: user notification with fd
 * injection that completes the syscall (SECCOMP_ADDFD_FLAG_SEND, Linux
 * 5.14), and a supervisor allowed to read the program's memory.  The
 * kernel is asked in a thread of its own, while the caller goes on;
 * BESIDE (if set) is called there first, for work of the caller's that
 * can go beside its own.  That thread has a seccomp filter of its own (it
 * allows everything) and no_new_privs: it must not start processes.  A
 * kernel that answers for itself (5.14 or later, no filter around us) is
 * not asked that way: then everything, BESIDE too, is done before
 * oh_seccomp_probe_start() returns. */
struct oh_seccomp_probe {
        void (*beside)(void);
        pthread_t thread;
        int result;                     /* -EINPROGRESS until finished */
};
void oh_seccomp_probe_start(struct oh_seccomp_probe *p);

/* The answer: 0, -EOPNOTSUPP when the kernel is too old, -EPERM when
 * Yama's ptrace_scope forbids the reading (CAP_SYS_PTRACE is missing), or
 * another -errno (seccomp refused, e.g. by a filter around us). */
int oh_seccomp_probe_finish(struct oh_seccomp_probe *p);

struct openhook_server;

struct oh_supervise_args {
        int listener;
        int connector;                  /* abstract_connector.h, or -1: abstract addresses refused */
        /* Decisions are made with SERVER's policy when given, taken for
         * each notification as for each request (so a reload swaps both),
         * else with POLICY. */
        struct openhook_server *server;
        const struct openhook_policy *policy;
        unsigned int flags;             /* those the filter was installed with */
        openhook_log_fn log;            /* sees every decision; may be NULL */
        void *userdata;
};

/* In the supervisor: answers notifications until no filtered process is
 * left.  Returns 0 or -errno. */
int oh_seccomp_supervise(const struct oh_supervise_args *args);

/* oh_seccomp_supervise() in steps, so that everything but the listener
 * is ready before the listener arrives: _new() takes ARGS but their
 * listener and connector (0 or -errno), _run() answers on LISTENER (and
 * asks CONNECTOR, or -1) until no filtered process is left (0 or -errno;
 * neither fd is closed), _free() waits for the workers a while and frees
 * (NULL is fine). */
struct sc_supervisor;
int oh_seccomp_supervisor_new(const struct oh_supervise_args *args, struct sc_supervisor **ret);
int oh_seccomp_supervisor_run(struct sc_supervisor *sv, int listener, int connector);

/* Before _run(): once FD is readable, _run() calls FN(DATA) (from its
 * own thread, once) and watches FD no longer (nor after a hang-up, which
 * calls nothing): for work that is needed only once something arrives
 * there, before the peer has gone.  A failure of FN ends _run() with its
 * -errno. */
void oh_seccomp_supervisor_on_ready(struct sc_supervisor *sv, int fd, int (*fn)(void *data), void *data);
void oh_seccomp_supervisor_free(struct sc_supervisor *sv);

#endif
