/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The ready-made loop: one epoll set shared by NTHREADS workers.  Every
 * connection is armed with EPOLLONESHOT, so exactly one worker handles it
 * at a time and no connection needs a lock; a slow client occupies at most
 * one worker for one request, never the others.  Connections take turns:
 * one with more requests queued gets the next only if nothing else is
 * ready, else it goes back to epoll behind what is (serve_queued()), so
 * none waits for more than one request of each other connection. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server.h"
#include "spin.h"
#include "util.h"

/* Connections accepted per wake-up before the listening socket goes back
 * to the queue, so a connection storm does not starve existing clients. */
#define OH_ACCEPT_BATCH 64
#define OH_THREADS_MAX 256

struct loop {
        struct openhook_server *server;
        int epfd;
        int listen_fd;                  /* -1 unless listening */
        pthread_mutex_t lock;           /* guards conns and nconns */
        struct openhook_conn *conns;
        atomic_size_t nconns;           /* also read without the lock */
        atomic_uint nworkers;
        atomic_bool stopping;
        atomic_int error;               /* first fatal -errno */
        atomic_bool spinning;           /* a worker is polling (spin.h) */
};

/* Tags for the two fds in the epoll set that are not connections. */
static char tag_listen, tag_stop;

static void loop_stop(struct loop *l, int error)
{
        int expected = 0;
        uint64_t one = 1;

        if (error < 0)
                atomic_compare_exchange_strong(&l->error, &expected, error);
        atomic_store(&l->stopping, true);
        /* The eventfd is level-triggered and never drained while the loop
         * runs, so every worker sleeping in epoll_wait() sees it. */
        (void) !write(l->server->stop_fd, &one, sizeof(one));
}

static int arm(struct loop *l, int op, int fd, void *ptr, uint32_t poll_events)
{
        struct epoll_event ev = {
                .events = EPOLLONESHOT |
                          (poll_events & POLLIN ? EPOLLIN : 0) |
                          (poll_events & POLLOUT ? EPOLLOUT : 0),
                .data.ptr = ptr,
        };

        if (epoll_ctl(l->epfd, op, fd, &ev) < 0)
                return oh_negerrno();
        return 0;
}

/* Takes C off the list (l->lock held).  Returns how many remain. */
static size_t loop_unlink(struct loop *l, struct openhook_conn *c)
{
        if (c->prev)
                c->prev->next = c->next;
        else
                l->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        return --l->nconns;
}

static int loop_add_conn(struct openhook_conn *c, void *userdata)
{
        struct loop *l = userdata;

        pthread_mutex_lock(&l->lock);
        c->prev = NULL;
        c->next = l->conns;
        if (l->conns)
                l->conns->prev = c;
        l->conns = c;
        l->nconns++;
        pthread_mutex_unlock(&l->lock);

        int r = arm(l, EPOLL_CTL_ADD, c->fd, c, openhook_conn_events(c));
        if (r < 0) {
                pthread_mutex_lock(&l->lock);
                loop_unlink(l, c);
                pthread_mutex_unlock(&l->lock);
        }
        return r;
}

static void loop_drop_conn(struct loop *l, struct openhook_conn *c)
{
        bool last;

        (void) epoll_ctl(l->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        pthread_mutex_lock(&l->lock);
        last = loop_unlink(l, c) == 0;
        pthread_mutex_unlock(&l->lock);
        openhook_conn_free(c);

        /* Without a listening socket nobody new can arrive. */
        if (last && l->listen_fd < 0)
                loop_stop(l, 0);
}

/* Only one worker polls (spin.h) at a time: a second poller would take the
 * CPU the clients need (two workers and a polling client on two CPUs
 * starve each other). */
static int wait_timeout(struct loop *l, struct oh_poller *p)
{
        bool polling = p->until != 0;
        int timeout = oh_poller_timeout(p);

        if (polling && timeout < 0)
                atomic_store(&l->spinning, false);
        return timeout;
}

/* After serving: go on polling if we are the poller, or become it. */
static void poll_after_work(struct loop *l, struct oh_poller *p)
{
        bool idle = false;

        if (p->until == 0 && !atomic_compare_exchange_strong(&l->spinning, &idle, true))
                return;
        if (!oh_poller_start(p))
                atomic_store(&l->spinning, false);
}

/* Without a listening socket and with no more connections than workers,
 * each connection could have a worker to itself, so one that keeps polling
 * the connection it just served never keeps another waiting. */
static bool may_stay(struct loop *l)
{
        return l->listen_fd < 0 && !atomic_load(&l->stopping) &&
               atomic_load_explicit(&l->nconns, memory_order_relaxed) <=
               atomic_load_explicit(&l->nworkers, memory_order_relaxed);
}

/* Takes an event that is ready now, without waiting.  Returns whether
 * one was taken into *EV. */
static bool take_ready(struct loop *l, struct epoll_event *ev)
{
        return epoll_wait(l->epfd, ev, 1, 0) == 1;
}

/* Serves C's queued requests one at a time for as long as nothing else in
 * the epoll set is ready: a client pipelining cheap requests then costs
 * one epoll_wait() per request and wakes no other worker, yet another
 * connection, a new client or a stop waits for one request of C's at
 * most.  Returns 1 when something else is ready (in *NEXT: C goes back to
 * epoll, behind it), 0 when C has nothing queued, or -errno once C is
 * finished.  *ANSWERED counts the requests served. */
static int serve_queued(struct loop *l, struct openhook_conn *c, struct epoll_event *next,
                        unsigned int *answered)
{
        *answered = 0;
        for (;;) {
                unsigned int one;
                int r = oh_conn_process(c, &one);
                if (r < 0)
                        return r;
                *answered += one;
                if (!c->backlog)
                        return 0;
                if (take_ready(l, next))
                        return 1;
        }
}

/* The poller's window spent on C alone, serving each request as it comes:
 * a request then costs neither re-arming C (epoll_ctl) nor finding it
 * again (epoll_wait), and no sleeping worker is woken for a request this
 * one takes anyway.  Bounded by the window, after which C goes back to
 * epoll.  Returns what serve_queued() does. */
static int stay_with(struct loop *l, struct openhook_conn *c, struct oh_poller *p, struct epoll_event *next)
{
        poll_after_work(l, p);
        while (p->until != 0 && may_stay(l) && openhook_conn_events(c) == POLLIN) {
                /* A client sending back to back would otherwise keep this
                 * worker from epoll, where a stop is seen, for as long as it
                 * keeps going. */
                if (l->server->stop_requested)
                        break;
                /* Asking the socket itself (a non-blocking recvmsg) costs
                 * what a poll(2) would, and a hit needs no second call. */
                unsigned int answered;
                int r = serve_queued(l, c, next, &answered);
                if (r != 0)
                        return r;
                if (answered == 0) {
                        (void) wait_timeout(l, p);
                        continue;
                }
                oh_poller_woke(p);
                poll_after_work(l, p);
        }
        return 0;
}

/* Serves C, then hands it back to epoll.  Returns whether *NEXT holds the
 * event this worker is to handle next. */
static bool serve_conn(struct loop *l, struct openhook_conn *c, struct oh_poller *p, struct epoll_event *next)
{
        unsigned int answered;
        int r = serve_queued(l, c, next, &answered);

        if (r == 0 && may_stay(l))
                r = stay_with(l, c, p, next);
        else if (r == 0)
                poll_after_work(l, p);
        if (r < 0 || arm(l, EPOLL_CTL_MOD, c->fd, c, openhook_conn_events(c)) < 0)
                loop_drop_conn(l, c);
        return r > 0;
}

static void accept_some(struct loop *l)
{
        for (unsigned int i = 0; i < OH_ACCEPT_BATCH; i++) {
                int fd = accept4(l->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                                /* The pending client stays queued; give the
                                 * others a moment to release fds instead of
                                 * spinning on the still-readable socket. */
                                struct timespec ts = { 0, 10 * 1000 * 1000 };
                                nanosleep(&ts, NULL);
                        }
                        break;
                }

                struct openhook_conn *c;
                if (openhook_server_add(l->server, fd, &c) < 0)
                        continue;
                if (loop_add_conn(c, l) < 0)
                        openhook_conn_free(c);
        }
        if (arm(l, EPOLL_CTL_MOD, l->listen_fd, &tag_listen, POLLIN) < 0)
                loop_stop(l, oh_negerrno());
}

/* Handles EV.  Returns whether EV now holds the event to handle next. */
static bool dispatch(struct loop *l, struct epoll_event *ev, struct oh_poller *p)
{
        if (ev->data.ptr == &tag_stop) {
                atomic_store(&l->stopping, true);
                return false;
        }
        if (ev->data.ptr == &tag_listen) {
                accept_some(l);
                poll_after_work(l, p);
                return false;
        }
        return serve_conn(l, ev->data.ptr, p, ev);
}

/* Waits for the next event.  Returns whether *EV holds one; after an
 * error the loop is stopping. */
static bool next_event(struct loop *l, struct oh_poller *p, struct epoll_event *ev)
{
        int n = epoll_wait(l->epfd, ev, 1, wait_timeout(l, p));

        if (n < 0 && errno != EINTR)
                loop_stop(l, oh_negerrno());
        if (n <= 0)
                return false;
        oh_poller_woke(p);
        return true;
}

static void *worker(void *userdata)
{
        struct loop *l = userdata;
        struct oh_poller p = {};
        struct epoll_event ev;
        bool have = false;

        while (!atomic_load(&l->stopping))
                if (have || next_event(l, &p, &ev))
                        have = dispatch(l, &ev, &p);
        return NULL;
}

/* Serving many clients needs many fds; the hard limit is ours to take. */
static void raise_fd_limit(void)
{
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }
}

static unsigned int default_threads(void)
{
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        return n > 0 ? (unsigned int) n : 1;
}

static int loop_init(struct loop *l, struct openhook_server *s, int fd, bool listening)
{
        struct epoll_event stop = { .events = EPOLLIN, .data.ptr = &tag_stop };

        l->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (l->epfd < 0)
                return oh_negerrno();
        if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, s->stop_fd, &stop) < 0)
                return oh_negerrno();

        if (listening) {
                int one = 1;
                /* Workers accept until EAGAIN; a blocking accept() would
                 * park a worker when another took the last client. */
                int fl = fcntl(fd, F_GETFL);
                if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
                        return oh_negerrno();
                /* Lets accepted sockets start out with SO_PASSCRED, so even
                 * a client's first message names its pid. */
                (void) setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
                l->listen_fd = fd;
                return arm(l, EPOLL_CTL_ADD, fd, &tag_listen, POLLIN);
        }

        struct openhook_conn *c;
        int r = openhook_server_add(s, fd, &c);
        if (r < 0)
                return r;
        r = loop_add_conn(c, l);
        if (r < 0)
                openhook_conn_free(c);
        return r;
}

static void loop_done(struct loop *l)
{
        uint64_t drained;

        while (l->conns) {
                struct openhook_conn *c = l->conns;
                l->conns = c->next;
                openhook_conn_free(c);
        }
        if (l->epfd >= 0)
                close(l->epfd);
        /* Leaves the server ready for another run. */
        (void) !read(l->server->stop_fd, &drained, sizeof(drained));
        pthread_mutex_destroy(&l->lock);
}

int openhook_server_run(struct openhook_server *s, int fd, int listening, unsigned int nthreads)
{
        struct loop l = {
                .server = s,
                .epfd = -1,
                .listen_fd = -1,
                .lock = PTHREAD_MUTEX_INITIALIZER,
                .nworkers = 1,
        };

        if (!s || fd < 0)
                return -EINVAL;
        raise_fd_limit();
        /* Settled before a caller confines itself or starts threads. */
        (void) oh_spin_ns();

        openhook_add_conn_fn saved_fn = s->add_conn;
        void *saved_data = s->add_conn_data;
        openhook_server_set_add_conn(s, loop_add_conn, &l);

        int r = loop_init(&l, s, fd, listening);
        if (r < 0) {
                loop_done(&l);
                openhook_server_set_add_conn(s, saved_fn, saved_data);
                return r;
        }

        if (nthreads == 0)
                nthreads = default_threads();
        if (nthreads > OH_THREADS_MAX)
                nthreads = OH_THREADS_MAX;
        /* The calling thread is one of the workers. */
        pthread_t threads[OH_THREADS_MAX];
        unsigned int started = 0;
        for (unsigned int i = 0; i + 1 < nthreads; i++)
                if (pthread_create(&threads[started], NULL, worker, &l) == 0) {
                        started++;
                        atomic_fetch_add(&l.nworkers, 1);
                }

        worker(&l);
        for (unsigned int i = 0; i < started; i++)
                pthread_join(threads[i], NULL);

        r = atomic_load(&l.error);
        loop_done(&l);
        openhook_server_set_add_conn(s, saved_fn, saved_data);
        return r;
}

void openhook_server_stop(struct openhook_server *s)
{
        uint64_t one = 1;

        /* Only a flag and write(2): safe in a signal handler. */
        s->stop_requested = 1;
        (void) !write(s->stop_fd, &one, sizeof(one));
}
