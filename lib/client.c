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

/* Reads exactly one response, whether it arrives as one datagram or in
 * pieces of a stream.  Returns the first fd that came with it (or -1) in
 * *RET_FD; every other fd is closed. */
static int recv_response(int sock, uint32_t command, int32_t *result, int *ret_fd)
{
        uint8_t resp[OH_RESPONSE_SIZE];
        _cleanup_close_ int fd = -1;
        bool broken = false;
        size_t got = 0;

        /* The broker usually answers within microseconds, sooner than a
         * sleeping CPU wakes up: poll for that long before blocking. */
        uint64_t spin = oh_spin_begin(&client_spin);
        uint64_t spin_until = spin ? oh_spin_now_ns() + spin : 0;

        while (got < sizeof(resp)) {
                struct oh_received rc;
                /* Every fd arrives close-on-exec, so none that is closed
                 * below is ever inherited by a concurrent exec. */
                ssize_t n = recv_piece(sock, resp + got, sizeof(resp) - got, MSG_CMSG_CLOEXEC, &rc, &spin_until);
                if (n == -EAGAIN) {
                        int r = wait_for(sock, POLLIN);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (n < 0)
                        return (int) n;
                for (size_t i = 0; i < rc.nfds; i++) {
                        if (fd < 0)
                                fd = rc.fds[i];
                        else
                                close(rc.fds[i]);
                }
                if (n == 0)
                        return -ECONNRESET;
                broken |= rc.ctrunc || rc.trunc;
                got += (size_t) n;
                if (got < sizeof(resp) && is_record_socket(sock))
                        return -EPROTO;
        }

        if (broken)
                return -EPROTO;
        int r = oh_wire_decode_response(resp, sizeof(resp), command, result);
        if (r < 0)
                return r;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* Sends REQ and waits for its answer.  Returns the received fd when
 * WANT_FD and the broker succeeded, else 0 or -errno. */
static int transact(int sock, const struct oh_request *req, bool want_fd)
{
        uint8_t buf[OH_REQUEST_MAX];
        _cleanup_close_ int fd = -1;
        int32_t result = 0;
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
                r = recv_response(sock, req->command, &result, &fd);
        pthread_mutex_unlock(m);

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

int openhook_open(int sock, const char *path, int flags, mode_t mode)
{
        struct oh_request req = {
                .command = OPENHOOK_CMD_OPEN,
                .flags = (uint32_t) flags,
                .mode = (uint32_t) mode,
                .path = path,
        };

        _cleanup_close_ int fd = transact(sock, &req, true);
        if (fd < 0)
                return fd;
        /* The fd came close-on-exec; only a caller who did not ask for
         * that pays the one fcntl to drop it. */
        if (!(flags & O_CLOEXEC) && fcntl(fd, F_SETFD, 0) < 0)
                return oh_negerrno();
        return TAKE_FD(fd);
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
