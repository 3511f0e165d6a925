/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The abstract connector's requests (abstract_connector.h): one request
 * (and the socket it is about, as SCM_RIGHTS), then one answer, an
 * int64_t: 0 or the bytes sent, or -errno.  Shared by the supervisor's
 * side and the connector (connector_serve.c), which calls nothing of the
 * C library: only declarations and macros here. */
#ifndef OH_CONNECTOR_PROTO_H
#define OH_CONNECTOR_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#define OH_CONNECTOR_DATA_MAX 65536     /* bytes one send through it may carry */

struct oh_connector_req {
        int32_t send;           /* 0: connect */
        int32_t flags;
        uint32_t addrlen;
        struct sockaddr_un addr;
        uint8_t data[];
};

#define OH_CONNECTOR_REQ_MAX (sizeof(struct oh_connector_req) + OH_CONNECTOR_DATA_MAX)

/* Whether REQ, N bytes received, names an abstract address: the only
 * kind the connector ever reaches. */
static inline bool oh_connector_req_ok(const struct oh_connector_req *req, size_t n)
{
        return n >= sizeof *req && req->addrlen <= sizeof req->addr && req->addr.sun_family == AF_UNIX &&
               req->addrlen > sizeof(sa_family_t) && req->addr.sun_path[0] == '\0';
}

#endif
