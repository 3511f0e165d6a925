/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A depth-first walk of a directory tree in each directory's own order,
 * the order in which fts(3), nftw(3) and their users (grep -r, find, du,
 * cp -r) visit it: an entry, and if it is a directory, everything under it,
 * then the next entry.  The broker sends ahead what such a walker opens
 * next (OPENHOOK_CMD_OPEN_WALK_AHEAD, lib/server.c) and keeps the walk per
 * connection, so the next request carries on where the last reply
 * stopped, going back up as far as the directory the walk began in.
 *
 * Only names are kept: each directory is listed once, when the walk enters
 * it, through an fd the caller opened (and decided) for it.  Not installed. */
#ifndef OH_WALK_H
#define OH_WALK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "openhook.h"

/* Levels below the directory a walk began in; deeper ones are left out
 * (a walker that goes there asks for them, which begins a walk there). */
#define OH_WALK_DEPTH 16
/* Per directory: entries and bytes of names kept.  A bigger directory is
 * walked as far as these go; what is left out is asked for. */
#define OH_WALK_ENTRIES 4096u
#define OH_WALK_NAMES (64u * 1024u)
/* In all the levels of one walk: a connection's memory stays bounded
 * however deep and wide the tree (what does not fit is asked for); and
 * in all the walks that share one count (a server's connections), so
 * that many connections cannot add up to more. */
#define OH_WALK_BYTES (256u * 1024u)
#define OH_WALK_SHARED_BYTES (32u * 1024u * 1024u)

struct oh_walk_entry {
        uint64_t ino;
        uint32_t name_off;
        uint8_t type;                   /* DT_REG or DT_DIR */
};

struct oh_walk_level {
        struct oh_walk_entry *ents;
        char *names;
        size_t n, next;                 /* entries kept; the next one to visit */
        size_t path_len;                /* of the walk's path while in this directory */
        size_t bytes;                   /* its arrays' */
        uint64_t ino;                   /* the directory's */
};

struct oh_walk {
        unsigned int depth;             /* levels entered and not yet left; 0: none */
        size_t bytes;                   /* held by the levels' arrays */
        atomic_size_t *shared;          /* counts them too, if not NULL */
        uint64_t dev;                   /* every directory's; entries of others are left out */
        char path[OPENHOOK_PATH_MAX];   /* the deepest level's directory */
        struct oh_walk_level level[OH_WALK_DEPTH];
};

/* The next entry: NAME in the deepest level's directory (the walk's
 * path). */
struct oh_walk_item {
        const char *name;
        uint64_t ino;
        uint8_t type;
};

/* Begins a walk in directory DIR (absolute), on device DEV: its first
 * level is entered with oh_walk_enter(W, DFD, NULL, ...).  Whatever W held
 * is let go first.  W->shared, if set, stays. */
int oh_walk_begin(struct oh_walk *w, const char *dir, uint64_t dev);

/* Lists directory DFD (inode INO) as the next level: the walk's root when
 * NAME is NULL, else the entry NAME of the current level, just stepped
 * past.  Entries up to and including AFTER (NULL: none) are skipped.  At
 * most *BUDGET entries are looked at (counted down), so one request's work
 * stays bounded; a directory listed only in part is walked as far as it
 * was listed.  DFD's offset is left at the end of what was read: the caller
 * rewinds it before handing it out.  Returns 0, -ELOOP below
 * OH_WALK_DEPTH, -ENAMETOOLONG, -ENOMEM, or -errno from getdents64. */
int oh_walk_enter(struct oh_walk *w, int dfd, uint64_t ino, const char *name, const char *after,
                  unsigned int *budget);

/* The next entry, leaving every directory that has none left.  Returns
 * false when the walk is over. */
bool oh_walk_peek(struct oh_walk *w, struct oh_walk_item *it);

/* Steps past the entry oh_walk_peek() returned. */
void oh_walk_step(struct oh_walk *w);

/* The inode of the deepest level's directory. */
uint64_t oh_walk_dir_ino(const struct oh_walk *w);

/* The absolute path of IT into OUT.  Returns false when it is too long. */
bool oh_walk_item_path(const struct oh_walk *w, const struct oh_walk_item *it, char out[OPENHOOK_PATH_MAX]);

/* Lets go of every level. */
void oh_walk_end(struct oh_walk *w);

#endif
