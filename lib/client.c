/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The client calls.  They run inside the LD_PRELOAD shim, in whatever
 * thread the program happens to call open() from, so: no open(), no stdio,
 * no malloc, buffers on the stack, EINTR retried, no SIGPIPE. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "ahead.h"
#include "fdpass.h"
#include "openhook.h"
#include "spin.h"
#include "util.h"
#include "wire.h"

/* A request and its response must not interleave with another thread's on
 * the same socket, or one caller could receive another's fd.  Sockets are
 * few and calls short, so a fixed table of mutexes keyed by fd serializes
 * per socket without any allocation or registration. */
#define OH_STRIPES 64
static pthread_mutex_t stripes[OH_STRIPES] = {
        [0 ... OH_STRIPES - 1] = PTHREAD_MUTEX_INITIALIZER,
};

/* A child forked while another thread was inside a request inherits that
 * stripe locked, with no thread left to unlock it.  The child must not
 * use the parent's request anyway (DESIGN.md: it asks for its own
 * connection), so it starts with every stripe free. */
static void reset_stripes_in_child(void)
{
        for (size_t i = 0; i < OH_STRIPES; i++)
                pthread_mutex_init(&stripes[i], NULL);
}

__attribute__((constructor)) static void register_fork_handler(void)
{
        pthread_atfork(NULL, NULL, reset_stripes_in_child);
}

/* Reads OPENHOOK_SPIN_US before main(), while no thread can be changing
 * the environment. */
__attribute__((constructor)) static void read_spin_setting(void)
{
        (void) oh_spin_ns();
}

/* For a non-blocking socket the caller gave us: wait instead of failing. */
static int wait_for(int sock, short events)
{
        struct pollfd p = { .fd = sock, .events = events };

        for (;;) {
                int r = poll(&p, 1, -1);
                if (r >= 0)
                        return 0;
                if (errno != EINTR)
                        return oh_negerrno();
        }
}

static int send_all(int sock, const uint8_t *buf, size_t len)
{
        while (len > 0) {
                ssize_t n = oh_send(sock, buf, len, -1);
                if (n == -EAGAIN) {
                        int r = wait_for(sock, POLLOUT);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (n < 0)
                        return (int) n;
                buf += n;
                len -= (size_t) n;
        }
        return 0;
}

/* Shared by the process's threads: whether polling pays depends on the
 * machine and the broker more than on the thread. */
static struct oh_spin_state client_spin;

/* One oh_recv(), polled for without blocking while *SPIN_UNTIL (ns, 0:
 * not polling) lies ahead, then done as FLAGS say. */
static ssize_t recv_piece(int sock, void *buf, size_t len, int flags, struct oh_received *rc, uint64_t *spin_until)
{
        while (*spin_until) {
                if (oh_spin_now_ns() >= *spin_until) {
                        oh_spin_end(&client_spin, false);
                        *spin_until = 0;
                        break;
                }
                ssize_t n = oh_recv(sock, buf, len, flags | MSG_DONTWAIT, rc);
                if (n != -EAGAIN) {
                        oh_spin_end(&client_spin, true);
                        *spin_until = 0;
                        return n;
                }
                oh_spin_pause();
        }
        return oh_recv(sock, buf, len, flags, rc);
}

/* A piece shorter than asked for is normal on a stream but is a whole
 * record on a seqpacket socket: the broker's reply was short.  Asked only
 * then, so a reply arriving whole, the usual case, costs no syscall. */
static bool is_record_socket(int sock)
{
        int type;
        socklen_t len = sizeof(type);

        return getsockopt(sock, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type != SOCK_STREAM;
}

/* One reply as it arrived: its bytes and the fds that came with it. */
struct reply {
        uint8_t *buf;
        size_t cap, len;
        int fds[OH_FDPASS_MAX];         /* owned; the first is the file asked for */
        size_t nfds;
        bool ctrunc;                    /* the kernel dropped fds */
};

static void reply_close_fds(struct reply *rep, size_t from)
{
        for (size_t i = from; i < rep->nfds; i++)
                close(rep->fds[i]);
        rep->nfds = from < rep->nfds ? from : rep->nfds;
}

/* The size a reply says it has, once its first 4 bytes are in: 12 for
 * every command but OPEN_AHEAD, OPEN_DIR_AHEAD and OPEN_WALK_AHEAD.  Returns 0
 * for one that cannot be. */
static size_t reply_size(const struct reply *rep)
{
        uint32_t size;

        memcpy(&size, rep->buf, sizeof(size));
        return size >= OH_RESPONSE_SIZE && size <= rep->cap ? size : 0;
}

/* Reads exactly one reply into REP, whether it arrives as one datagram or
 * in pieces of a stream.  On error every fd that came is closed. */
static int recv_reply(int sock, struct reply *rep)
{
        size_t want = OH_RESPONSE_SIZE;
        bool broken = false;

        /* The broker usually answers within microseconds, sooner than a
         * sleeping CPU wakes up: poll for that long before blocking. */
        uint64_t spin = oh_spin_begin(&client_spin);
        uint64_t spin_until = spin ? oh_spin_now_ns() + spin : 0;

        while (rep->len < want) {
                struct oh_received rc;
                /* Every fd arrives close-on-exec, so none that is closed
                 * below is ever inherited by a concurrent exec.  Only one
                 * reply is ever outstanding, so a stream read cannot take
                 * bytes of the next. */
                ssize_t n = recv_piece(sock, rep->buf + rep->len, rep->cap - rep->len, MSG_CMSG_CLOEXEC, &rc,
                                       &spin_until);
                if (n == -EAGAIN) {
                        int r = wait_for(sock, POLLIN);
                        if (r < 0)
                                goto fail;
                        continue;
                }
                if (n < 0) {
                        reply_close_fds(rep, 0);
                        return (int) n;
                }
                for (size_t i = 0; i < rc.nfds; i++) {
                        if (rep->nfds < OH_FDPASS_MAX)
                                rep->fds[rep->nfds++] = rc.fds[i];
                        else
                                close(rc.fds[i]);
                }
                if (n == 0) {
                        reply_close_fds(rep, 0);
                        return -ECONNRESET;
                }
                rep->ctrunc |= rc.ctrunc;
                broken |= rc.trunc;
                rep->len += (size_t) n;
                if (rep->len >= sizeof(uint32_t) && !(want = reply_size(rep)))
                        goto fail;
                if (rep->len < want && is_record_socket(sock))
                        goto fail;
        }
        if (!broken)
                return 0;
fail:
        reply_close_fds(rep, 0);
        return -EPROTO;
}

/* Sends REQ and reads its reply into REP, as one exchange on SOCK. */
static int exchange(int sock, const struct oh_request *req, struct reply *rep)
{
        uint8_t buf[OH_REQUEST_MAX];
        int r;

        if (sock < 0)
                return -EBADF;
        int len = oh_wire_encode_request(req, buf, sizeof(buf));
        if (len < 0)
                return len;

        pthread_mutex_t *m = &stripes[sock % OH_STRIPES];
        pthread_mutex_lock(m);
        r = send_all(sock, buf, (size_t) len);
        if (r >= 0)
                r = recv_reply(sock, rep);
        pthread_mutex_unlock(m);
        return r;
}

/* Sends REQ and waits for its answer.  Returns the received fd when
 * WANT_FD and the broker succeeded, else 0 or -errno. */
static int transact(int sock, const struct oh_request *req, bool want_fd)
{
        uint8_t buf[OH_RESPONSE_SIZE];
        struct reply rep = { .buf = buf, .cap = sizeof(buf) };
        int32_t result = 0;

        int r = exchange(sock, req, &rep);
        if (r < 0)
                return r;
        /* Every fd but the first is surplus. */
        reply_close_fds(&rep, 1);
        _cleanup_close_ int fd = rep.nfds > 0 ? rep.fds[0] : -1;
        if (rep.ctrunc)
                return -EPROTO;
        r = oh_wire_decode_response(buf, rep.len, req->command, &result);
        if (r < 0)
                return r;
        if (result < 0)
                return result;
        if (!want_fd)
                return 0;
        if (fd < 0)
                return -EPROTO;
        return TAKE_FD(fd);
}

/* The fd came close-on-exec; only a caller who did not ask for that pays
 * the one fcntl to drop it. */
static int apply_cloexec(int fd, int flags)
{
        _cleanup_close_ int owned = fd;

        if (!(flags & O_CLOEXEC) && fcntl(fd, F_SETFD, 0) < 0)
                return oh_negerrno();
        return TAKE_FD(owned);
}

int oh_client_open_ahead(int sock, uint32_t command, const char *path, int flags, int ahead_flags, int dir_flags,
                         unsigned int max, struct oh_ahead_rx *rx)
{
        struct oh_request req = {
                .command = command,
                .flags = (uint32_t) flags,
                .mode = max,
                .ahead_flags = (uint32_t) ahead_flags,
                .dir_flags = (uint32_t) dir_flags,
                .path = path,
        };
        struct reply rep = { .buf = rx->reply, .cap = sizeof(rx->reply) };
        int32_t result = 0;

        rx->batch.count = 0;
        int r = exchange(sock, &req, &rep);
        if (r < 0)
                return r;
        r = oh_wire_decode_ahead(rx->reply, rep.len, command, &result, &rx->batch);
        if (r >= 0 && result < 0)
                r = result;
        else if (r >= 0 && rep.nfds == 0)
                r = -EPROTO;
        if (r < 0) {
                reply_close_fds(&rep, 0);
                rx->batch.count = 0;
                return r;
        }
        /* Fds lost on the way (a full fd table) leave no way to tell which
         * arrived: the file asked for is first, the others are dropped. */
        if (rep.ctrunc || rep.nfds != 1 + rx->batch.count) {
                reply_close_fds(&rep, 1);
                rx->batch.count = 0;
        }
        memcpy(rx->fds, rep.fds + 1, sizeof(int) * rx->batch.count);
        return apply_cloexec(rep.fds[0], flags);
}

int openhook_open(int sock, const char *path, int flags, mode_t mode)
{
        struct oh_request req = {
                .command = OPENHOOK_CMD_OPEN,
                .flags = (uint32_t) flags,
                .mode = (uint32_t) mode,
                .path = path,
        };

        int fd = transact(sock, &req, true);
        if (fd < 0)
                return fd;
        return apply_cloexec(fd, flags);
}

int openhook_mkdir(int sock, const char *path, mode_t mode)
{
        struct oh_request req = { .command = OPENHOOK_CMD_MKDIR, .mode = (uint32_t) mode, .path = path };
        return transact(sock, &req, false);
}

int openhook_unlink(int sock, const char *path)
{
        struct oh_request req = { .command = OPENHOOK_CMD_UNLINK, .path = path };
        return transact(sock, &req, false);
}

int openhook_rmdir(int sock, const char *path)
{
        struct oh_request req = { .command = OPENHOOK_CMD_RMDIR, .path = path };
        return transact(sock, &req, false);
}

int openhook_rename(int sock, const char *oldpath, const char *newpath, unsigned int flags)
{
        struct oh_request req = { .command = OPENHOOK_CMD_RENAME, .flags = flags, .path = oldpath, .path2 = newpath };
        return transact(sock, &req, false);
}

int openhook_symlink(int sock, const char *target, const char *linkpath)
{
        struct oh_request req = { .command = OPENHOOK_CMD_SYMLINK, .path = target, .path2 = linkpath };
        return transact(sock, &req, false);
}

int openhook_link(int sock, const char *oldpath, const char *newpath)
{
        struct oh_request req = { .command = OPENHOOK_CMD_LINK, .path = oldpath, .path2 = newpath };
        return transact(sock, &req, false);
}

int openhook_truncate(int sock, const char *path, uint64_t length)
{
        struct oh_request req = { .command = OPENHOOK_CMD_TRUNCATE, .length = length, .path = path };
        return transact(sock, &req, false);
}

int openhook_chmod(int sock, const char *path, mode_t mode, int flags)
{
        struct oh_request req = { .command = OPENHOOK_CMD_CHMOD, .mode = (uint32_t) mode, .flags = (uint32_t) flags, .path = path };
        return transact(sock, &req, false);
}

/* NULL means "both now", which the wire spells out. */
int openhook_utimens(int sock, const char *path, const struct timespec times[2], int flags)
{
        static const struct timespec now[2] = { { .tv_nsec = UTIME_NOW }, { .tv_nsec = UTIME_NOW } };
        const struct timespec *t = times ? times : now;
        struct oh_request req = {
                .command = OPENHOOK_CMD_UTIMENS,
                .flags = (uint32_t) flags,
                .times = { (uint64_t) (int64_t) t[0].tv_sec, (uint64_t) t[0].tv_nsec,
                           (uint64_t) (int64_t) t[1].tv_sec, (uint64_t) t[1].tv_nsec },
                .path = path,
        };
        return transact(sock, &req, false);
}

int openhook_access(int sock, const char *path, int mode, int flags)
{
        struct oh_request req = { .command = OPENHOOK_CMD_ACCESS, .mode = (uint32_t) mode, .flags = (uint32_t) flags, .path = path };
        return transact(sock, &req, false);
}

int openhook_chown(int sock, const char *path, uid_t owner, gid_t group, int flags)
{
        struct oh_request req = {
                .command = OPENHOOK_CMD_CHOWN,
                .uid = (uint32_t) owner,
                .gid = (uint32_t) group,
                .flags = (uint32_t) flags,
                .path = path,
        };
        return transact(sock, &req, false);
}

int openhook_new_connection(int sock)
{
        struct oh_request req = { .command = OPENHOOK_CMD_CONNECT };
        return transact(sock, &req, true);
}

static int connect_as(const struct sockaddr_un *sa, int type)
{
        _cleanup_close_ int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return oh_negerrno();
        /* Unlike TCP, a Unix-socket connect() that a signal interrupts
         * (while the listener's backlog is full) is abandoned and the
         * socket left unconnected, so it is simply tried again. */
        while (connect(fd, (const struct sockaddr *) sa, sizeof(*sa)) < 0)
                if (errno != EINTR)
                        return oh_negerrno();
        return TAKE_FD(fd);
}

int openhook_connect(const char *socket_path)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        if (!socket_path || !*socket_path)
                return -EINVAL;
        size_t n = strlen(socket_path);
        if (n >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, socket_path, n);

        /* The broker may listen with either type; SEQPACKET first because
         * its message boundaries make CONNECT replies independent. */
        int fd = connect_as(&sa, SOCK_SEQPACKET);
        if (fd == -EPROTOTYPE)
                fd = connect_as(&sa, SOCK_STREAM);
        return fd;
}
