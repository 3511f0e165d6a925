/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The per-process private connection to the broker.
 *
 * The inherited socket (OPENHOOK_FD) is shared by every process of the
 * confined tree, so it is used only to ask for a private connection
 * (doc/DESIGN.md, "Connections and processes").  A forked child drops the
 * copy of its parent's private socket and asks for its own; threads share
 * it (the client library serializes requests per socket).  A process that
 * can have no connection (it closed the inherited socket, or CONNECT
 * fails) makes its calls through libc instead: Landlock or the seccomp
 * supervisor then decides, as for a program without the shim. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "openhook.h"
#include "shim.h"
#include "util.h"

/* The private socket is moved up here so it does not take the low numbers a
 * program expects open() to return (e.g. after closing stdin). */
#define SHIM_FD_FLOOR 200

static struct {
        int inherited;          /* OPENHOOK_FD, or -1: pass everything through */
        int priv;               /* this process's private connection, or -1 */
        pid_t pid;              /* the process the fields below belong to */
        bool revoked;           /* the program closed the inherited socket */
        bool shared;            /* the broker has no CONNECT: use the inherited one */
} state = { .inherited = -1, .priv = -1 };

static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static int parse_fd(const char *s)
{
        char *end;
        long v;

        if (!s || !*s)
                return -EINVAL;
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || *end || v < 0 || v > INT_MAX)
                return -EINVAL;
        return (int) v;
}

static bool is_socket(int fd)
{
        struct stat st;

        return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* After fork() the child holds a copy of its parent's private socket:
 * talking on it would interleave with the parent, so it is dropped. */
static void atfork_child(void)
{
        if (state.priv >= 0)
                close(state.priv);
        state.priv = -1;
        state.pid = getpid();
        pthread_mutex_init(&state_lock, NULL);
}

static void init(void)
{
        int saved = errno;
        int fd = parse_fd(getenv("OPENHOOK_FD"));

        shim_direct_init(getenv("OPENHOOK_DIRECT"));
        state.pid = getpid();
        if (fd >= 0 && is_socket(fd)) {
                state.inherited = fd;
                pthread_atfork(NULL, NULL, atfork_child);
        }
        errno = saved;
}

/* Runs before main() so a program that edits its environment early cannot
 * change what the shim saw. */
__attribute__((constructor)) static void shim_init(void)
{
        pthread_once(&init_once, init);
}

bool shim_enabled(void)
{
        pthread_once(&init_once, init);
        return state.inherited >= 0;
}

static int move_up(int fd)
{
        int high = fcntl(fd, F_DUPFD_CLOEXEC, SHIM_FD_FLOOR);

        if (high < 0)
                return fd;
        close(fd);
        return high;
}

int shim_broker_lost(int r)
{
        return r == -EPIPE || r == -ECONNRESET || r == -ECONNREFUSED || r == -ENOTCONN ? -EIO : r;
}

static int new_connection(void)
{
        int fd;

        if (state.revoked || !is_socket(state.inherited))
                return -EACCES;
        fd = shim_broker_lost(openhook_new_connection(state.inherited));
        if (fd == -ENOSYS) {
                shim_warn_unsupported("CONNECT (private connections; sharing the inherited socket)");
                return -ENOSYS;
        }
        if (fd < 0)
                return fd == -EBADF || fd == -ENOTSOCK ? -EACCES : fd;
        return move_up(fd);
}

/* A vfork child (or a raw clone) shares our memory, which is not its to
 * change. */
static bool foreign_process(void)
{
        return getpid() != __atomic_load_n(&state.pid, __ATOMIC_RELAXED);
}

/* This process's connection, made on first use: its private socket, the
 * inherited one when the broker has no CONNECT, or -errno. */
static int process_conn(void)
{
        int fd = __atomic_load_n(&state.priv, __ATOMIC_ACQUIRE);

        if (fd >= 0)
                return fd;

        pthread_mutex_lock(&state_lock);
        if (state.priv < 0 && !state.shared) {
                fd = new_connection();
                if (fd >= 0)
                        __atomic_store_n(&state.priv, fd, __ATOMIC_RELEASE);
                else if (fd == -ENOSYS)
                        state.shared = true;
        }
        if (state.priv >= 0)
                fd = state.priv;
        else if (state.shared && !state.revoked)
                fd = state.inherited;
        else
                fd = state.revoked ? -EACCES : fd;
        pthread_mutex_unlock(&state_lock);
        return fd;
}

/* Requests this thread has under way.  open() is async-signal-safe, so a
 * signal handler may call it while its thread is inside a request: it
 * would wait forever for the socket lock (or the state lock) its own
 * thread holds, and share the socket mid-exchange.  Such a nested call
 * goes through libc instead (Landlock or the seccomp supervisor decides).
 * initial-exec: no lazy allocation, which would not be signal-safe. */
static __thread bool request_under_way __attribute__((tls_model("initial-exec")));

/* Claims this thread's request slot; false if a request it interrupted
 * holds it. */
static bool request_begin(void)
{
        if (request_under_way)
                return false;
        request_under_way = true;
        /* Set before any lock is taken, as a handler would see it. */
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        return true;
}

static void request_end(void)
{
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        request_under_way = false;
}

bool shim_conn_available(void)
{
        bool available;

        if (foreign_process())
                return !__atomic_load_n(&state.revoked, __ATOMIC_ACQUIRE) && is_socket(state.inherited);
        if (!request_begin())
                return false;
        available = process_conn() >= 0;
        request_end();
        return available;
}

static int conn_get(struct shim_conn *c)
{
        if (foreign_process()) {
                c->fd = new_connection();
                c->oneshot = c->fd >= 0;
                if (c->fd == -ENOSYS && !state.revoked)
                        c->fd = state.inherited;
                return c->fd < 0 ? c->fd : 0;
        }
        c->fd = process_conn();
        return c->fd < 0 ? c->fd : 0;
}

/* Ends with shim_conn_put() when it succeeds. */
int shim_conn_get(struct shim_conn *c)
{
        int r;

        c->fd = -1;
        c->oneshot = false;
        if (!request_begin())
                return -EDEADLK;
        r = conn_get(c);
        if (r < 0)
                request_end();
        return r;
}

void shim_conn_put(struct shim_conn *c)
{
        if (c->oneshot && c->fd >= 0)
                close(c->fd);
        c->fd = -1;
        request_end();
}

/* Lock-free: the client library closes fds of its own while the state
 * lock is held, and those closes come back here through our close(). */
void shim_fds_closing(unsigned int lo, unsigned int hi)
{
        int fd;
        bool priv_closing, inherited_closing;

        if (!shim_enabled())
                return;
        shim_ahead_forget(lo, hi);
        shim_dir_forget(lo, hi);
        fd = __atomic_load_n(&state.priv, __ATOMIC_ACQUIRE);
        priv_closing = fd >= 0 && (unsigned int) fd >= lo && (unsigned int) fd <= hi;
        inherited_closing = (unsigned int) state.inherited >= lo && (unsigned int) state.inherited <= hi;
        /* Nearly every close is of one of the program's own files: only one
         * that takes our sockets needs getpid(), a syscall, to tell whether
         * the state is this process's to change (not a vfork child's). */
        if ((!priv_closing && !inherited_closing) || getpid() != state.pid)
                return;
        if (priv_closing)
                __atomic_compare_exchange_n(&state.priv, &fd, -1, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
        if (inherited_closing)
                __atomic_store_n(&state.revoked, true, __ATOMIC_RELEASE);
}

void shim_warn_unsupported(const char *what)
{
        /* WHAT is always a string literal, so its address names it; a
         * handful of operations exist. */
        static const char *warned[16];
        char msg[256];
        int n, saved = errno;
        size_t i;

        for (i = 0; i < ELEMENTSOF(warned); i++) {
                const char *seen = NULL;

                if (__atomic_compare_exchange_n(&warned[i], &seen, what, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
                        break;          /* first time: claimed a slot */
                if (seen == what)
                        return;
        }
        n = snprintf(msg, sizeof(msg),
                     "openhook: the broker does not implement %s; it speaks only the seed protocol\n", what);
        if (n > 0)
                (void) !write(STDERR_FILENO, msg, (size_t) n < sizeof(msg) ? (size_t) n : sizeof(msg) - 1);
        errno = saved;
}
