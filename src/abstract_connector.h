/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Abstract UNIX sockets, scoped as Landlock scopes them.
 *
 * The supervisor makes the program's connects and sends itself (the
 * address is in memory the program can rewrite), but it is not in the
 * program's Landlock domain, so Landlock's scope (ABI 6: only abstract
 * sockets of the same domain or one nested in it) would not apply to it.
 * The connector is a small process started from the program's side after
 * its Landlock domain and before its seccomp filter: not the program's
 * child, in a session of its own, holding nothing but its socket to the
 * supervisor.  The program is then nested one Landlock layer deeper, so
 * that it cannot ptrace, signal or reach into the connector (Landlock
 * allows those only into one's own domain or one nested in it).  The
 * connector connects (or sends) for the supervisor, on the supervisor's
 * duplicate of the program's socket, and the kernel holds it to the scope
 * of the domain the program's own is nested in: the program's sockets,
 * and the connector's (it makes none).  It executes nothing: it runs in
 * run's memory, on system calls alone (connector_serve.c). */
#ifndef OH_ABSTRACT_CONNECTOR_H
#define OH_ABSTRACT_CONNECTOR_H

#include <stdint.h>
#include <stddef.h>
#include <stdnoreturn.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "connector_proto.h"

/* In the program's process, after its Landlock domain and before its
 * seccomp filter: starts the connector, without waiting for it.  The
 * caller then adds one more Landlock layer (the program's) before it runs
 * anything else.  Returns the supervisor's end of the connector's socket
 * (O_CLOEXEC), or -errno.  The process makes system calls only (see
 * run_command.c). */
int oh_connector_start(void);

/* The connector itself (connector_serve.c): serves on FD, its end of the
 * socket, until the supervisor goes. */
noreturn void oh_connector_serve(int fd);

/* In the supervisor, from any thread: has CONNECTOR connect SOCK to ADDR
 * (SIZE 0), or send DATA[SIZE] to it with FLAGS.  Returns 0 or the bytes
 * sent, or -errno: the call's (EPERM: outside the scope), or ESRCH, which
 * neither call gives, when the connector is not there to answer (it did
 * not start, or stopped answering: ETIMEDOUT once, then ESRCH). */
int64_t oh_connector_call(int connector, int sock, const struct sockaddr *addr, socklen_t addrlen,
                          const void *data, size_t size, int flags, int send);

#endif
