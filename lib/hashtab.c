/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Open addressing with linear probing (hashtab.h).  The keys come from
 * the administrator's rules and the file system at load time, never from
 * a confined program, so a plain FNV hash without a secret seed will do:
 * a program's paths are only ever looked up, and a look-up costs at most
 * the length of a run of occupied slots, which the rules alone shape. */
#include <errno.h>
#include <stdlib.h>

#include "hashtab.h"

uint32_t oh_hash(uint32_t seed, const void *data, size_t len)
{
        const unsigned char *b = data;
        uint32_t h = 2166136261u ^ seed;

        for (size_t i = 0; i < len; i++)
                h = (h ^ b[i]) * 16777619u;
        return h;
}

uint32_t oh_hashtab_find(const struct oh_hashtab *t, uint32_t hash, oh_hashtab_equal_fn equal, const void *ctx,
                         const void *key)
{
        if (t->size == 0)
                return OH_HASHTAB_NONE;
        for (size_t i = hash & (t->size - 1);; i = (i + 1) & (t->size - 1)) {
                uint32_t s = t->slots[i];

                if (s == 0)
                        return OH_HASHTAB_NONE;
                if (equal(ctx, s - 1, key))
                        return s - 1;
        }
}

static void put(uint32_t *slots, size_t size, uint32_t hash, uint32_t item)
{
        size_t i = hash & (size - 1);

        while (slots[i] != 0)
                i = (i + 1) & (size - 1);
        slots[i] = item + 1;
}

int oh_hashtab_reserve(struct oh_hashtab *t, size_t more, oh_hashtab_hash_fn hash_of, const void *ctx)
{
        size_t want = t->size ? t->size : 16;
        uint32_t *slots;

        if (more > SIZE_MAX / 4 - t->used)
                return -ENOMEM;
        while (want < 2 * (t->used + more))
                want *= 2;
        if (want == t->size)
                return 0;
        slots = calloc(want, sizeof(*slots));
        if (!slots)
                return -ENOMEM;
        for (size_t i = 0; i < t->size; i++)
                if (t->slots[i] != 0)
                        put(slots, want, hash_of(ctx, t->slots[i] - 1), t->slots[i] - 1);
        free(t->slots);
        t->slots = slots;
        t->size = want;
        return 0;
}

void oh_hashtab_insert(struct oh_hashtab *t, uint32_t hash, uint32_t item)
{
        put(t->slots, t->size, hash, item);
        t->used++;
}

void oh_hashtab_done(struct oh_hashtab *t)
{
        free(t->slots);
        *t = (struct oh_hashtab) {};
}
