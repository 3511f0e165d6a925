/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* openhook run --learn: watch the broker's decisions and write the policy
 * that grants what the command used and nothing else.
 *
 * Each request is recorded on its canonical path (symlinks resolved as the
 * broker resolves them), with the letters it needs; every symlink followed
 * on the way gets "r" (the broker follows a link only where the policy
 * allows some letter).  The letters are what the same command needs when
 * it runs again, when the files it created the first time already exist:
 *
 *   open O_RDONLY/O_RDWR      r        open O_WRONLY/O_RDWR      w
 *   O_TRUNC                   w        O_CREAT                   c
 *   O_CREAT|O_EXCL            c (it only ever creates a new file)
 *   O_TMPFILE                 cw on the directory     O_PATH     r
 *   mkdir, symlink (link), link (new name)            c
 *   link (old name)           r
 *   unlink, rmdir             d
 *   rename                    d on the old name, cd on the new one
 *                             (c only with RENAME_NOREPLACE)
 *   truncate                  w
 *
 * A directory opened for listing gets "r DIR", the exact path: the names
 * in it can be listed, nothing beneath it can be opened.  Requests the
 * kernel failed (a missing optional file) are recorded too, so the next run
 * sees the same ENOENT rather than EACCES.  "/" itself is never granted (a
 * rule for "/" would cover everything); paths that cannot be written in a
 * policy file (with a newline) are left out with a comment. */
#ifndef OH_LEARN_H
#define OH_LEARN_H

#include <stdbool.h>

#include "openhook.h"

struct oh_learn;

/* SKIP: NULL-terminated path prefixes the command reads directly (the
 * Landlock direct set); read-only requests beneath them are not recorded.
 * COLLAPSE: two or more files in one directory become one "DIR/" rule
 * (directories keep their exact rules). */
int oh_learn_new(const char *const *skip, bool collapse, struct oh_learn **ret);
void oh_learn_free(struct oh_learn *learn);

/* An openhook_log_fn (USERDATA is the struct oh_learn); thread-safe. */
void oh_learn_observe(const struct openhook_decision *d, void *userdata);

/* Writes the policy file to FD: a comment naming ARGV (the command), then
 * one "allow LETTERS PATH" line per path, sorted.  A file the run created
 * and removed (c and d, gone by now) is a temporary: it is written as one
 * "allow t DIR/" rule for the nearest existing directory it was made in
 * (the next run may make files there and use only those it made), with a
 * comment line before it; never "/".
 * Returns 0 or -errno. */
int oh_learn_write(struct oh_learn *learn, int fd, char *const *argv);

#endif
