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
 * last of them is closed, by a thread of its own.  Creating it takes
 * 60-650 us on our VM: it is started once the listener is ours, while the
 * command executes (which the filter does not notify, run_command.c), not
 * before, where it would stand between the hand-over and execve. */
struct server_thread {
        struct openhook_server *server;
        int sock;
        int result;
};

static void *serve_thread(void *userdata)
{
        struct server_thread *st = userdata;

        st->result = openhook_server_run(st->server, st->sock, 0, 0);
        return NULL;
}

/* Notifications on LISTENER (and CONNECTOR) here, B->sock in the
 * thread.  Without the thread we end, and what the command calls then
 * fails. */
static int supervise_and_serve(struct sc_supervisor *sv, int listener, int connector, struct server_thread *st)
{
        pthread_t thread;
        int r = -pthread_create(&thread, NULL, serve_thread, st);

        if (r < 0)
                return r;
        r = oh_seccomp_supervisor_run(sv, listener, connector);
        pthread_join(thread, NULL);
        return st->result < 0 ? st->result : r;
}

/* The command installs its filter and hands us the listener right before
 * execve (fd -1: nobody can supervise it, what would be notified is
 * refused); end of stream means it failed earlier (run reports that).
 * The supervisor is made ready (its tables, its buffers) before the
 * listener comes; this thread takes it off B->sock, tells the command so,
 * starts the server's thread, which serves B->sock (the listener message
 * was the first on it), and answers the command's notifications.  The
 * command closes its own copy of the listener before its execve, so that
 * ours is the last: should we die, the kernel fails what is notified
 * instead of leaving it waiting for us (DESIGN.md, "A broker that dies").
 * Both decide with SERVER's policy, which a reload swaps. */
static int broker_serve(const struct run_broker *b, struct openhook_server *server)
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
        int fd = oh_seccomp_recv_listener(b->sock, &connector);
        bool serve = fd == -ENOMSG || fd > 0;
        if (fd > 0 && sv)
                r = supervise_and_serve(sv, fd, connector, &st);
        else if (serve)
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

static int broker_run(const struct run_broker *b)
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
                r = broker_serve(b, server);
        if (b->reloader)
                oh_reloader_stop(b->reloader);
        openhook_server_free(server);
        return r;
}

static int broker_main(const struct run_broker *b)
{
        int r = broker_run(b);
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

pid_t run_broker_start(const struct run_broker *b, int *ready)
{
        int pipe[2];

        if (pipe2(pipe, O_CLOEXEC) < 0)
                return oh_negerrno();
        _cleanup_close_ int ready_read = pipe[0];
        _cleanup_close_ int ready_write = pipe[1];

        pid_t pid = fork();
        if (pid < 0)
                return oh_negerrno();
        if (pid == 0) {
                /* What we run next is faulted in again, or copied, page
                 * by page; the deepest: a notification's path walk. */
                run_prefault(48 * 1024, false);
                close(TAKE_FD(ready_read));
                int r = broker_setup(b);
                (void)!write(ready_write, &r, sizeof(r));
                close(TAKE_FD(ready_write));
                if (r < 0)
                        _exit(OH_EXIT_RUN_FAILED);
                _exit(broker_main(b));
        }
        *ready = TAKE_FD(ready_read);
        return pid;
}

int run_broker_ready(int ready)
{
        _cleanup_close_ int fd = ready;
        int r;
        ssize_t n;

        do
                n = read(fd, &r, sizeof(r));
        while (n < 0 && errno == EINTR);
        if (n != sizeof(r))
                return -EPIPE;          /* it ended without a word: run says how */
        if (r < 0)
                oh_warn("the broker could not confine itself: %s", strerror(-r));
        return r < 0 ? r : 0;
}
