/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A depth-first walk in directory order (lib/walk.h). */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "walk.h"

static void level_free(struct oh_walk *w, struct oh_walk_level *l)
{
        w->bytes -= l->bytes;
        if (w->shared)
                atomic_fetch_sub(w->shared, l->bytes);
        free(l->ents);
        free(l->names);
        *l = (struct oh_walk_level) {};
}

void oh_walk_end(struct oh_walk *w)
{
        while (w->depth > 0)
                level_free(w, &w->level[--w->depth]);
}

int oh_walk_begin(struct oh_walk *w, const char *dir, uint64_t dev)
{
        size_t n = strlen(dir);

        oh_walk_end(w);
        if (n >= sizeof(w->path))
                return -ENAMETOOLONG;
        /* "/" is kept as "" so that a child is always path + "/" + name. */
        while (n > 0 && dir[n - 1] == '/')
                n--;
        memcpy(w->path, dir, n);
        w->path[n] = '\0';
        w->dev = dev;
        return 0;
}

static bool keeps(const struct dirent64 *e)
{
        if (e->d_type != DT_REG && e->d_type != DT_DIR)
                return false;
        return strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
}

/* Room being filled while a directory is listed. */
struct fill {
        size_t ents_cap, names_cap, names_used;
};

/* Grows *P (*CAP elements of SIZE) to hold NEED, within the walk's
 * bytes. */
static bool grow(struct oh_walk *w, struct oh_walk_level *l, void **p, size_t *cap, size_t need, size_t size,
                 size_t first)
{
        size_t n = *cap ? *cap : first;

        while (n < need)
                n *= 2;
        if (n == *cap)
                return true;
        size_t more = (n - *cap) * size;
        if (w->bytes + more > OH_WALK_BYTES)
                return false;
        if (w->shared && atomic_fetch_add(w->shared, more) + more > OH_WALK_SHARED_BYTES) {
                atomic_fetch_sub(w->shared, more);
                return false;
        }
        void *q = realloc(*p, n * size);
        if (!q) {
                if (w->shared)
                        atomic_fetch_sub(w->shared, more);
                return false;
        }
        *p = q;
        *cap = n;
        w->bytes += more;
        l->bytes += more;
        return true;
}

/* Adds E to L.  Returns false once L holds all it may. */
static bool level_add(struct oh_walk *w, struct oh_walk_level *l, const struct dirent64 *e, struct fill *f)
{
        size_t len = strlen(e->d_name) + 1;

        if (l->n >= OH_WALK_ENTRIES || f->names_used + len > OH_WALK_NAMES ||
            !grow(w, l, (void **) &l->ents, &f->ents_cap, l->n + 1, sizeof(*l->ents), 32) ||
            !grow(w, l, (void **) &l->names, &f->names_cap, f->names_used + len, 1, 1024))
                return false;
        memcpy(l->names + f->names_used, e->d_name, len);
        l->ents[l->n++] = (struct oh_walk_entry) { .ino = e->d_ino, .name_off = (uint32_t) f->names_used,
                                                   .type = e->d_type };
        f->names_used += len;
        return true;
}

/* Lists DFD into L from the entry after AFTER (NULL: the first). */
static int level_list(struct oh_walk *w, struct oh_walk_level *l, int dfd, const char *after, unsigned int *budget)
{
        uint8_t buf[8192];
        struct fill f = {};
        bool started = !after;
        ssize_t n = 0;

        while (*budget > 0 && (n = getdents64(dfd, buf, sizeof(buf))) > 0)
                for (ssize_t off = 0; off < n && *budget > 0;) {
                        struct dirent64 *e = (struct dirent64 *) (buf + off);

                        off += e->d_reclen;
                        (*budget)--;
                        if (!started) {
                                started = strcmp(e->d_name, after) == 0;
                                continue;
                        }
                        if (keeps(e) && !level_add(w, l, e, &f))
                                return 0;
                }
        return n < 0 && *budget > 0 ? oh_negerrno() : 0;
}

int oh_walk_enter(struct oh_walk *w, int dfd, uint64_t ino, const char *name, const char *after,
                  unsigned int *budget)
{
        size_t len = strlen(w->path);

        if (w->depth >= OH_WALK_DEPTH)
                return -ELOOP;
        if (name) {
                size_t n = strlen(name);
                if (len + 1 + n >= sizeof(w->path))
                        return -ENAMETOOLONG;
                w->path[len] = '/';
                memcpy(w->path + len + 1, name, n + 1);
                len += 1 + n;
        }

        struct oh_walk_level *l = &w->level[w->depth];
        *l = (struct oh_walk_level) { .path_len = len, .ino = ino };
        int r = level_list(w, l, dfd, after, budget);
        if (r < 0) {
                level_free(w, l);
                if (w->depth > 0)
                        w->path[w->level[w->depth - 1].path_len] = '\0';
                return r;
        }
        w->depth++;
        return 0;
}

bool oh_walk_peek(struct oh_walk *w, struct oh_walk_item *it)
{
        while (w->depth > 0) {
                struct oh_walk_level *l = &w->level[w->depth - 1];

                if (l->next < l->n) {
                        const struct oh_walk_entry *e = &l->ents[l->next];
                        *it = (struct oh_walk_item) { l->names + e->name_off, e->ino, e->type };
                        return true;
                }
                level_free(w, l);
                if (--w->depth > 0)
                        w->path[w->level[w->depth - 1].path_len] = '\0';
        }
        return false;
}

void oh_walk_step(struct oh_walk *w)
{
        if (w->depth > 0)
                w->level[w->depth - 1].next++;
}

uint64_t oh_walk_dir_ino(const struct oh_walk *w)
{
        return w->depth > 0 ? w->level[w->depth - 1].ino : 0;
}

bool oh_walk_item_path(const struct oh_walk *w, const struct oh_walk_item *it, char out[OPENHOOK_PATH_MAX])
{
        size_t a = strlen(w->path), b = strlen(it->name);

        if (a + 1 + b >= OPENHOOK_PATH_MAX)
                return false;
        memcpy(out, w->path, a);
        out[a] = '/';
        memcpy(out + a + 1, it->name, b + 1);
        return true;
}
