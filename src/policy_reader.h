/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading the --policy files again while the broker runs.
 *
 * The broker confines itself to what its policy can grant (Landlock), so
 * once confined it cannot open its own policy files: an editor that saves
 * by rename gives the file a new inode no rule names, and granting the
 * files' directories (often /etc) would be far broader.  A reader
 * process, forked before the broker confines itself, does it: it holds
 * nothing but the file names and its socket, reads the files when asked
 * (SIGHUP) or when they change (--watch, inotify on their directories, so
 * a file written in place and one replaced by rename are both seen), and
 * sends their bytes.  The broker parses them, as it parsed them at start.
 *
 * The socket carries snapshots: u32 count, then per file i32 status
 * (0 or -errno), u32 length, the bytes. */
#ifndef OH_POLICY_READER_H
#define OH_POLICY_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define OH_READER_REQUEST 'R'           /* what the broker writes to ask for a snapshot */

struct oh_policy_file {
        const char *name;
        int status;                     /* 0 or -errno: it could not be read */
        char *text;
        size_t len;
};

struct oh_policy_snapshot {
        struct oh_policy_file *files;
        size_t n;
};

struct oh_policy_reader {
        int fd;                         /* the broker's end, -1 without a reader */
        pid_t pid;
        bool ready;                     /* it said it watches (oh_policy_reader_ready()) */
};

/* Forks the reader for FILES[N] (names kept by the caller, which must stay
 * valid), watching them with WATCH.  The reader ends when the broker's end
 * is closed.  It is not waited for: the broker's start-up goes on while
 * the reader starts.  0 or -errno. */
int oh_policy_reader_start(const char *const *files, size_t n, bool watch, struct oh_policy_reader *ret);

/* Waits until the reader watches the files (once: later calls return at
 * once), so that no change made after it is missed: before the broker
 * answers anyone.  0, or -ECHILD (the reader is gone, and R has none any
 * more) or -errno. */
int oh_policy_reader_ready(struct oh_policy_reader *r);

/* Reads one snapshot from FD into SNAP (names from FILES[N]), blocking.
 * 0, -EPIPE when the reader is gone, or -errno. */
int oh_policy_snapshot_read(int fd, const char *const *files, size_t n, struct oh_policy_snapshot *snap);

void oh_policy_snapshot_done(struct oh_policy_snapshot *snap);

#endif
