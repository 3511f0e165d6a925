/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The command's process of openhook run, from spawn to execve.
 *
 * Everything that allocates or can be computed once is done by run before
 * the spawn: the environment, the Landlock ruleset, the seccomp filter.
 * The child then only makes system calls: restrict itself with the
 * ruleset, drop its capabilities, start the abstract connector and
 * restrict itself again (out of the connector's reach), load the filter
 * and execute COMMAND.  That lets it share run's memory and fd table
 * (CLONE_VM|CLONE_VFORK, as posix_spawn() does, and CLONE_FILES) instead
 * of being a copy: no page tables copied, no copy-on-write fault in
 * either process, none torn down at execve.  run waits meanwhile (it has
 * nothing else to do), and a failure before execve comes back through a
 * pipe, written before the child exits.
 *
 * run being suspended, the child must never wait for the broker.  It
 * does not: the seccomp listener stays in the fd table it shares with
 * run, the child tells the broker its number, and the broker takes a
 * copy from run's table once it is confined (execve gives COMMAND a table
 * of its own, without the listener).  COMMAND is started with a call the
 * filter does not notify; its first notified call (its loader's) waits
 * for the broker, and a broker that dies before it holds the listener
 * leaves that call failing with ENOSYS once run closes its copy.  The
 * child could not hand the listener over itself without a reply to wait
 * for: sendmsg() is notified from the moment the filter is in, so a copy
 * taken from its own table had to be taken, and said so, before it could
 * close its own and execute (the broker's start-up, confinement
 * included, then stood between the filter and execve). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdnoreturn.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "abstract_connector.h"
#include "cli.h"
#include "run.h"
#include "seccomp_notify.h"
#include "util.h"

extern char **environ;

enum child_stage {
        STAGE_SETUP,
        STAGE_LANDLOCK,
        STAGE_CONNECTOR,
        STAGE_SECCOMP,
        STAGE_HAND_OVER,
        STAGE_EXEC,
};

struct child_failure {
        int stage;
        int error;                      /* -errno */
};

/* ---- Built by run, before the spawn ----------------------------------------- */

static bool named(const char *entry, const char *name)
{
        size_t n = strlen(name);

        return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

static bool replaced(const char *entry, bool shim)
{
        return named(entry, "OPENHOOK_FD") ||
               (shim && (named(entry, "OPENHOOK_DIRECT") || named(entry, "LD_PRELOAD")));
}

/* OPENHOOK_FD is the one descriptor the command inherits on purpose, and
 * OPENHOOK_DIRECT lists what the shim opens itself.  The shim goes first
 * in LD_PRELOAD, so it sees the program's opens before any other
 * preloaded library makes them.  Without the shim (--no-shim) there is
 * no OPENHOOK_FD, and the rest is ours as it stands. */
static int command_env(struct run_child *c)
{
        const char *old = getenv("LD_PRELOAD");
        bool shim = c->preload != NULL;
        size_t n = 0, k = 0;

        while (environ && environ[n])
                n++;
        c->envp = calloc(n + 4, sizeof(*c->envp));
        if (!c->envp)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (!replaced(environ[i], shim))
                        c->envp[k++] = environ[i];
        if (!shim)
                return 0;
        if (asprintf(&c->env_fd, "OPENHOOK_FD=%d", c->sock) < 0 ||
            asprintf(&c->env_direct, "OPENHOOK_DIRECT=%s", c->shim_direct) < 0 ||
            asprintf(&c->env_preload, "LD_PRELOAD=%s%s%s", c->preload, old && *old ? ":" : "",
                     old && *old ? old : "") < 0)
                return -ENOMEM;
        c->envp[k++] = c->env_fd;
        c->envp[k++] = c->env_direct;
        c->envp[k] = c->env_preload;
        return 0;
}

/* The direct set; under --learn also execute anywhere (Landlock checks
 * an exec as a read and an execute), so that a program outside it runs
 * and is learned as an x rule.  Kept out of the shim's list: its reads
 * must still reach the broker, to be learned. */
static int command_ruleset(const struct run_child *c)
{
        const struct run_direct *d = c->direct;
        _cleanup_free_ struct oh_ll_rule *rules = calloc(d->n + 1, sizeof(*rules));

        if (!rules)
                return -ENOMEM;
        memcpy(rules, d->rules, d->n * sizeof(*rules));
        if (c->exec_anywhere)
                rules[d->n] = (struct oh_ll_rule) { "/", OH_LL_EXEC | OH_LL_READ };
        return oh_landlock_ruleset(rules, d->n + c->exec_anywhere, c->landlock_flags);
}

int run_child_prepare(struct run_child *c)
{
        int r;

        c->ruleset = c->status_read = c->status_fd = c->listener = c->connector = c->start = -1;
        c->landlock_abi = c->landlock ? oh_landlock_abi() : -1;
        r = command_env(c);
        if (r < 0)
                return r;
        if (c->landlock) {
                c->ruleset = command_ruleset(c);
                if (c->ruleset < 0)
                        return c->ruleset;
        }
        return 0;
}

void run_child_close(struct run_child *c)
{
        if (c->ruleset >= 0)
                close(c->ruleset);
        if (c->status_read >= 0)
                close(c->status_read);
        if (c->listener >= 0)
                close(c->listener);
        if (c->connector >= 0)
                close(c->connector);
        c->ruleset = c->status_read = c->listener = c->connector = -1;
}

void run_child_done(struct run_child *c)
{
        run_child_close(c);
        free(c->envp);
        free(c->env_fd);
        free(c->env_direct);
        free(c->env_preload);
        c->envp = NULL;
        c->env_fd = c->env_direct = c->env_preload = NULL;
}

int run_drop_bounding(void)
{
        struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};

        if (syscall(SYS_capget, &header, data) < 0)
                return oh_negerrno();
        /* Without CAP_SETPCAP the bounding set cannot shrink, and there is
         * nothing in it to regain. */
        for (unsigned long cap = 0; data[CAP_TO_INDEX(CAP_SETPCAP)].effective & CAP_TO_MASK(CAP_SETPCAP); cap++) {
                if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0)
                        continue;       /* also for one dropped already */
                if (errno == EINVAL)
                        break;          /* past the kernel's last capability */
                return oh_negerrno();
        }
        return prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 ? oh_negerrno() : 0;
}

/* ---- In the child: system calls only ---------------------------------- */

static noreturn void child_fail(const struct run_child *c, enum child_stage stage, int error)
{
        struct child_failure f = { stage, error };

        (void)!write(c->status_fd, &f, sizeof(f));
        if (stage != STAGE_EXEC)
                _exit(OH_EXIT_RUN_FAILED);
        _exit(error == -ENOENT ? OH_EXIT_NOT_FOUND : OH_EXIT_CANNOT_EXEC);
}

/* The listener and the connector's socket are left in the fd table we
 * share with run (CLONE_FILES), their numbers in C, which child_main()
 * tells the broker: it takes copies from run's table once it is confined
 * (run_broker.c); execve gives COMMAND a copy of the table without them
 * (both are O_CLOEXEC).  So nothing here waits for the broker: COMMAND's
 * first notified call does, while the broker finishes its start. */
static int child_seccomp(struct run_child *c)
{
        int listener = oh_seccomp_load(c->filter);     /* 0 without one */

        if (listener < 0)
                return listener;
        if (!(c->filter->flags & OH_SECCOMP_NO_LISTENER))
                c->listener = listener;
        return 0;
}

/* Abstract sockets: only where Landlock scopes them, so that the
 * connector, in our domain, is held to the scope (ABI 6); the program
 * then goes one layer deeper, out of the connector's reach. */
static bool wants_connector(const struct run_child *c)
{
        return !(c->filter->flags & OH_SECCOMP_NO_LISTENER) && c->landlock && c->landlock_abi >= OH_LL_ABI_SCOPE;
}

/* The command acts on files through the broker, which has whatever
 * privilege that takes; the command itself keeps no capability, so a root
 * command cannot fchown() a brokered fd to someone else, override file
 * modes, or do anything else privileged.  run emptied the bounding set
 * and the ambient set (run_drop_bounding()), or execve would give root
 * its capabilities back; what is left is this process's own. */
int run_drop_capabilities(void)
{
        struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};

        return syscall(SYS_capset, &header, data) < 0 ? oh_negerrno() : 0;
}

/* COMMAND is in the direct set: Landlock lets it run, and the supervisor
 * would only say to go on.  So it is started with AT_EMPTY_PATH, which
 * changes nothing for a path but that the filter lets the call through
 * (seccomp_notify.c): one round trip fewer, to a broker that has just
 * started.  execve where execveat is missing (before Linux 3.19). */
static void exec_command(const struct run_child *c)
{
        syscall(SYS_execveat, AT_FDCWD, c->path, c->argv, c->envp, AT_EMPTY_PATH);
        if (errno == ENOSYS)
                execve(c->path, c->argv, c->envp);
}

/* Shares run's memory and fd table: writes nothing of the memory but its
 * own stack, the numbers child_seccomp() leaves in C (and errno, while
 * run waits), allocates nothing. */
static int child_main(void *arg)
{
        struct run_child *c = arg;
        int r;

        sigprocmask(SIG_SETMASK, &c->sigmask, NULL);
        if (c->preload && fcntl(c->sock, F_SETFD, 0) < 0)
                child_fail(c, STAGE_SETUP, oh_negerrno());
        if (c->ruleset >= 0) {
                r = oh_landlock_restrict(c->ruleset);
                if (r < 0)
                        child_fail(c, STAGE_LANDLOCK, r);
        }
        r = run_drop_capabilities();
        if (r < 0)
                child_fail(c, STAGE_SETUP, r);
        if (wants_connector(c)) {
                c->connector = oh_connector_start();
                if (c->connector < 0)
                        child_fail(c, STAGE_CONNECTOR, c->connector);
                r = oh_landlock_restrict(c->ruleset);
                if (r < 0)
                        child_fail(c, STAGE_LANDLOCK, r);
        }
        r = child_seccomp(c);
        if (r < 0)
                child_fail(c, STAGE_SECCOMP, r);
        r = run_broker_announce(c->start, c->listener, c->connector);
        if (r < 0)
                child_fail(c, STAGE_HAND_OVER, r);
        c->announced = true;
        exec_command(c);
        child_fail(c, STAGE_EXEC, oh_negerrno());
}

/* ---- Back in run ------------------------------------------------------------ */

static int report_failure(const struct run_child *c, const struct child_failure *f)
{
        switch (f->stage) {
        case STAGE_EXEC:
                oh_warn("%s: %s", c->argv[0], strerror(-f->error));
                return f->error == -ENOENT ? OH_EXIT_NOT_FOUND : OH_EXIT_CANNOT_EXEC;
        case STAGE_LANDLOCK:
                oh_warn("cannot confine COMMAND with Landlock: %s", strerror(-f->error));
                break;
        case STAGE_CONNECTOR:
                oh_warn("cannot start the abstract connector: %s", strerror(-f->error));
                break;
        case STAGE_SECCOMP:
                if (f->error == -ENOSYS)
                        oh_warn("--mode seccomp is not available in this build");
                else
                        oh_warn("cannot install the seccomp filter: %s", strerror(-f->error));
                break;
        case STAGE_HAND_OVER:
                oh_warn("cannot tell the broker of COMMAND's seccomp listener: %s", strerror(-f->error));
                break;
        default:
                oh_warn("cannot prepare COMMAND: %s", strerror(-f->error));
                break;
        }
        return OH_EXIT_RUN_FAILED;
}

/* The child's stack.  It runs while run waits in clone(), so one static
 * stack serves (run starts one command); pages it never touches cost
 * nothing.  (The abstract connector's stacks are its own.) */
static char child_stack[256 * 1024] __attribute__((aligned(64)));

pid_t run_child_spawn(struct run_child *c)
{
        int status_pipe[2];

        /* Non-blocking: clone() returns once the child has executed or
         * exited, a failure already written, so run need not wait for the
         * end of file (which the connector, holding a copy of the table
         * until it closes it, would delay). */
        if (pipe2(status_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
                return oh_negerrno();
        c->status_read = status_pipe[0];
        c->status_fd = status_pipe[1];

        pid_t pid = clone(child_main, child_stack + sizeof(child_stack), CLONE_VM | CLONE_VFORK | CLONE_FILES | SIGCHLD,
                          c);
        int r = pid < 0 ? oh_negerrno() : pid;

        close(c->status_fd);
        c->status_fd = -1;
        return r;
}

int run_child_started(struct run_child *c)
{
        _cleanup_close_ int status_read = TAKE_FD(c->status_read);
        struct child_failure f;

        /* Nothing there (the pipe does not block): execve succeeded, or a
         * signal ended the child, which waitpid() tells. */
        if (read(status_read, &f, sizeof(f)) != sizeof(f))
                return 0;
        /* The start-up socket closed: the broker is gone, which the
         * caller says with how it ended. */
        if (f.stage == STAGE_HAND_OVER && (f.error == -EPIPE || f.error == -ECONNRESET))
                return -EPIPE;
        return report_failure(c, &f);
}
