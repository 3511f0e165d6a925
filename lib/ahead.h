/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The client's side of OPENHOOK_CMD_OPEN_AHEAD and _OPEN_DIR_AHEAD, for
 * the shim: the file asked for, and the files of its directory (or of the
 * directory asked for) the broker sent ahead with it (PROTOCOL.md;
 * lib/server.c says which).  Not installed. */
#ifndef OH_AHEAD_H
#define OH_AHEAD_H

#include <sys/types.h>

#include "wire.h"

/* Room for one reply, kept off the stack (the shim runs on whatever
 * stack the program's thread has). */
struct oh_ahead_rx {
        uint8_t reply[OPENHOOK_AHEAD_REPLY_MAX];
        struct oh_ahead batch;
        int fds[OPENHOOK_AHEAD_MAX];    /* batch.files[i] is open as fds[i] */
};

/* openhook_open() of PATH (FLAGS read-only), asking with COMMAND for up
 * to MAX more files: OPENHOOK_CMD_OPEN_AHEAD, those after PATH in its
 * directory, opened with FLAGS; OPENHOOK_CMD_OPEN_DIR_AHEAD, those in
 * directory PATH, opened with AHEAD_FLAGS; OPENHOOK_CMD_OPEN_WALK_AHEAD,
 * what a tree walker opens after PATH, files opened with AHEAD_FLAGS and
 * directories with DIR_FLAGS (unused by the others).  Returns the fd of PATH or
 * -errno; on success RX->batch.count fds came ahead in RX->fds (owned by
 * the caller, close-on-exec); none when the broker sent none or some were
 * lost on the way (the process's fd table was full). */
int oh_client_open_ahead(int sock, uint32_t command, const char *path, int flags, int ahead_flags, int dir_flags,
                         unsigned int max, struct oh_ahead_rx *rx);

#endif
