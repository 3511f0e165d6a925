/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Abstract UNIX sockets, scoped as Landlock scopes them.
 *
 * The supervisor makes the program's connects and sends itself (the
 * address is in memory the program can rewrite), but it is not in the
 * program's Landlock domain, so Landlock's scope (ABI 6: only abstract
 * sockets of the same domain or one nested in it) would not apply to it.
 * The connector is a small process started from the program's side after
 * its Landlock domain and before its seccomp filter: not the program's
 * child, not dumpable, in a session of its own, holding nothing but its
 * socket to the supervisor.  It connects (or sends) for the supervisor, on
 * the supervisor's duplicate of the program's socket, and the kernel holds
 * it to the program's scope. */
#ifndef OH_ABSTRACT_CONNECTOR_H
#define OH_ABSTRACT_CONNECTOR_H

#include <stdint.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#define OH_CONNECTOR_DATA_MAX 65536     /* bytes one send through it may carry */

/* In the program's process, after its Landlock domain: starts the
 * connector in two steps, so that the process can load its seccomp
 * filter meanwhile (the go-between that makes the connector was started
 * before it, so neither has the filter).  oh_connector_begin() starts it
 * (0 or -errno: then oh_connector_end() was done); oh_connector_end(),
 * called once in either case, waits for it and returns the supervisor's
 * end of its socket (O_CLOEXEC) or -errno.  In between, the process makes
 * system calls only and keeps SP where it is. */
struct oh_connector_spawn {
        int ours;               /* the supervisor's end */
        int theirs;             /* the connector's end */
        int dumpable;           /* ours, given back at the end */
        pid_t go_between;
        char *stack;            /* the connector's, in the go-between's copy of our memory */
};
int oh_connector_begin(struct oh_connector_spawn *sp);
int oh_connector_end(struct oh_connector_spawn *sp);

/* In the supervisor, from any thread: has CONNECTOR connect SOCK to ADDR
 * (SIZE 0), or send DATA[SIZE] to it with FLAGS.  Returns 0 or the bytes
 * sent, or -errno (EPERM: outside the scope). */
int64_t oh_connector_call(int connector, int sock, const struct sockaddr *addr, socklen_t addrlen,
                          const void *data, size_t size, int flags, int send);

#endif
