/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the only parser of peer bytes.  The input is used
 * as a client would use a stream (decode, drop what was consumed, decode
 * the rest) and, in the same run, as single datagrams.  Anything decoded
 * must survive a re-encode with the same meaning (every command's fields,
 * ACCESS's and CHOWN's included).  The same bytes are also read as a POSIX
 * ACL attribute (oh_wire_acl_mode()), which must never read beyond them
 * and give nothing but permission bits. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct oh_pathbuf paths, paths2;

static void check_round_trip(const struct oh_request *req)
{
        static uint8_t buf[OH_REQUEST_MAX];
        struct oh_request again;

        if (req->status != 0)
                return;
        int n = oh_wire_encode_request(req, buf, sizeof(buf));
        if (n < 0)
                abort();
        if (oh_wire_decode(buf, (size_t) n, &again, &paths2) != n)
                abort();
        if (again.status != 0 || again.command != req->command || again.flags != req->flags ||
            again.mode != req->mode || again.length != req->length || again.uid != req->uid ||
            again.gid != req->gid || again.ahead_flags != req->ahead_flags || again.dir_flags != req->dir_flags ||
            memcmp(again.times, req->times, sizeof(again.times)) != 0)
                abort();
        if ((req->path && strcmp(req->path, again.path) != 0) ||
            (req->path2 && strcmp(req->path2, again.path2) != 0))
                abort();
}

/* The same bytes as a reply with files sent ahead (the client's side):
 * what it accepts holds no more files than the limit, each name a string
 * inside the names buffer. */
static void check_ahead(const uint8_t *buf, size_t len, uint32_t command)
{
        static struct oh_ahead a;
        int32_t result;

        if (oh_wire_decode_ahead(buf, len, command, &result, &a) != 0)
                return;
        if (a.count > OPENHOOK_AHEAD_MAX)
                abort();
        for (uint32_t i = 0; i < a.count; i++) {
                size_t off = a.files[i].name_off;

                if (off >= sizeof a.names || !memchr(a.names + off, '\0', sizeof a.names - off))
                        abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct oh_request req;
        size_t off = 0;

        /* Copy so every decode sees a buffer that ends exactly where the
         * input does (ASan flags a read one byte beyond). */
        uint8_t *copy = malloc(size ? size : 1);
        if (!copy)
                return 0;
        memcpy(copy, data, size);

        while (off < size) {
                int r = oh_wire_decode(copy + off, size - off, &req, &paths);
                if (r <= 0)
                        break;
                if ((size_t) r > size - off || r < (int) OH_HEADER_SIZE || r > (int) OPENHOOK_MSG_MAX)
                        abort();
                if (req.path && strlen(req.path) >= OPENHOOK_PATH_MAX)
                        abort();
                if (req.path2 && strlen(req.path2) >= OPENHOOK_PATH_MAX)
                        abort();
                check_round_trip(&req);
                off += (size_t) r;
        }

        /* The same bytes fed as a stream one byte at a time must find the
         * same first message. */
        if (size > 0) {
                struct oh_request whole;
                int full = oh_wire_decode(copy, size, &whole, &paths);
                for (size_t len = 0; len < size && len < 64; len++) {
                        int r = oh_wire_decode(copy, len, &req, &paths);
                        if (r > 0 && r != full)
                                abort();
                }
        }

        uint32_t mode;
        if (oh_wire_acl_mode(copy, size, &mode) == 0 && (mode & ~0777u))
                abort();

        check_ahead(copy, size, OPENHOOK_CMD_OPEN_AHEAD);
        check_ahead(copy, size, OPENHOOK_CMD_OPEN_DIR_AHEAD);
        check_ahead(copy, size, OPENHOOK_CMD_OPEN_WALK_AHEAD);
        free(copy);
        return 0;
}
