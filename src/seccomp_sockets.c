/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* connect(2), and sendto(2), sendmsg(2) and sendmmsg(2) with an address,
 * for the confined program.
 *
 * A UNIX socket with a path is a file: connecting to it needs w there,
 * as the kernel asks write permission on the socket file.  The address is
 * in memory the program can rewrite after the supervisor has read it, and
 * the fd number could be pointed at another socket in between, so the
 * kernel is never let continue such a call: the supervisor copies what it
 * sends once, takes a duplicate of the program's socket (the same open
 * file), resolves the path race-free to the socket's inode (an O_PATH fd,
 * reached as /proc/self/fd/N) and makes the call itself.  That is done in
 * a worker thread, as a connect or a send may block for as long as the
 * peer likes; the program's thread waits in the kernel meanwhile, as it
 * would in the call.
 *
 * An abstract UNIX address is connected or sent to by the connector, a
 * process in the program's Landlock domain (abstract_connector.h): the
 * supervisor is not, and would reach past the scope Landlock keeps the
 * program in.  Without one (no Landlock ABI 6) abstract addresses are
 * refused.  Other families are connected as asked, unless --no-network. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <stdbool.h>
#include <unistd.h>

#include "abstract_connector.h"
#include "cmsg.h"
#include "seccomp_internal.h"
#include "seccomp_notify.h"
#include "seccomp_target.h"
#include "util.h"

/* Bytes copied per call (for sendmmsg, for all its messages): a stream
 * send is cut short there, as a send may be, a datagram that large is
 * refused (EMSGSIZE), as the socket's buffer would refuse it.  It bounds
 * what a program can make the broker hold: this per worker thread. */
#define SEND_MAX (1u << 20)
#define MMSG_MAX 64             /* messages per sendmmsg: fewer may be sent, as the call allows */
#define IOV_MAX_ 1024           /* UIO_MAXIOV */
#define CONTROL_MAX 4096
#define WORKERS_MAX 64          /* beyond: the supervisor's own thread makes the call */

enum sock_kind { SOCK_CONNECT, SOCK_SENDTO, SOCK_SENDMSG, SOCK_SENDMMSG };

struct sock_msg {
        struct sockaddr_storage addr;
        socklen_t addrlen;
        int name_fd;                    /* O_PATH fd of a UNIX socket, or -1 */
        uint8_t *data;
        size_t len;
        size_t done;                    /* bytes sent so far */
        char abstract[sizeof(struct sockaddr_un) + 1];  /* "@name": through the connector */
        uint8_t control[CONTROL_MAX];
        size_t controllen;
        int fds[64];                    /* duplicates of the SCM_RIGHTS fds */
        size_t nfds;
        uint64_t len_addr;              /* sendmmsg: the program's msg_len */
};

/* All a job needs, apart from the supervisor: a worker thread may be
 * blocked in its call after the supervisor has returned. */
struct sock_job {
        int listener;                   /* to answer on; a duplicate once a worker owns the job */
        int connector;                  /* abstract_connector.h, or -1; idem */
        bool owns_fds;
        openhook_log_fn log;
        void *log_data;
        atomic_uint *workers;
        uint32_t command;               /* for the log */
        uint64_t id;
        pid_t pid;
        enum sock_kind kind;
        int sock;
        int type;                       /* SO_TYPE */
        bool nonblocking;               /* O_NONBLOCK or MSG_DONTWAIT: never waits */
        int flags;
        size_t sent;                    /* sendmmsg: messages sent */
        size_t n;
        struct sock_msg msgs[];
};

static void job_free(void *p)
{
        struct sock_job *j = p;

        if (!j)
                return;
        for (size_t i = 0; i < j->n; i++) {
                struct sock_msg *m = &j->msgs[i];

                if (m->name_fd >= 0)
                        close(m->name_fd);
                for (size_t k = 0; k < m->nfds; k++)
                        close(m->fds[k]);
                free(m->data);
        }
        if (j->sock >= 0)
                close(j->sock);
        if (j->owns_fds) {
                close(j->listener);
                if (j->connector >= 0)
                        close(j->connector);
        }
        free(j);
}

static struct sock_job *job_new(struct sc_call *c, enum sock_kind kind, size_t n)
{
        struct sock_job *j = calloc(1, sizeof *j + n * sizeof j->msgs[0]);

        if (!j)
                return NULL;
        *j = (struct sock_job) {
                .listener = c->sv->listener, .connector = c->sv->connector,
                .log = c->sv->log, .log_data = c->sv->userdata, .workers = c->sv->workers,
                .id = c->req->id, .pid = (pid_t)c->req->pid, .kind = kind, .sock = -1, .n = n,
        };
        for (size_t i = 0; i < n; i++)
                j->msgs[i].name_fd = -1;
        c->op = j;
        c->op_free = job_free;
        return j;
}

/* ---- Reading the call ---------------------------------------------------- */

static int read_address(struct sock_job *j, struct sock_msg *m, uint64_t addr, uint64_t len)
{
        if (addr == 0 || len == 0)
                return 0;
        if (len > sizeof m->addr)
                return -EINVAL;
        m->addrlen = (socklen_t)len;
        return oh_target_read(j->pid, addr, &m->addr, len);
}

/* Copies the iovecs' bytes into one buffer: at most SEND_MAX, which a
 * stream socket sends in part and a message-based one refuses. */
static int read_data(struct sock_job *j, struct sock_msg *m, const struct iovec *iov, size_t n)
{
        size_t total = 0;

        for (size_t i = 0; i < n; i++) {
                if (iov[i].iov_len > SEND_MAX - total) {
                        if (j->type != SOCK_STREAM)
                                return -EMSGSIZE;
                        total = SEND_MAX;
                        break;
                }
                total += iov[i].iov_len;
        }
        m->data = malloc(total ? total : 1);
        if (!m->data)
                return -ENOMEM;
        for (size_t i = 0, done = 0; i < n && done < total; i++) {
                size_t part = iov[i].iov_len < total - done ? iov[i].iov_len : total - done;
                int r = oh_target_read(j->pid, (uint64_t)(uintptr_t)iov[i].iov_base, m->data + done, part);

                if (r < 0)
                        return r;
                done += part;
        }
        m->len = total;
        return 0;
}

static int dup_target_fd(int n, void *userdata)
{
        const struct sock_job *j = userdata;
        int fd = oh_target_dup_fd(j->pid, n);

        return fd == -ENOENT ? -EBADF : fd;
}

/* SCM_RIGHTS carries fd numbers of the program: they become duplicates
 * of ours.  SCM_CREDENTIALS must name the sender, which is now the
 * supervisor. */
static int translate_control(struct sock_job *j, struct sock_msg *m)
{
        struct oh_cmsg_rewrite rw = {
                .dup_fd = dup_target_fd,
                .userdata = j,
                .self = getpid(),
                .fds = m->fds,
                .max_fds = ELEMENTSOF(m->fds),
        };
        int r = oh_cmsg_rewrite(m->control, m->controllen, &rw);

        m->nfds = rw.nfds;
        return r;
}

static int read_msghdr(struct sock_job *j, struct sock_msg *m, uint64_t addr)
{
        struct msghdr h;
        struct iovec *iov = NULL;
        int r = oh_target_read(j->pid, addr, &h, sizeof h);

        if (r < 0)
                return r;
        if (h.msg_iovlen > IOV_MAX_)
                return -EMSGSIZE;
        if (h.msg_controllen > CONTROL_MAX)
                return -ENOBUFS;
        r = read_address(j, m, (uint64_t)(uintptr_t)h.msg_name, h.msg_namelen);
        if (r >= 0 && h.msg_controllen) {
                m->controllen = h.msg_controllen;
                r = oh_target_read(j->pid, (uint64_t)(uintptr_t)h.msg_control, m->control, m->controllen);
                if (r >= 0)
                        r = translate_control(j, m);
        }
        if (r >= 0 && h.msg_iovlen && !(iov = calloc(h.msg_iovlen, sizeof *iov)))
                r = -ENOMEM;
        if (r >= 0 && iov)
                r = oh_target_read(j->pid, (uint64_t)(uintptr_t)h.msg_iov, iov, h.msg_iovlen * sizeof *iov);
        if (r >= 0)
                r = read_data(j, m, iov, h.msg_iovlen);
        free(iov);
        return r;
}

static int read_call(struct sc_call *c, struct sock_job *j)
{
        uint64_t vec = sc_arg(c, 1);

        switch (j->kind) {
        case SOCK_CONNECT:
                return read_address(j, &j->msgs[0], sc_arg(c, 1), (uint32_t)sc_arg(c, 2));
        case SOCK_SENDTO: {
                struct iovec iov = { (void *)(uintptr_t)sc_arg(c, 1), (size_t)sc_arg(c, 2) };
                int r = read_address(j, &j->msgs[0], sc_arg(c, 4), (uint32_t)sc_arg(c, 5));

                return r < 0 ? r : read_data(j, &j->msgs[0], &iov, 1);
        }
        case SOCK_SENDMSG:
                return read_msghdr(j, &j->msgs[0], vec);
        case SOCK_SENDMMSG: {
                size_t total = 0;

                /* Fewer messages than asked once SEND_MAX is reached: the
                 * call's result says how many were sent. */
                for (size_t i = 0; i < j->n; i++) {
                        uint64_t at = vec + i * sizeof(struct mmsghdr);
                        int r = read_msghdr(j, &j->msgs[i], at);

                        if (r < 0)
                                return r;
                        j->msgs[i].len_addr = at + offsetof(struct mmsghdr, msg_len);
                        total += j->msgs[i].len;
                        if (total >= SEND_MAX && i + 1 < j->n)
                                j->n = i + 1;
                }
                return 0;
        }
        }
        return -EINVAL;
}

static enum sock_kind kind_of(const struct sc_call *c)
{
        if (c->sys->act == sc_act_connect)
                return SOCK_CONNECT;
        if (c->sys->act == sc_act_sendto)
                return SOCK_SENDTO;
        return c->sys->act == sc_act_sendmsg ? SOCK_SENDMSG : SOCK_SENDMMSG;
}

int sc_fetch_socket(struct sc_call *c)
{
        enum sock_kind kind = kind_of(c);
        size_t n = 1;
        socklen_t len = sizeof(int);
        struct sock_job *j;
        int r;

        if (kind == SOCK_SENDMMSG) {
                n = (uint32_t)sc_arg(c, 2);
                if (n == 0)
                        return 0;       /* the kernel answers 0 too */
                if (n > MMSG_MAX)
                        n = MMSG_MAX;
        }
        j = job_new(c, kind, n);
        if (!j)
                return -ENOMEM;
        j->flags = c->sys->flags_arg == ARG_NONE ? 0 : (int)sc_arg(c, c->sys->flags_arg);
        r = sc_fetch_fd(c);
        if (r < 0)
                return r;
        j->sock = TAKE_FD(c->fd);
        if (getsockopt(j->sock, SOL_SOCKET, SO_TYPE, &j->type, &len) < 0)
                return errno == ENOTSOCK ? -ENOTSOCK : oh_negerrno();
        int fl = fcntl(j->sock, F_GETFL);
        j->nonblocking = (fl >= 0 && (fl & O_NONBLOCK)) || (j->flags & MSG_DONTWAIT);
        return read_call(c, j);
}

/* ---- Deciding --------------------------------------------------------- */

/* A UNIX address's path, as the kernel reads sun_path: up to the first
 * NUL or the address's end. */
static void unix_path(const struct sock_msg *m, char *out, size_t size)
{
        const struct sockaddr_un *un = (const struct sockaddr_un *)&m->addr;
        size_t n = m->addrlen - offsetof(struct sockaddr_un, sun_path);
        const char *nul = memchr(un->sun_path, '\0', n);

        if (nul)
                n = (size_t)(nul - un->sun_path);
        if (n >= size)
                n = size - 1;
        memcpy(out, un->sun_path, n);
        out[n] = '\0';
}

/* A socket that does not exist is what most refusals meet (glibc tries
 * nscd's at every user lookup, syslog() tries /dev/log): answered ENOENT,
 * as without openhook, and logged without a denial line.  The program may
 * stat(2) any path anyway (doc/DESIGN.md, threat model). */
static int refused_missing(const char *path, int r, struct oh_verdict *v)
{
        struct stat st;

        if (r != -EACCES || !v->denied || stat(path, &st) == 0 || (errno != ENOENT && errno != ENOTDIR))
                return r;
        v->denied = 0;
        return -ENOENT;
}

static int decide_unix(struct sc_call *c, struct sock_msg *m, uint32_t command)
{
        struct sockaddr_un *un = (struct sockaddr_un *)&m->addr;
        struct oh_verdict v = {};
        char raw[sizeof un->sun_path + 1];
        int r;

        if (m->addrlen <= offsetof(struct sockaddr_un, sun_path))
                return 0;               /* unnamed: the kernel answers */
        if (un->sun_path[0] == '\0') {
                snprintf(m->abstract, sizeof m->abstract, "@%.*s",
                         (int)(m->addrlen - offsetof(struct sockaddr_un, sun_path) - 1), un->sun_path + 1);
                if (c->sv->connector >= 0)
                        return 0;       /* the connector meets Landlock's scope */
                snprintf(c->path[0], sizeof c->path[0], "%s", m->abstract);
                return sc_refuse(c, command, -EPERM,
                                 "no option allows it: abstract sockets need Landlock ABI 6 to be scoped");
        }
        unix_path(m, raw, sizeof raw);
        r = oh_target_abspath((pid_t)c->req->pid, AT_FDCWD, raw, c->path[0], sizeof c->path[0]);
        if (r < 0)
                return r;
        r = oh_do_socket_path(c->sv->policy, c->path[0], &v);
        r = refused_missing(c->path[0], r, &v);
        sc_log(c, command, r, &v);
        if (r < 0)
                return r;
        m->name_fd = r;
        memset(un->sun_path, 0, sizeof un->sun_path);
        snprintf(un->sun_path, sizeof un->sun_path, "/proc/self/fd/%d", r);
        m->addrlen = (socklen_t)SUN_LEN(un);
        return 0;
}

static int decide(struct sc_call *c, struct sock_msg *m, uint32_t command)
{
        int family = m->addrlen >= sizeof(sa_family_t) ? m->addr.ss_family : AF_UNSPEC;

        if (m->addrlen == 0 || family == AF_UNSPEC)
                return 0;
        if (family == AF_UNIX)
                return decide_unix(c, m, command);
        if (!(c->sv->flags & OH_SECCOMP_NO_NETWORK))
                return 0;
        snprintf(c->path[0], sizeof c->path[0], "family %d", family);
        return sc_refuse(c, command, -EACCES, "--no-network allows AF_UNIX sockets only");
}

/* ---- Acting ----------------------------------------------------------- */

/* Sends what is left of M (a stream socket may take part of it), with
 * EXTRA flags.  The control data goes with the first bytes only. */
static ssize_t send_rest(const struct sock_job *j, struct sock_msg *m, int extra)
{
        struct iovec iov = { m->data + m->done, m->len - m->done };
        struct msghdr h = {
                .msg_name = m->addrlen ? (void *)&m->addr : NULL,
                .msg_namelen = m->addrlen,
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = m->controllen && !m->done ? (void *)m->control : NULL,
                .msg_controllen = m->done ? 0 : m->controllen,
        };
        ssize_t n = sendmsg(j->sock, &h, j->flags | extra | MSG_NOSIGNAL);

        if (n < 0)
                return oh_negerrno();
        m->done += (size_t)n;
        return n;
}

/* An abstract address goes through the connector (abstract_connector.h),
 * from a worker thread: it serves one request at a time.  Its refusal is
 * Landlock's scope, reported as the supervisor's own are. */
static int64_t through_connector(const struct sock_job *j, struct sock_msg *m)
{
        int64_t r;

        if (m->controllen)
                return -EOPNOTSUPP;     /* fds and credentials are not relayed */
        r = oh_connector_call(j->connector, j->sock, (const struct sockaddr *)&m->addr, m->addrlen,
                              m->data, m->len, j->flags, j->kind != SOCK_CONNECT);
        if (r == -ESRCH) {
                /* The connector is not there to ask (run said why). */
                r = -EPERM;
                sc_log_denied(j->log, j->log_data, j->pid, j->command, m->abstract, r,
                              "the abstract connector is not answering");
        } else if (r == -EPERM)
                sc_log_denied(j->log, j->log_data, j->pid, j->command, m->abstract, r,
                              "no option allows it: the abstract socket is outside the sandbox");
        if (r > 0)
                m->done = (size_t)r;
        return r;
}

/* One message, whole as a blocking send would have it; with NOW, only
 * as far as it goes without blocking (-EAGAIN: come back later, from
 * where it stopped). */
static int64_t send_msg(const struct sock_job *j, struct sock_msg *m, bool now)
{
        if (m->abstract[0])
                return now ? -EAGAIN : through_connector(j, m);
        for (;;) {
                ssize_t n = send_rest(j, m, now ? MSG_DONTWAIT : 0);

                if (n < 0 && !(now && n == -EAGAIN && !j->nonblocking))
                        return m->done ? (int64_t)m->done : n;
                if (n < 0)
                        return -EAGAIN;
                if (m->done == m->len || j->type != SOCK_STREAM || j->nonblocking)
                        return (int64_t)m->done;
        }
}

/* The call's result, or with NOW -EAGAIN when it would block: most sends
 * go through at once, and a worker thread costs more than the call. */
static int64_t perform(struct sock_job *j, bool now)
{
        if (j->kind == SOCK_CONNECT) {
                struct sock_msg *m = &j->msgs[0];

                if (m->abstract[0])
                        return now ? -EAGAIN : through_connector(j, m);
                if (now && !j->nonblocking)
                        return -EAGAIN;
                return connect(j->sock, (const struct sockaddr *)&m->addr, m->addrlen) < 0 ? oh_negerrno() : 0;
        }
        if (j->kind != SOCK_SENDMMSG)
                return send_msg(j, &j->msgs[0], now);
        for (; j->sent < j->n; j->sent++) {
                struct sock_msg *m = &j->msgs[j->sent];
                int64_t n = send_msg(j, m, now && j->sent == 0);
                unsigned int len = (unsigned int)m->done;

                if (n == -EAGAIN && now && j->sent == 0)
                        return -EAGAIN;
                if (n < 0)
                        return j->sent ? (int64_t)j->sent : n;
                if (oh_target_write(j->pid, m->len_addr, &len, sizeof len) < 0)
                        return j->sent ? (int64_t)j->sent : -EFAULT;
        }
        return (int64_t)j->sent;
}

static void *worker(void *p)
{
        struct sock_job *j = p;
        atomic_uint *workers = j->workers;

        sc_respond(j->listener, j->id, perform(j, false));
        job_free(j);
        atomic_fetch_sub(workers, 1);
        return NULL;
}

/* The job's own copies of the fds it answers and relays on. */
static int own_fds(struct sock_job *j)
{
        int listener = fcntl(j->listener, F_DUPFD_CLOEXEC, 3);
        int connector = j->connector >= 0 ? fcntl(j->connector, F_DUPFD_CLOEXEC, 3) : -1;

        if (listener < 0 || (j->connector >= 0 && connector < 0)) {
                int r = oh_negerrno();

                if (listener >= 0)
                        close(listener);
                return r;
        }
        j->listener = listener;
        j->connector = connector;
        j->owns_fds = true;
        return 0;
}

/* Hands the job to a thread of its own, which answers; 0 if it could. */
static int start_worker(struct sc_call *c)
{
        struct sc_supervisor *sv = c->sv;
        pthread_attr_t attr;
        pthread_t thread;
        int r;

        if (atomic_fetch_add(sv->workers, 1) >= WORKERS_MAX) {
                atomic_fetch_sub(sv->workers, 1);
                return -EAGAIN;
        }
        r = own_fds(c->op);
        if (r < 0) {
                atomic_fetch_sub(sv->workers, 1);
                return r;
        }
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 64 * 1024);
        r = pthread_create(&thread, &attr, worker, c->op);
        pthread_attr_destroy(&attr);
        if (r != 0) {
                atomic_fetch_sub(sv->workers, 1);
                return -r;
        }
        c->op = NULL;
        c->answered = true;
        return 0;
}

static int act(struct sc_call *c, uint32_t command)
{
        struct sock_job *j = c->op;
        int64_t r;

        if (!j)
                return 0;               /* sendmmsg of no message */
        j->command = command;
        for (size_t i = 0; i < j->n; i++) {
                int k = decide(c, &j->msgs[i], command);

                if (k < 0)
                        return k;
        }
        r = perform(j, true);
        if (r == -EAGAIN && start_worker(c) == 0)
                return 0;
        /* At once, or no thread to spare: answered here, blocking the
         * supervisor for as long as the call blocks. */
        if (r == -EAGAIN)
                r = perform(j, false);
        sc_respond(c->sv->listener, c->req->id, r);
        c->answered = true;
        return 0;
}

int sc_act_connect(struct sc_call *c)
{
        return act(c, OPENHOOK_DECISION_SOCKET_CONNECT);
}

int sc_act_sendto(struct sc_call *c)
{
        return act(c, OPENHOOK_DECISION_SOCKET_SEND);
}

int sc_act_sendmsg(struct sc_call *c)
{
        return act(c, OPENHOOK_DECISION_SOCKET_SEND);
}

int sc_act_sendmmsg(struct sc_call *c)
{
        return act(c, OPENHOOK_DECISION_SOCKET_SEND);
}
