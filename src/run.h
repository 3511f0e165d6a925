/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* openhook run, shared by its files: run.c (options, putting it together,
 * waiting), run_direct.c (what the command may open itself),
 * run_command.c (the command's process until execve), run_broker.c (the
 * broker process). */
#ifndef OH_RUN_H
#define OH_RUN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "decision_log.h"
#include "landlock.h"
#include "learn.h"
#include "reload.h"
#include "openhook.h"

enum run_mode {
        RUN_MODE_PRELOAD,
        RUN_MODE_SECCOMP,
};

/* ---- run_direct.c ------------------------------------------------------ */

/* The direct set: the paths the command opens without the broker, as
 * Landlock rules, and as the OPENHOOK_DIRECT list the shim reads. */
struct run_direct {
        char **paths;                   /* owned, NULL-terminated */
        struct oh_ll_rule *rules;       /* rules[i].path == paths[i] */
        size_t n;
};

/* Adds the default entries (openhook(1), THE DIRECT SET). */
int run_direct_add_defaults(struct run_direct *d);

/* Adds PATH (absolute; trailing slashes are dropped) with ACCESS (OH_LL_*).
 * Returns 0, -EINVAL for a relative path or one with ':' (which the
 * OPENHOOK_DIRECT list cannot carry), or -ENOMEM. */
int run_direct_add(struct run_direct *d, const char *path, unsigned int access);

/* The colon-separated OPENHOOK_DIRECT value, malloc'ed; NULL when out of
 * memory. */
char *run_direct_env(const struct run_direct *d);

/* --direct-reads: adds, for reading only, the path of every allow rule
 * of P that grants r and alone decides every path it covers (no deny, no
 * exact rule of its path, no rule beneath it), and that Landlock can hold
 * as the policy means it (a subtree rule, or an exact rule of a
 * non-directory).  Returns how many such rules were left out because
 * OPENHOOK_DIRECT was full (they stay brokered), or -errno. */
int run_direct_add_policy_reads(struct run_direct *d, const struct openhook_policy *p);

/* For a supervisor without Landlock under its command: adds D's existing
 * entries to P as allow rules (r, and w where D grants writing; a
 * directory as a subtree), so the supervisor opens them under the policy
 * instead of letting the kernel do it unchecked.  0 or -errno. */
int run_direct_add_to_policy(const struct run_direct *d, struct openhook_policy *p);

/* The x rules of P: each file or tree Landlock lets the command read and
 * execute, as entries of D.  A tree that does not exist yet is made now,
 * as the command could ask the broker to (c needed), so that Landlock can
 * name it; a file that does not exist, a directory named without a
 * trailing '/' and a tree that cannot be made are left out with a
 * warning, as is a deny rule inside an x tree, which Landlock cannot
 * hold.  0 or -errno. */
int run_direct_add_executable(struct run_direct *d, const struct openhook_policy *p);

/* openhook run's default: t on /tmp/, /var/tmp/ and /dev/shm/ where they
 * exist (--no-private-tmp leaves them out).  0 or -errno. */
int run_add_private_tmp(struct openhook_policy *p);

void run_direct_done(struct run_direct *d);

/* ---- run_command.c ------------------------------------------------------ */

struct oh_seccomp_filter;

/* Maps openhook's code and constant data, STACK bytes of the stack
 * below the caller's frame and with HEAP the heap malloc() has, in one go
 * (run_prefault.c).  Only a hint. */
void run_prefault(size_t stack, bool heap);

struct run_child {
        enum run_mode mode;
        const char *path;               /* what to execute */
        char **argv;
        int sock;                       /* our end of the socketpair with the broker */
        const char *preload;            /* the shim, NULL for none (--no-shim) */
        const char *shim_direct;        /* OPENHOOK_DIRECT for the shim */
        const struct run_direct *direct;
        bool landlock;
        unsigned int landlock_flags;    /* OH_LL_APPLY_* */
        bool exec_anywhere;             /* --learn: Landlock lets any program run */
        const struct oh_seccomp_filter *filter; /* built before the spawn */
        sigset_t sigmask;               /* restored before exec */

        /* Set by run_child_prepare(), freed by run_child_done(). */
        char **envp;                    /* COMMAND's environment */
        char *env_fd, *env_direct, *env_preload; /* the entries of it that are ours */
        int ruleset;                    /* the command's Landlock ruleset, or -1 */
        int listener;                   /* left by the child: its seccomp listener, or -1 */
        int connector;                  /* idem: the abstract connector's socket, or -1 */
        int start;                      /* run's end of the broker's start-up socket */
        bool announced;                 /* left by the child: the broker was told the numbers */
        int landlock_abi;
        int status_fd;                  /* a failure before or at exec */
        int status_read;                /* run's end of it */
};

/* Builds in run what the child would otherwise build after the spawn:
 * COMMAND's environment and its Landlock ruleset.  0 or -errno;
 * run_child_done() in either case.  run_child_close() closes its
 * descriptors only, as soon as the command has started (the memory is
 * freed, if at all, at the end: run_state_done() in run.c). */
int run_child_prepare(struct run_child *c);
void run_child_close(struct run_child *c);
void run_child_done(struct run_child *c);

/* Empties our bounding set (where CAP_SETPCAP allows) and ambient set,
 * for every process run starts: run never executes anything, the broker
 * keeps what it needs in its permitted set, and the command starts
 * without them (it then drops its own capabilities, and execve can give
 * none back).  0 or -errno. */
int run_drop_bounding(void);

/* Empties this process's own capability sets (effective, permitted,
 * inheritable).  Returns 0 or -errno. */
int run_drop_capabilities(void);

/* Spawns the command's process, which shares our memory and runs while we
 * wait, until it has executed COMMAND or failed before.  Returns its pid,
 * or -errno. */
pid_t run_child_spawn(struct run_child *c);

/* After run_child_spawn(): the exit status to use once the process is
 * reaped if it never got to run COMMAND (it has been said why), 0 if it
 * did, or -EPIPE if it found the broker gone (not said: the caller reaps
 * the broker and says how it ended). */
int run_child_started(struct run_child *c);

/* ---- run_broker.c ------------------------------------------------------ */

struct run_broker {
        enum run_mode mode;
        unsigned int seccomp_flags;     /* the command's filter (OH_SECCOMP_*) */
        const struct openhook_policy *policy;
        int sock;                       /* our end of the socketpair with the command:
                                         * first the command hands over its seccomp
                                         * listener, then it is served as OPENHOOK_FD */
        int peer;                       /* the command's end, closed in the broker */
        int command_ruleset;            /* the command's Landlock ruleset (or -1), closed there too */
        struct oh_decision_log *log;
        struct oh_learn *learn;         /* NULL unless --learn */
        int learn_fd;                   /* where the learned policy goes */
        char *const *argv;              /* the command, for the learned file's header */
        struct oh_reloader *reloader;   /* --watch, or NULL; its policy is POLICY */
};

/* Forks the broker process, which confines itself while the caller goes
 * on.  Returns its pid with *START set to our end of the start-up socket
 * (O_CLOEXEC; the caller closes it), or -errno. */
pid_t run_broker_start(const struct run_broker *b, int *start);

/* Waits until the broker says it is confined.  0, -EPIPE if it ended
 * before saying anything (not said: the caller reaps it and says how it
 * ended), or -errno if it could not be confined (said on stderr; the
 * broker then exits). */
int run_broker_ready(int start);

/* In the command's process, sharing run's fd table, right before it
 * executes: tells the broker which numbers in it are the seccomp
 * LISTENER (-1: it has none) and the abstract CONNECTOR's socket (or -1),
 * for the broker to take copies of (from run) once it is confined.
 * START is run's end of the start-up socket.  0 or -errno. */
int run_broker_announce(int start, int listener, int connector);

/* In run, once run_broker_ready() said 0 and the command has executed:
 * waits until the broker has taken its copies, upon which run closes its
 * own.  0, or -EPIPE if the broker ended first.  Closing START without
 * waiting tells the broker the command never executed. */
int run_broker_taken(int start);

#endif
