/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one place that parses bytes a peer sent (fuzzed by fuzz/fuzz-wire.c). */
#ifndef OH_WIRE_H
#define OH_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "openhook.h"

#define OH_HEADER_SIZE 8u
#define OH_RESPONSE_SIZE 12u

/* A decoded request.  Paths point into caller-provided storage and are NUL
 * terminated; they are never longer than OPENHOOK_PATH_MAX - 1. */
struct oh_request {
        uint32_t size;
        uint32_t command;
        uint32_t flags;         /* OPEN, RENAME */
        uint32_t mode;          /* OPEN, MKDIR */
        uint64_t length;        /* TRUNCATE */
        const char *path;       /* every command with a path */
        const char *path2;      /* RENAME, LINK: new path; SYMLINK: link path (path is the target) */
        int status;             /* 0, or -errno to answer without doing anything
                                 * (bad path: -EINVAL, -ENOENT, -ENAMETOOLONG;
                                 * unknown command: -ENOSYS) */
};

struct oh_pathbuf {
        char a[OPENHOOK_PATH_MAX];
        char b[OPENHOOK_PATH_MAX];
};

/* Decodes the first message of BUF[0..LEN).  Returns the number of bytes the
 * message occupies (> 0) with *REQ filled in, 0 if more bytes are needed, or
 * -EPROTO if the framing cannot be trusted (the connection must be closed).
 * Never reads outside BUF[0..LEN) and never allocates. */
int oh_wire_decode(const uint8_t *buf, size_t len, struct oh_request *req, struct oh_pathbuf *paths);

/* Encodes a request into BUF (at least OPENHOOK_MSG_MAX bytes).  Returns its
 * length or -errno (-ENAMETOOLONG, -EINVAL for a command it does not know). */
int oh_wire_encode_request(const struct oh_request *req, uint8_t *buf, size_t size);

void oh_wire_encode_response(uint32_t command, int32_t result, uint8_t out[OH_RESPONSE_SIZE]);

/* Checks a 12-byte response to COMMAND.  Returns 0 with *RESULT set, or
 * -EPROTO. */
int oh_wire_decode_response(const uint8_t *buf, size_t len, uint32_t command, int32_t *result);

#endif
