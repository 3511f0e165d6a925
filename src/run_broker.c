/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The broker process of openhook run.  It is a child of run, not run
 * itself, so it can outlive the command: it serves until the last process
 * of the confined tree has closed its connection (and, in seccomp mode,
 * until no process under the filter is left), while run returns the
 * command's status as soon as the command exits. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cli.h"
#include "confine.h"
#include "run.h"
#include "seccomp_notify.h"
#include "util.h"

/* Every decision goes to the log (denial lines, --log) and to --learn.
 * Both take any number of threads (one write() per line; a mutex in
 * learn), so the socket server and the supervisor share it. */
static void broker_log(const struct openhook_decision *d, void *userdata)
{
        const struct run_broker *b = userdata;

        oh_decision_log_write(d, b->log);
        if (b->learn)
                oh_learn_observe(d, b->learn);
}

/* B->sock (and every connection CONNECT makes from it), served until the
 * last of them is closed, by a thread of its own, started by the
 * supervisor once the first request is there: creating it (and the
 * server's own second thread) takes 60-650 us each on our VM, CPU time
 * that would compete with the command's start and the first
 * notifications, and a program that never asks the broker anything
 * (its files all in the direct set) never needs it. */
struct server_thread {
        struct openhook_server *server;
        int sock;
        int result;
        bool started;
        pthread_t thread;
};

static void *serve_thread(void *userdata)
{
        struct server_thread *st = userdata;

        st->result = openhook_server_run(st->server, st->sock, 0, 0);
        return NULL;
}

static int server_thread_start(void *userdata)
{
        struct server_thread *st = userdata;
        int r = -pthread_create(&st->thread, NULL, serve_thread, st);

        st->started = r == 0;
        return r;
}

/* The hand-over.  The command's process, sharing run's fd table
 * (run_command.c), says on the start-up socket which numbers in that
 * table are its listener and the connector's socket, and executes.  We
 * take copies from run's table with pidfd_getfd() (we may: run is in our
 * Landlock domain, and we keep CAP_SYS_PTRACE), and say so, upon which run
 * closes its own.  Neither the command nor run waits for us meanwhile:
 * the command's first notified call does. */
struct hand_over {
        int32_t run;            /* run's pid: our parent */
        int32_t listener;       /* -1: the command has none (OH_SECCOMP_NO_LISTENER) */
        int32_t connector;      /* or -1 */
};

int run_broker_announce(int start, int listener, int connector)
{
        struct hand_over m = { .run = getppid(), .listener = listener, .connector = connector };

        /* send() without an address: a call the filter lets through. */
        return send(start, &m, sizeof m, MSG_NOSIGNAL) == sizeof m ? 0 : oh_negerrno();
}

/* One message of the start-up dialogue: its length, 0 at end of stream,
 * or -errno. */
static ssize_t start_recv(int start, void *buf, size_t len)
{
        ssize_t n;

        do
                n = recv(start, buf, len, 0);
        while (n < 0 && errno == EINTR);
        return n < 0 ? oh_negerrno() : n;
}

int run_broker_taken(int start)
{
        char taken;

        return start_recv(start, &taken, 1) == 1 ? 0 : -EPIPE;
}

static int take_fd(int pidfd, int n)
{
        int fd = (int)syscall(SYS_pidfd_getfd, pidfd, n, 0);

        return fd < 0 ? oh_negerrno() : fd;
}

/* The fds M names in run's table: the listener (O_CLOEXEC) with
 * *CONNECTOR set (or -1), or -errno. */
static int take_fds(const struct hand_over *m, int *connector)
{
        /* Our parent, checked again once the pidfd is open: then it is
         * run's, not a process that took its pid after it died. */
        if (m->run != getppid())
                return -ESRCH;
        _cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)m->run, 0);
        if (pidfd < 0)
                return oh_negerrno();
        if (m->run != getppid())
                return -ESRCH;
        _cleanup_close_ int listener = take_fd(pidfd, m->listener);
        if (listener < 0)
                return listener;
        if (m->connector >= 0) {
                *connector = take_fd(pidfd, m->connector);
                if (*connector < 0)
                        return *connector;
        }
        return TAKE_FD(listener);
}

/* What the command announced, taken: the listener with *CONNECTOR set
 * (or -1), -ENOMSG for none, 0 at end of stream (the command failed
 * before it executed), or -errno.  run is told once we are done, also
 * for none; it may be gone by then (the command failed at execve), which
 * changes nothing here. */
static int take_over(int start, int *connector)
{
        struct hand_over m;
        ssize_t n = start_recv(start, &m, sizeof m);

        *connector = -1;
        if (n <= 0)
                return (int)n;
        if (n != (ssize_t)sizeof m)
                return -EPROTO;
        int fd = m.listener < 0 ? -ENOMSG : take_fds(&m, connector);
        if (fd >= 0 || fd == -ENOMSG)
                (void)send(start, "", 1, MSG_NOSIGNAL);
        return fd;
}

/* We take the command's seccomp listener once we are confined (a broker
 * that could not confine itself never serves anyone), while the command
 * executes: the command's first notified call waits for us, not its
 * execve.  The supervisor is made ready (its tables, its buffers)
 * before.  Then this thread answers the command's notifications, and
 * starts the server's thread when B->sock needs it.  Ours is the last
 * copy of the listener: should we die, the kernel fails what is notified
 * instead of leaving it waiting for us (DESIGN.md, "A broker that
 * dies").  Both decide with SERVER's policy, which a reload swaps. */
static int broker_serve(const struct run_broker *b, struct openhook_server *server, int start)
{
        struct oh_supervise_args args = {
                .server = server,
                .flags = b->seccomp_flags,
                .log = broker_log,
                .userdata = (void *)b,
        };
        struct server_thread st = { .server = server, .sock = b->sock };
        struct sc_supervisor *sv = NULL;
        int connector = -1, r = 0;

        if (!(b->seccomp_flags & OH_SECCOMP_NO_LISTENER))
                r = oh_seccomp_supervisor_new(&args, &sv);
        if (r < 0)
                return r;
        int fd = take_over(start, &connector);
        close(start);
        bool serve = fd == -ENOMSG || fd > 0;
        if (fd > 0 && sv) {
                oh_seccomp_supervisor_on_ready(sv, b->sock, server_thread_start, &st);
                r = oh_seccomp_supervisor_run(sv, fd, connector);
        } else if (serve)
                r = openhook_server_run(server, b->sock, 0, 0);
        /* The filtered processes are gone; their connections may not be,
         * nor the requests on them. */
        if (st.started) {
                pthread_join(st.thread, NULL);
                if (st.result < 0 && r >= 0)
                        r = st.result;
        } else if (r >= 0 && fd > 0 && sv)
                r = openhook_server_run(server, b->sock, 0, 0);
        if (!serve)
                r = fd;
        oh_seccomp_supervisor_free(sv);
        if (fd > 0)
                close(fd);
        if (connector >= 0)
                close(connector);
        return r;
}

static int broker_run(const struct run_broker *b, int start)
{
        struct openhook_server *server;
        int r = openhook_server_new(b->policy, &server);

        if (r < 0)
                return r;
        openhook_server_set_log(server, broker_log, (void *)b);
        /* --learn must see what the program opens, not what came ahead. */
        if (!b->learn)
                openhook_server_set_ahead(server, OPENHOOK_AHEAD_SEND | OPENHOOK_AHEAD_PREPARE);
        if (b->reloader) {
                b->reloader->server = server;
                r = oh_reloader_start(b->reloader);
        }
        if (r >= 0)
                r = broker_serve(b, server, start);
        if (b->reloader)
                oh_reloader_stop(b->reloader);
        openhook_server_free(server);
        return r;
}

static int broker_main(const struct run_broker *b, int start)
{
        int r = broker_run(b, start);
        if (r < 0) {
                oh_warn("broker: %s", strerror(-r));
                return OH_EXIT_RUN_FAILED;
        }
        if (b->learn) {
                r = oh_learn_write(b->learn, b->learn_fd, b->argv);
                if (r < 0) {
                        oh_warn("cannot write the learned policy: %s", strerror(-r));
                        return OH_EXIT_RUN_FAILED;
                }
        }
        return OH_EXIT_OK;
}

/* In the new process: leave the terminal's process group (a ^C meant for
 * the command must not take its broker away first), drop the command's
 * end and its stdin/stdout, confine ourselves. */
static int broker_setup(const struct run_broker *b)
{
        sigset_t none;

        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_IGN);
        (void)setpgid(0, 0);
        close(b->peer);
        if (b->command_ruleset >= 0)
                close(b->command_ruleset);
        /* Only stderr is ours (denial lines); holding the command's stdin
         * and stdout would keep a pipeline waiting for the broker. */
        _cleanup_close_ int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) {
                (void)dup2(null, STDIN_FILENO);
                (void)dup2(null, STDOUT_FILENO);
        }

        /* run raised our Landlock floor before forking us (none with
         * --unconfined: a supervisor under Landlock could not read the
         * memory of a command outside every domain). */
        unsigned int flags = OH_CONFINE_NO_LANDLOCK | OH_CONFINE_FORKED;
        if (!(b->seccomp_flags & OH_SECCOMP_NO_LISTENER))
                flags |= OH_CONFINE_SECCOMP_SUPERVISOR;
        int r = oh_broker_confine(NULL, flags);
        return r == -ENOSYS ? 0 : r;
}

pid_t run_broker_start(const struct run_broker *b, int *start)
{
        int sv[2];

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return oh_negerrno();
        _cleanup_close_ int ours = sv[0];
        _cleanup_close_ int theirs = sv[1];

        pid_t pid = fork();
        if (pid < 0)
                return oh_negerrno();
        if (pid == 0) {
                /* What we run next is faulted in again, or copied, page
                 * by page; the deepest: a notification's path walk. */
                run_prefault(48 * 1024, false);
                close(TAKE_FD(ours));
                int r = broker_setup(b);
                if (send(theirs, &r, sizeof(r), MSG_NOSIGNAL) != sizeof(r) || r < 0)
                        _exit(OH_EXIT_RUN_FAILED);
                _exit(broker_main(b, TAKE_FD(theirs)));
        }
        *start = TAKE_FD(ours);
        return pid;
}

int run_broker_ready(int start)
{
        int r;

        if (start_recv(start, &r, sizeof(r)) != sizeof(r))
                return -EPIPE;          /* it ended without a word: run says how */
        if (r < 0)
                oh_warn("the broker could not confine itself: %s", strerror(-r));
        return r < 0 ? r : 0;
}
