/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* An open-addressing hash table of item numbers, for the look-up tables
 * the policy builds once per load (lib/policy_index.c, lib/pathcache.c).
 *
 * The caller keeps its items in an array of its own, each with its hash;
 * the table only maps a hash and an equality test to an item's number.
 * It is at most half full, so a look-up probes a few slots.  Space is
 * reserved ahead (oh_hashtab_reserve), so that an insertion cannot fail
 * half-way through a batch.  Nothing is ever removed. */
#ifndef OH_HASHTAB_H
#define OH_HASHTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OH_HASHTAB_NONE UINT32_MAX

struct oh_hashtab {
        uint32_t *slots;        /* item number + 1; 0: empty */
        size_t size;            /* a power of two, or 0 */
        size_t used;
};

/* True if item ITEM of CTX has the key KEY. */
typedef bool (*oh_hashtab_equal_fn)(const void *ctx, uint32_t item, const void *key);
/* The hash ITEM of CTX was inserted with. */
typedef uint32_t (*oh_hashtab_hash_fn)(const void *ctx, uint32_t item);

/* FNV-1a of DATA[0..LEN), started from SEED. */
uint32_t oh_hash(uint32_t seed, const void *data, size_t len);

/* The item with hash HASH for which EQUAL(CTX, item, KEY) holds, or
 * OH_HASHTAB_NONE. */
uint32_t oh_hashtab_find(const struct oh_hashtab *t, uint32_t hash, oh_hashtab_equal_fn equal, const void *ctx,
                         const void *key);

/* Makes room for MORE insertions, rehashing the items with HASH_OF.
 * 0 or -ENOMEM (T unchanged). */
int oh_hashtab_reserve(struct oh_hashtab *t, size_t more, oh_hashtab_hash_fn hash_of, const void *ctx);

/* Adds ITEM, which is not in T yet, under HASH; room was reserved. */
void oh_hashtab_insert(struct oh_hashtab *t, uint32_t hash, uint32_t item);

void oh_hashtab_done(struct oh_hashtab *t);

#endif
