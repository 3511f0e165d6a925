/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * openhook: delegate file opens to a policy-checking broker over a Unix
 * socket, receiving the opened descriptor with SCM_RIGHTS.
 *
 * The wire protocol is the one of QEMU's -open-hook-fd proposal, plus the
 * extensions documented in PROTOCOL.md.  Every function here returns a
 * non-negative value on success and a negative errno value on failure; none
 * of them reads or leaves a meaningful value in errno.
 */
#ifndef OPENHOOK_H
#define OPENHOOK_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OPENHOOK_VERSION "0.1.0"

/* Command numbers on the wire (PROTOCOL.md).  1 is the seed's QEMU_OPEN. */
enum openhook_command {
        OPENHOOK_CMD_OPEN = 1,
        OPENHOOK_CMD_MKDIR = 2,
        OPENHOOK_CMD_UNLINK = 3,
        OPENHOOK_CMD_RMDIR = 4,
        OPENHOOK_CMD_RENAME = 5,
        OPENHOOK_CMD_SYMLINK = 6,
        OPENHOOK_CMD_LINK = 7,
        OPENHOOK_CMD_TRUNCATE = 8,
        OPENHOOK_CMD_CONNECT = 9,
        OPENHOOK_CMD_CHMOD = 10,
        OPENHOOK_CMD_UTIMENS = 11,
        OPENHOOK_CMD_ACCESS = 12,
        OPENHOOK_CMD_CHOWN = 13,
        OPENHOOK_CMD_OPEN_AHEAD = 14,   /* OPEN, plus files sent ahead (PROTOCOL.md) */
        OPENHOOK_CMD_OPEN_DIR_AHEAD = 15, /* OPEN of a directory, plus its files */
        OPENHOOK_CMD_OPEN_WALK_AHEAD = 16, /* OPEN, plus what a tree walker opens next */
};

/* What openhook run's supervisor decides that no wire command asks for:
 * the command of a struct openhook_decision (never sent on the wire).
 * PATH is the socket or the file the fd names ("" for an fd with no
 * name), or for the others what was asked ("TIOCSTI", "AF_INET"). */
enum {
        OPENHOOK_DECISION_SOCKET_CONNECT = 0x100,
        OPENHOOK_DECISION_SOCKET_SEND = 0x101,
        OPENHOOK_DECISION_FCHMOD = 0x102,
        OPENHOOK_DECISION_FCHOWN = 0x103,
        OPENHOOK_DECISION_FUTIMENS = 0x104,
        OPENHOOK_DECISION_FSETXATTR = 0x105,
        OPENHOOK_DECISION_FREMOVEXATTR = 0x106,
        OPENHOOK_DECISION_FSETFLAGS = 0x107,
        OPENHOOK_DECISION_IOCTL = 0x108,
        OPENHOOK_DECISION_KEYRING = 0x109,
        OPENHOOK_DECISION_SOCKET = 0x10a,
        OPENHOOK_DECISION_EXEC = 0x10b,         /* path: the program */
};

/* Largest message_size a broker accepts; larger framing closes the
 * connection.  Paths of OPENHOOK_PATH_MAX bytes or more get -ENAMETOOLONG. */
#define OPENHOOK_MSG_MAX 16384u
#define OPENHOOK_PATH_MAX 4096u

/* At most this many files are sent ahead with one OPENHOOK_CMD_OPEN_AHEAD
 * reply, whose size is at most OPENHOOK_AHEAD_REPLY_MAX bytes. */
#define OPENHOOK_AHEAD_MAX 64u
#define OPENHOOK_AHEAD_REPLY_MAX 4096u

/* ---- Client side ----------------------------------------------------- */

/* Connects to a broker started with `openhook serve --listen PATH`.
 * Returns a new O_CLOEXEC socket fd or -errno. */
int openhook_connect(const char *socket_path);

/* Asks the broker to open PATH (absolute) with open(2) FLAGS and MODE.
 * Returns the received fd (O_CLOEXEC if FLAGS has O_CLOEXEC) or -errno.
 * Safe to call from many threads on one socket: requests on one socket are
 * serialized, so no caller ever receives another caller's fd. */
int openhook_open(int sock, const char *path, int flags, mode_t mode);

/* Extensions; each returns 0 or -errno (-ENOSYS from a seed-only broker). */
int openhook_mkdir(int sock, const char *path, mode_t mode);
int openhook_unlink(int sock, const char *path);
int openhook_rmdir(int sock, const char *path);
int openhook_rename(int sock, const char *oldpath, const char *newpath, unsigned int flags);
int openhook_symlink(int sock, const char *target, const char *linkpath);
int openhook_link(int sock, const char *oldpath, const char *newpath);
int openhook_truncate(int sock, const char *path, uint64_t length);

/* chmod(2) and utimensat(2) on PATH (absolute); FLAGS is 0 or
 * AT_SYMLINK_NOFOLLOW.  Both need w.  The broker never sets the setuid,
 * setgid or sticky bit.  TIMES as for utimensat(2) (NULL: both now;
 * UTIME_NOW and UTIME_OMIT in tv_nsec). */
int openhook_chmod(int sock, const char *path, mode_t mode, int flags);
int openhook_utimens(int sock, const char *path, const struct timespec times[2], int flags);

/* faccessat(2) on PATH (absolute), answered by the rules open(2) meets:
 * MODE is F_OK or R_OK, W_OK, X_OK or'ed; FLAGS 0, AT_EACCESS,
 * AT_SYMLINK_NOFOLLOW.  R_OK needs r; W_OK needs w on a file and c on a
 * directory (making names in it); X_OK of any file but a directory is
 * -EACCES (the broker executes nothing for anyone); F_OK and X_OK of a
 * directory need a path the client may know of (some letter there, or a
 * rule below it; with openhook_policy_reveal_missing(), F_OK of any path
 * that exists).  What the policy allows is then asked of the kernel, with
 * the broker's credentials (-EACCES, -EROFS, ...). */
int openhook_access(int sock, const char *path, int mode, int flags);

/* fchownat(2) on PATH (absolute); FLAGS 0 or AT_SYMLINK_NOFOLLOW.  Needs
 * w, and succeeds only when OWNER and GROUP ((uid_t) -1 and (gid_t) -1
 * keep) are what the file has already: the broker gives nothing away
 * (-EPERM).  Such a change still clears setuid and setgid bits as
 * chown(2) does. */
int openhook_chown(int sock, const char *path, uid_t owner, gid_t group, int flags);

/* Asks the broker for a new, private connection governed by the same
 * policy.  Returns the new O_CLOEXEC socket fd or -errno.  A process that
 * shares its socket with others (after fork) uses this to get its own. */
int openhook_new_connection(int sock);

/* ---- Policy ----------------------------------------------------------- */

struct openhook_policy;

/* Permission letters: r read, w write an existing file (and O_TRUNC),
 * c create, d delete/rename away, x execute (openhook run: Landlock lets
 * the program execute and read it; implies r), t private temporaries (on
 * a DIR/ rule: create there, and r, w, c, d on what this broker created
 * there; openhook-policy(5)). */
enum {
        OPENHOOK_PERM_R = 1u << 0,
        OPENHOOK_PERM_W = 1u << 1,
        OPENHOOK_PERM_C = 1u << 2,
        OPENHOOK_PERM_D = 1u << 3,
        OPENHOOK_PERM_X = 1u << 4,
        OPENHOOK_PERM_T = 1u << 5,
};

int openhook_policy_new(struct openhook_policy **ret);
void openhook_policy_free(struct openhook_policy *policy);

/* Adds "allow PERMS PATH" (PERMS as letters, e.g. "rw") or "deny PATH".
 * A PATH ending in '/' covers the whole subtree.  On failure, *error (if not
 * NULL) receives a malloc'ed message a person can act on. */
int openhook_policy_allow(struct openhook_policy *policy, const char *perms, const char *path, char **error);
int openhook_policy_deny(struct openhook_policy *policy, const char *path, char **error);

/* By default a path the policy refuses is answered -EACCES whether or not
 * it exists, so a client learns nothing about the tree outside its
 * policy.  With REVEAL non-zero, a refused path that does not exist is
 * answered -ENOENT (-ENOTDIR when a component is not a directory), as the
 * kernel answers a program for a file it may not read: for a client that
 * can stat(2) any path anyway (openhook run), that tells it nothing new,
 * and programs that probe optional files go on as without openhook.  A
 * create of a new name in an existing directory stays -EACCES. */
void openhook_policy_reveal_missing(struct openhook_policy *policy, int reveal);

/* Parses one command-line rule: "PERMS:PATH" for --allow. */
int openhook_policy_allow_arg(struct openhook_policy *policy, const char *arg, char **error);

/* Reads a policy file (lines "allow PERMS PATH", "deny PATH", "# ...").
 * Errors read "FILE:LINE: what is wrong". */
int openhook_policy_load_file(struct openhook_policy *policy, const char *file, char **error);

/* ---- Embeddable server side -------------------------------------------- */

struct openhook_server;
struct openhook_conn;

/* One decision, as passed to the log callback.  Strings are valid only
 * during the call.  The callback is also told when a connection is closed
 * for framing that cannot be trusted: then result is -EPROTO, command is 0
 * if it was not known yet, and hint says what was wrong.  Calls on one
 * server are serialized, also under openhook_server_run()'s threads. */
struct openhook_decision {
        pid_t pid;              /* sending process, 0 if unknown */
        uint32_t command;
        const char *path;       /* as requested; NULL if none */
        const char *path2;      /* second path (rename, link, symlink) */
        uint32_t flags;
        uint32_t mode;
        int result;             /* fd/0 mapped to 0, or -errno */
        int denied;             /* non-zero if the policy refused it */
        const char *hint;       /* for denials: the rule that would allow it */
};

typedef void (*openhook_log_fn)(const struct openhook_decision *d, void *userdata);
typedef int (*openhook_add_conn_fn)(struct openhook_conn *conn, void *userdata);

/* The policy is borrowed and must outlive the server (or its
 * replacement by openhook_server_set_policy()). */
int openhook_server_new(const struct openhook_policy *policy, struct openhook_server **ret);

/* Swaps the policy the server decides with, while workers answer: a
 * request already being decided finishes under the old policy, every
 * later one is decided wholly under POLICY (never partly under two).
 * Returns once no request uses the old policy, which the caller may then
 * free.  0 or -EINVAL.
 *
 * Descriptors already handed out stay valid: an fd cannot be revoked.  So
 * a manager that takes a disk away from a VM detaches it in the VM first
 * (QEMU: device_del / blockdev-del, which closes the fd), then drops the
 * rule; dropping the rule first only stops new opens. */
int openhook_server_set_policy(struct openhook_server *server, const struct openhook_policy *policy);
void openhook_server_free(struct openhook_server *server);
void openhook_server_set_log(struct openhook_server *server, openhook_log_fn fn, void *userdata);

/* Called when a CONNECT request creates a new connection; the host adds
 * it to its event loop and returns 0 (or -errno: the connection is then
 * freed and the client told the error).  Without it, CONNECT is answered
 * -ENOSYS.  openhook_server_run() installs its own while it runs. */
void openhook_server_set_add_conn(struct openhook_server *server, openhook_add_conn_fn fn, void *userdata);

/* Lets OPENHOOK_CMD_OPEN_AHEAD, _OPEN_DIR_AHEAD and _OPEN_WALK_AHEAD send
 * files ahead (OPENHOOK_AHEAD_SEND) or answers them as a plain OPEN (0,
 * the default).  Each file sent ahead is decided and logged as an OPEN
 * with the flags asked for the files (reason "sent ahead"), so a host that
 * learns a policy from the log leaves it off: the client may never use
 * them.  With OPENHOOK_AHEAD_PREPARE too, the reply a tree walker asks
 * for next is prepared (decided and opened) while it reads the last one,
 * logged when it is sent and dropped unsent (unlogged) if the client asks
 * for something else; it costs fds and work that may be wasted. */
#define OPENHOOK_AHEAD_SEND 1
#define OPENHOOK_AHEAD_PREPARE 2
void openhook_server_set_ahead(struct openhook_server *server, int how);

/* Embedding in your own event loop:
 *
 *     openhook_server_add(server, fd, &conn);
 *     loop:
 *         poll for openhook_conn_events(conn) on openhook_conn_fd(conn)
 *         when ready (any revents, including POLLHUP/POLLERR):
 *             if (openhook_conn_process(conn) < 0)
 *                     openhook_conn_free(conn);  // and forget it
 *         re-read openhook_conn_events(conn) before polling again
 *
 * A connection is never processed from two threads at once.  Each process
 * call answers a bounded number of requests; when it stops with requests
 * still buffered it asks for POLLOUT so the loop comes straight back.  See
 * examples/embed-server.c. */

/* Takes ownership of FD (a connected SOCK_STREAM or SOCK_SEQPACKET Unix
 * socket; closed on failure too), makes it non-blocking and close-on-exec,
 * enables SO_PASSCRED and returns a connection object. */
int openhook_server_add(struct openhook_server *server, int fd, struct openhook_conn **ret);

/* The fd to poll, and the poll events (POLLIN/POLLOUT bits) it waits for. */
int openhook_conn_fd(const struct openhook_conn *conn);
uint32_t openhook_conn_events(const struct openhook_conn *conn);

/* Does all the work that is possible without blocking.  Returns 0 while the
 * connection lives, or a negative errno once it is finished (peer hung up:
 * -ECONNRESET; untrustworthy framing: -EPROTO); then call
 * openhook_conn_free(). */
int openhook_conn_process(struct openhook_conn *conn);
void openhook_conn_free(struct openhook_conn *conn);

/* A ready-made loop: serves FD (a listening socket if LISTENING, else one
 * connected client) and every connection derived from it with NTHREADS
 * worker threads (0 = number of CPUs; the calling thread is one of them).
 * A listening FD stays the caller's (it is made non-blocking); a client FD
 * is owned and closed.
 * Raises the RLIMIT_NOFILE soft limit to the hard limit.  Returns 0 when
 * the last client of a non-listening server has gone or after
 * openhook_server_stop(), or -errno. */
int openhook_server_run(struct openhook_server *server, int fd, int listening, unsigned int nthreads);

/* Makes openhook_server_run() return 0 soon (at once if called before it
 * runs); open connections are closed.  Async-signal-safe: it only writes to
 * an eventfd, so a SIGTERM handler may call it. */
void openhook_server_stop(struct openhook_server *server);

#ifdef __cplusplus
}
#endif
#endif
