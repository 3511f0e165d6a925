/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What server.c (one connection at a time) and server_loop.c (the ready-made
 * epoll loop) share.  Not installed. */
#ifndef OH_SERVER_H
#define OH_SERVER_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "openhook.h"
#include "wire.h"

struct openhook_server {
        const struct openhook_policy *policy;   /* read under policy_lock */
        pthread_rwlock_t policy_lock;           /* held (read) while a request is decided and done */
        openhook_log_fn log;
        void *log_data;
        pthread_mutex_t log_lock;       /* one decision per log call, whole */
        openhook_add_conn_fn add_conn;
        void *add_conn_data;
        int stop_fd;                    /* eventfd: openhook_server_stop() writes it */
        volatile sig_atomic_t stop_requested; /* set with it, read without a syscall */
        bool ahead;                     /* OPEN_AHEAD may send files ahead */
        bool prepare;                   /* ... and prepare a walker's next reply */
        uint64_t generation;            /* policies swapped in (under policy_lock) */
        atomic_uint prepared_fds;       /* fds in replies prepared for walkers */
        atomic_size_t walk_bytes;       /* listings kept by walks (lib/walk.h) */
        unsigned int prepared_max;
};

/* The policy to decide one request (or notification) with, wholly: held
 * until oh_server_policy_put(), during which no swap completes. */
const struct openhook_policy *oh_server_policy_get(struct openhook_server *s);
void oh_server_policy_put(struct openhook_server *s);

/* Memory per connection is bounded: one input buffer of the largest
 * message, one response with its fds (more than one only for files sent
 * ahead), and for a tree walker its walk (at most OH_WALK_BYTES of
 * listings, and all walks together OH_WALK_SHARED_BYTES, lib/walk.h) and
 * one prepared reply.  While a response is
 * pending no further request is read, so a client that never reads its
 * replies costs the broker nothing more. */
struct openhook_conn {
        struct openhook_server *server;
        int fd;
        bool seqpacket;
        bool eof;
        bool backlog;                   /* stopped with work left in `in` */
        pid_t pid;                      /* sender of the latest bytes */
        pid_t peer_pid;                 /* SO_PEERCRED: for bytes sent before
                                         * SO_PASSCRED was on */

        uint8_t out[OPENHOOK_AHEAD_REPLY_MAX];
        size_t out_len, out_off;
        int out_fds[1 + OPENHOOK_AHEAD_MAX];    /* sent with the response, then closed */
        size_t out_nfds;
        struct conn_walk *walk;         /* a tree walker's, once it asks (server.c) */

        /* Owned by server_loop.c. */
        struct openhook_conn *prev, *next;

        size_t in_len;
        uint8_t in[OPENHOOK_MSG_MAX];
};

/* openhook_conn_process(), also counting the requests it answered into
 * *ANSWERED, so a caller polling one connection can tell a hit from an
 * empty socket without a poll(2) of its own. */
int oh_conn_process(struct openhook_conn *c, unsigned int *answered);

#endif
