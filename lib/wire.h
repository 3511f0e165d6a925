/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one place that parses bytes a peer sent (fuzzed by fuzz/fuzz-wire.c). */
#ifndef OH_WIRE_H
#define OH_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "openhook.h"

#define OH_HEADER_SIZE 8u
#define OH_RESPONSE_SIZE 12u

/* The longest request an encoder can produce: two paths of
 * OPENHOOK_PATH_MAX - 1 bytes plus the largest fixed fields.  Clients keep
 * a buffer of this size on the stack. */
#define OH_REQUEST_MAX (OH_HEADER_SIZE + 8u + 2u * (2u + OPENHOOK_PATH_MAX))

/* A decoded request.  Paths point into caller-provided storage and are NUL
 * terminated; they are never longer than OPENHOOK_PATH_MAX - 1. */
struct oh_request {
        uint32_t size;
        uint32_t command;
        uint32_t flags;         /* OPEN, RENAME, CHMOD, UTIMENS, ACCESS, CHOWN */
        uint32_t mode;          /* OPEN, MKDIR, CHMOD; ACCESS: F_OK or R_OK|W_OK|X_OK;
                                 * OPEN_AHEAD, OPEN_DIR_AHEAD, OPEN_WALK_AHEAD: the most files */
        uint32_t ahead_flags;   /* OPEN_DIR_AHEAD, OPEN_WALK_AHEAD: the flags files sent are opened with */
        uint32_t dir_flags;     /* OPEN_WALK_AHEAD: the flags directories sent are opened with */
        uint32_t uid, gid;      /* CHOWN: (uint32_t) -1 keeps */
        uint64_t length;        /* TRUNCATE */
        uint64_t times[4];      /* UTIMENS: atime sec, nsec, mtime sec, nsec */
        const char *path;       /* every command with a path */
        const char *path2;      /* RENAME, LINK: new path; SYMLINK: link path (path is the target) */
        int status;             /* 0, or -errno to answer without doing anything
                                 * (bad path: -EINVAL, -ENOENT, -ENAMETOOLONG;
                                 * unknown command: -ENOSYS).  A path that
                                 * failed its check is left NULL. */
        const char *reason;     /* with -EPROTO or a non-zero status: a static
                                 * description of what was wrong, for the log */
};

struct oh_pathbuf {
        char a[OPENHOOK_PATH_MAX];
        char b[OPENHOOK_PATH_MAX];
};

/* Decodes the first message of BUF[0..LEN).  Returns the number of bytes the
 * message occupies (> 0) with *REQ filled in, 0 if more bytes are needed, or
 * -EPROTO if the framing cannot be trusted (the connection must be closed;
 * req->reason says why).  Never reads outside BUF[0..LEN) and never
 * allocates. */
int oh_wire_decode(const uint8_t *buf, size_t len, struct oh_request *req, struct oh_pathbuf *paths);

/* Encodes a request into BUF of SIZE bytes (OH_REQUEST_MAX always suffices).
 * Paths are sent without a trailing NUL.  Returns its length or -errno
 * (-ENAMETOOLONG, -EINVAL for a missing path or a command it does not know,
 * -ENOBUFS if SIZE is too small). */
int oh_wire_encode_request(const struct oh_request *req, uint8_t *buf, size_t size);

void oh_wire_encode_response(uint32_t command, int32_t result, uint8_t out[OH_RESPONSE_SIZE]);

/* Checks a 12-byte response to COMMAND.  Returns 0 with *RESULT set (0 or
 * -errno), or -EPROTO (wrong size, wrong command, a positive or absurd
 * result). */
int oh_wire_decode_response(const uint8_t *buf, size_t len, uint32_t command, int32_t *result);

/* Files sent ahead with an OPENHOOK_CMD_OPEN_AHEAD or _OPEN_DIR_AHEAD reply (PROTOCOL.md),
 * decoded: names are single components, NUL-terminated in NAMES. */
struct oh_ahead_file {
        uint64_t dev, ino;              /* what the name led to when opened */
        uint16_t name_off;              /* into names */
};

struct oh_ahead {
        uint64_t dir_dev, dir_ino;      /* the directory they are in */
        uint32_t count;
        struct oh_ahead_file files[OPENHOOK_AHEAD_MAX];
        char names[OPENHOOK_AHEAD_REPLY_MAX];
};

/* The broker's side: a reply of OPENHOOK_AHEAD_REPLY_MAX bytes at OUT is
 * begun (returns its length, no file yet), then a file added at a time
 * (*LEN grows; -ENOBUFS once it is full). */
size_t oh_wire_ahead_begin(uint8_t *out, uint32_t command, uint64_t dir_dev, uint64_t dir_ino);
/* Its size before the first entry. */
#define OH_AHEAD_HEADER_SIZE 32u
/* Cuts such a reply back to its first COUNT entries, which end at LEN. */
void oh_wire_ahead_trim(uint8_t *out, uint32_t count, size_t len);
int oh_wire_ahead_add(uint8_t *out, size_t *len, uint64_t dev, uint64_t ino, const char *name);

/* The client's side: BUF[0..LEN) is one whole reply to COMMAND, a plain
 * 12-byte response (nothing sent ahead) or the longer form.  Returns 0
 * with *RESULT and *A set, or -EPROTO.  Never reads outside BUF[0..LEN). */
int oh_wire_decode_ahead(const uint8_t *buf, size_t len, uint32_t command, int32_t *result, struct oh_ahead *a);

/* The permission bits that VALUE[0..SIZE), a system.posix_acl_access
 * attribute as setxattr(2) takes it, restates: an ACL of exactly the
 * owner, group and other entries is chmod(2) of those bits, and the
 * kernel keeps no attribute for it (cp -a sets one where chmod would
 * do).  Returns 0 with *MODE, or -EINVAL for any other ACL or bytes that
 * are not one.  Never reads outside VALUE[0..SIZE). */
int oh_wire_acl_mode(const void *value, size_t size, uint32_t *mode);

#endif
