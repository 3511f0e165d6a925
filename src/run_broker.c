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

/* The supervisor's thread starts before the command hands over its
 * listener and gets ready meanwhile (its tables, its buffers); it takes
 * the listener itself, tells the command so and goes on to answer the
 * first notification, the command's execve.  The command closes its own
 * copy before that execve, so that ours is the last: should we die, the
 * kernel fails the execve instead of leaving it waiting for us (DESIGN.md,
 * "A broker that dies").  The main thread waits until the listener
 * message has been taken off B->sock, which it then serves. */
struct supervisor {
        const struct run_broker *b;
        struct sc_supervisor *sv;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool taken;
        int listener;                   /* oh_seccomp_recv_listener()'s answer */
        int connector;
        int result;
};

static void *supervise_thread(void *userdata)
{
        struct supervisor *s = userdata;
        int connector;
        int listener = oh_seccomp_recv_listener(s->b->sock, &connector);

        pthread_mutex_lock(&s->lock);
        s->listener = listener;
        s->connector = connector;
        s->taken = true;
        pthread_cond_signal(&s->cond);
        pthread_mutex_unlock(&s->lock);
        if (listener > 0)
                s->result = oh_seccomp_supervisor_run(s->sv, listener, connector);
        return NULL;
}

static int wait_taken(struct supervisor *s)
{
        pthread_mutex_lock(&s->lock);
        while (!s->taken)
                pthread_cond_wait(&s->cond, &s->lock);
        pthread_mutex_unlock(&s->lock);
        return s->listener;
}

static int supervisor_start(struct openhook_server *server, struct supervisor *s, pthread_t *thread)
{
        struct oh_supervise_args args = {
                .server = server,
                .flags = s->b->seccomp_flags,
                .log = broker_log,
                .userdata = (void *)s->b,
        };
        int r = oh_seccomp_supervisor_new(&args, &s->sv);

        if (r < 0)
                return r;
        r = -pthread_create(thread, NULL, supervise_thread, s);
        if (r < 0) {
                oh_seccomp_supervisor_free(s->sv);
                s->sv = NULL;
        }
        return r;
}

/* The command installs its filter and hands us the listener right before
 * execve (fd -1: nobody can supervise it, what would be notified is
 * refused); end of stream means it failed earlier (run reports that).
 * The notifications get a thread of their own, while this one serves
 * B->sock (and every connection CONNECT makes from it) until the last of
 * them is closed; the command closed it before execve under --no-shim.
 * Both decide with SERVER's policy, which a reload swaps. */
static int broker_serve(const struct run_broker *b, struct openhook_server *server)
{
        struct supervisor s = {
                .b = b, .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER, .connector = -1,
        };
        bool supervised = !(b->seccomp_flags & OH_SECCOMP_NO_LISTENER);
        pthread_t thread;
        int r = supervised ? supervisor_start(server, &s, &thread) : 0;

        if (r < 0)
                return r;
        int fd = supervised ? wait_taken(&s) : oh_seccomp_recv_listener(b->sock, &s.connector);
        r = fd == -ENOMSG || fd > 0 ? openhook_server_run(server, b->sock, 0, 0) : fd;
        if (supervised) {
                pthread_join(thread, NULL);
                oh_seccomp_supervisor_free(s.sv);
        }
        if (fd > 0)
                close(fd);
        if (s.connector >= 0)
                close(s.connector);
        return r < 0 ? r : s.result;
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
        unsigned int flags = OH_CONFINE_NO_LANDLOCK;
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
