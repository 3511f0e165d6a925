/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The record of what a broker created in its private-temporary (t)
 * directories: which files, directories and symlinks are the sandbox's
 * own, by identity, never by name (doc/DESIGN.md "Private temporaries").
 *
 * An object is named by its device and inode number and by its file
 * handle (name_to_handle_at(2)), which on the filesystems that have one
 * (ext4, xfs, btrfs, tmpfs, ...) holds the inode's generation: a name
 * another process reused, a symlink or a hard link planted to a file of
 * its own, or a foreign file renamed over the sandbox's name all carry
 * another inode, and an inode number the filesystem hands out again
 * after the sandbox's file is gone carries another generation.  The
 * birth time is compared too; alone it would not do, as two files made
 * within a clock tick share it.
 *
 * One record per policy object, shared by every connection and the
 * supervisor that decide with it; it lives in the broker's memory and
 * goes away with it.  Thread-safe. */
#ifndef OH_CREATED_H
#define OH_CREATED_H

#include <stdbool.h>
#include <stdint.h>

struct oh_created;

#define OH_HANDLE_MAX 128       /* the kernel's MAX_HANDLE_SZ */

/* Who an object is, and what the record needs to know about it. */
struct oh_object {
        uint32_t dev_major, dev_minor;
        uint64_t ino;
        int64_t btime_sec;
        uint32_t btime_nsec;
        bool btime;             /* the filesystem reports a birth time */
        int handle_type;        /* 0 and no bytes: the filesystem gives no handle */
        uint32_t handle_bytes;
        unsigned char handle[OH_HANDLE_MAX];
        uint32_t nlink;
        uint32_t uid;
        uint16_t mode;          /* S_IFMT and permission bits */
};

int oh_created_new(struct oh_created **ret);
/* Another owner of C (a reloaded policy keeps its predecessor's record). */
struct oh_created *oh_created_ref(struct oh_created *c);
void oh_created_unref(struct oh_created *c);

/* Fills O for NAME in DIRFD, never following a final symlink; NAME ""
 * means DIRFD itself.  0 or -errno. */
int oh_object_at(int dirfd, const char *name, struct oh_object *o);

/* Records O as created by the sandbox.  0 or -ENOMEM. */
int oh_created_add(struct oh_created *c, const struct oh_object *o);
bool oh_created_has(struct oh_created *c, const struct oh_object *o);
/* Forgets O: the sandbox removed its last name. */
void oh_created_forget(struct oh_created *c, const struct oh_object *o);

#endif
