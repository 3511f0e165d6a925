/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The seccomp supervisor's parts, shared by its files:
 *   seccomp_notify.c   the syscall table, filters, receiving and answering,
 *                      and the path syscalls (opens and the like);
 *   seccomp_sockets.c  connect and sends with an address, done by the
 *                      supervisor on a duplicate of the program's socket;
 *   seccomp_fdmeta.c   metadata changes through an fd, terminal ioctls,
 *                      keyrings and the socket families of --no-network;
 *                      ownership by path;
 *   seccomp_access.c   access(2) and friends. */
#ifndef OH_SECCOMP_INTERNAL_H
#define OH_SECCOMP_INTERNAL_H

#include <limits.h>
#include <linux/seccomp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "openhook.h"
#include "resolve.h"

/* Linux 6.6; older headers lack them. */
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

#define ARG_NONE (-1)     /* no such argument */
#define DIRFD_CWD (-1)    /* the path is looked up from the cwd */
#define DIRFD_RAW (-2)    /* the string is not looked up (symlink target) */

enum {
        SC_HOW = 1u << 0,       /* arg 2 is a struct open_how, arg 3 its size */
        SC_LEN64 = 1u << 1,     /* length split over args 1 (low) and 2 (high) */
        /* The times of the utime family, in the argument after the path: */
        SC_UTIMBUF = 1u << 2,   /* struct utimbuf: two whole seconds */
        SC_TIMEVAL = 1u << 3,   /* two struct timeval */
        SC_TIMESPEC = 1u << 4,  /* two struct timespec */
        SC_TIME64 = 1u << 5,    /* 64-bit fields for i386 too (*_time64 calls) */
        /* A NULL path is the fd form (futimens): the file the fd names. */
        SC_NULL_PATH_IS_FD = 1u << 6,
        /* Notified in every mode, not only where the path syscalls are:
         * what Landlock cannot hold (sockets, metadata through fds, ...). */
        SC_ALWAYS = 1u << 7,
        /* Only a native call is notified; the 32-bit twin gets the
         * fallback errno (its structures are laid out otherwise, and
         * i386 multiplexes sockets through socketcall). */
        SC_NATIVE = 1u << 8,
        SC_ADDR_ARG4 = 1u << 9,         /* notified only when arg 4 (an address) is not NULL */
        SC_IOCTL = 1u << 10,            /* notified only for the requests in sc_ioctls[] */
        SC_NOT_UNIX = 1u << 11,         /* notified only when arg 0 is not AF_UNIX */
        SC_NO_NETWORK = 1u << 12,       /* in the filter only with OH_SECCOMP_NO_NETWORK */
        /* In preload mode (no OH_SECCOMP_OPENS) a path metadata call is
         * refused with EPERM in the filter: the shim brokers libc's. */
        SC_PATH_META = 1u << 13,
        SC_PATH_ONLY = 1u << 14,        /* not notified with AT_EMPTY_PATH in the flags argument */
};

#define SC_TIMES (SC_UTIMBUF | SC_TIMEVAL | SC_TIMESPEC)

struct sc_call;

struct sc_path_arg {
        int8_t path;            /* argument index of the string */
        int8_t dirfd;           /* argument index of the dirfd, or DIRFD_* */
};

/* One notified syscall: where its arguments are and who answers it. */
struct sc_syscall {
        const char *name;
        int (*act)(struct sc_call *c);
        struct sc_path_arg p[2];
        int8_t flags_arg;
        int8_t mode_arg;
        uint32_t fixed_flags;
        unsigned int opts;
        int fallback;           /* errno when it cannot be notified (SC_NATIVE, no listener) */
        int (*fetch)(struct sc_call *c);        /* reads what a non-path call names */
};

struct sc_nr {
        uint32_t arch;
        int nr;
        const struct sc_syscall *sys;
};

struct sc_supervisor {
        int listener;
        int connector;          /* abstract_connector.h, or -1 */
        uint32_t native_arch;
        unsigned int flags;     /* OH_SECCOMP_* */
        struct openhook_server *server;         /* the policy's holder, or NULL */
        const struct openhook_policy *policy;   /* in force for the call being decided */
        openhook_log_fn log;
        void *userdata;
        char *direct_buf;
        const char *direct[64];
        size_t n_direct;
        struct sc_nr map[128];
        size_t n_map;
        struct seccomp_notif *req;      /* the kernel's sizes, reused */
        size_t req_size;
        struct seccomp_notif_resp *resp;
        bool warned_read;
        int ready_fd;                           /* oh_seccomp_supervisor_on_ready(), or -1 */
        int (*ready_fn)(void *data);
        void *ready_data;
        /* seccomp_sockets.c threads running: on the heap, as a thread
         * blocked in a call may outlive the supervisor (then leaked). */
        atomic_uint *workers;
};

/* Everything one notification needs, read before the validity check. */
struct sc_call {
        struct sc_supervisor *sv;
        const struct seccomp_notif *req;
        const struct sc_syscall *sys;
        bool compat;
        bool fd_form;           /* SC_NULL_PATH_IS_FD with a NULL path */
        char path[2][PATH_MAX];
        uint32_t flags;
        uint32_t mode;
        uint64_t length;
        struct timespec times[2];
        int newfd;              /* opened for the task, to inject */
        int fd;                 /* a duplicate of the task's fd the call names, or -1 */
        void *op;               /* what the act needs beyond this (malloc'ed) */
        void (*op_free)(void *op);
        bool cont;              /* let the kernel run the syscall */
        bool answered;          /* a worker thread answers (seccomp_sockets.c) */
};

/* A fetch function's answer: fetch the call as a path call after all
 * (fchownat with a name). */
#define SC_FETCH_PATH 1

/* Whether the kernel may answer C itself (CONTINUE) for a path of the
 * direct set: see seccomp_notify.c. */
bool sc_direct_eligible(const struct sc_call *c);

/* Argument I as the task passed it (32 bits for an i386 call). */
uint64_t sc_arg(const struct sc_call *c, int i);
int sc_arg_int(const struct sc_call *c, int i);

void sc_log(const struct sc_call *c, uint32_t command, int result, const struct oh_verdict *v);

/* The same, from a thread that has no call left (seccomp_sockets.c). */
void sc_log_denied(openhook_log_fn log, void *userdata, pid_t pid, uint32_t command, const char *path,
                   int error, const char *why);

/* A refusal no rule can lift: logged as denied, with WHY as the hint. */
int sc_refuse(struct sc_call *c, uint32_t command, int error, const char *why);

/* Sends the answer to C's notification: RESULT is -errno or the value. */
void sc_respond(int listener, uint64_t id, int64_t result);

/* seccomp_sockets.c */
int sc_fetch_socket(struct sc_call *c);
int sc_act_connect(struct sc_call *c);
int sc_act_sendto(struct sc_call *c);
int sc_act_sendmsg(struct sc_call *c);
int sc_act_sendmmsg(struct sc_call *c);

/* seccomp_fdmeta.c */
int sc_fetch_fd(struct sc_call *c);
int sc_fetch_fdmeta(struct sc_call *c);
int sc_act_fchmod(struct sc_call *c);
int sc_act_fchown(struct sc_call *c);
int sc_act_fchownat(struct sc_call *c);
int sc_act_chown(struct sc_call *c);
int sc_act_futimens(struct sc_call *c);
int sc_act_fsetxattr(struct sc_call *c);
int sc_act_fremovexattr(struct sc_call *c);
int sc_act_ioctl(struct sc_call *c);
int sc_act_keyring(struct sc_call *c);
int sc_act_socket(struct sc_call *c);

/* seccomp_access.c */
int sc_act_access(struct sc_call *c);

extern const unsigned long sc_ioctls[];
extern const size_t sc_n_ioctls;

#endif
