/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The record of what the sandbox created in t directories (created.h): a
 * set of object identities under a mutex, since the socket server's
 * workers and the seccomp supervisor decide concurrently. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "created.h"
#include "util.h"

struct oh_created {
        pthread_mutex_t lock;
        void *root;             /* tsearch tree of struct oh_object */
        int refs;
};

int oh_created_new(struct oh_created **ret)
{
        struct oh_created *c = calloc(1, sizeof(*c));

        if (!c)
                return -ENOMEM;
        pthread_mutex_init(&c->lock, NULL);
        c->refs = 1;
        *ret = c;
        return 0;
}

struct oh_created *oh_created_ref(struct oh_created *c)
{
        __atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
        return c;
}

void oh_created_unref(struct oh_created *c)
{
        if (!c || __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) > 0)
                return;
        tdestroy(c->root, free);
        pthread_mutex_destroy(&c->lock);
        free(c);
}

/* The handle's bytes carry the inode's generation where the filesystem
 * has one; none (EOPNOTSUPP: procfs, some FUSE) leaves the rest to say. */
static void handle_of(int dirfd, const char *name, int flags, struct oh_object *o)
{
        union {
                struct file_handle fh;
                unsigned char buf[sizeof(struct file_handle) + OH_HANDLE_MAX];
        } h = { .fh.handle_bytes = OH_HANDLE_MAX };
        int mount_id;

        if (name_to_handle_at(dirfd, name, &h.fh, &mount_id, flags) < 0 || h.fh.handle_bytes > OH_HANDLE_MAX)
                return;
        o->handle_type = h.fh.handle_type;
        o->handle_bytes = h.fh.handle_bytes;
        memcpy(o->handle, h.fh.f_handle, h.fh.handle_bytes);
}

int oh_object_at(int dirfd, const char *name, struct oh_object *o)
{
        struct statx stx;
        int flags = AT_SYMLINK_NOFOLLOW | (name[0] ? 0 : AT_EMPTY_PATH);

        if (statx(dirfd, name, flags, STATX_TYPE | STATX_MODE | STATX_INO | STATX_NLINK | STATX_UID |
                  STATX_BTIME, &stx) < 0)
                return oh_negerrno();
        *o = (struct oh_object) {
                .dev_major = stx.stx_dev_major,
                .dev_minor = stx.stx_dev_minor,
                .ino = stx.stx_ino,
                .btime = (stx.stx_mask & STATX_BTIME) != 0,
                .nlink = stx.stx_nlink,
                .uid = stx.stx_uid,
                .mode = stx.stx_mode,
        };
        if (o->btime) {
                o->btime_sec = stx.stx_btime.tv_sec;
                o->btime_nsec = stx.stx_btime.tv_nsec;
        }
        handle_of(dirfd, name, name[0] ? 0 : AT_EMPTY_PATH, o);
        return 0;
}

#define CMP(a, b) ((a) < (b) ? -1 : (a) > (b))

/* Identity only: the link count, owner and mode change over a file's life. */
static int object_compare(const void *x, const void *y)
{
        const struct oh_object *a = x, *b = y;
        int r;

        if ((r = CMP(a->ino, b->ino)) || (r = CMP(a->dev_major, b->dev_major)) ||
            (r = CMP(a->dev_minor, b->dev_minor)) || (r = CMP(a->btime, b->btime)) ||
            (r = CMP(a->btime_sec, b->btime_sec)) || (r = CMP(a->btime_nsec, b->btime_nsec)) ||
            (r = CMP(a->handle_type, b->handle_type)) || (r = CMP(a->handle_bytes, b->handle_bytes)))
                return r;
        return memcmp(a->handle, b->handle, a->handle_bytes);
}

int oh_created_add(struct oh_created *c, const struct oh_object *o)
{
        _cleanup_free_ struct oh_object *copy = malloc(sizeof(*copy));
        int r = 0;

        if (!copy)
                return -ENOMEM;
        *copy = *o;
        pthread_mutex_lock(&c->lock);
        struct oh_object **slot = tsearch(copy, &c->root, object_compare);
        if (!slot)
                r = -ENOMEM;
        else if (*slot == copy)
                copy = NULL;    /* the tree owns it */
        pthread_mutex_unlock(&c->lock);
        return r;
}

bool oh_created_has(struct oh_created *c, const struct oh_object *o)
{
        pthread_mutex_lock(&c->lock);
        bool found = tfind(o, &c->root, object_compare) != NULL;
        pthread_mutex_unlock(&c->lock);
        return found;
}

void oh_created_forget(struct oh_created *c, const struct oh_object *o)
{
        pthread_mutex_lock(&c->lock);
        struct oh_object **slot = tfind(o, &c->root, object_compare);
        if (slot) {
                struct oh_object *kept = *slot;

                tdelete(o, &c->root, object_compare);
                free(kept);
        }
        pthread_mutex_unlock(&c->lock);
}
