#include "core/map.h"

#include <errno.h>

#include "core/lock.h"
#include "core/os.h"

void **hak_map_top[HAK_MAP_TOP_COUNT];

static void **leaf_for(uintptr_t a) {
    uintptr_t top = a >> HAK_MAP_TOP_SHIFT;
    void **leaf = __atomic_load_n(&hak_map_top[top], __ATOMIC_ACQUIRE);
    if (leaf)
        return leaf;
    void **fresh = hak_os_map(HAK_MAP_LEAF_COUNT * sizeof(void *));
    if (!fresh)
        return NULL;
    void **expected = NULL;
    if (__atomic_compare_exchange_n(&hak_map_top[top], &expected, fresh, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE))
        return fresh;
    hak_os_unmap(fresh, HAK_MAP_LEAF_COUNT * sizeof(void *)); /* another thread won */
    return expected;
}

int hak_map_slab_set(void *start, size_t size, void *owner) {
    uintptr_t a = (uintptr_t)start;
    uintptr_t end = a + size;
    if ((end - 1) >> HAK_MAP_ADDR_BITS) {
        errno = EINVAL;
        return -1;
    }
    for (; a < end; a += HAK_MAP_GRANULE) {
        void **leaf = leaf_for(a);
        if (!leaf) {
            errno = ENOMEM;
            return -1;
        }
        __atomic_store_n(&leaf[(a >> HAK_MAP_GRANULE_SHIFT) & (HAK_MAP_LEAF_COUNT - 1)], owner,
                         __ATOMIC_RELEASE);
    }
    return 0;
}

/* ---- block map ---- */
#define BUCKET_BITS 16
#define STRIPES     64

static hak_map_block *buckets[1u << BUCKET_BITS];
static hak_lock stripes[STRIPES];

static inline unsigned bucket_of(uintptr_t key) {
    return (unsigned)(((key >> 4) * 0x9E3779B97F4A7C15ull) >> (64 - BUCKET_BITS));
}

static inline hak_lock *stripe_of(unsigned bucket) {
    return &stripes[bucket % STRIPES];
}

void hak_map_block_insert(hak_map_block *b) {
    unsigned h = bucket_of(b->key);
    hak_lock *l = stripe_of(h);
    hak_lock_acquire(l);
    b->next = buckets[h];
    buckets[h] = b;
    hak_lock_release(l);
}

hak_map_block *hak_map_block_find(const void *p) {
    uintptr_t key = (uintptr_t)p;
    unsigned h = bucket_of(key);
    hak_lock *l = stripe_of(h);
    hak_lock_acquire(l);
    hak_map_block *b = buckets[h];
    while (b && b->key != key)
        b = b->next;
    hak_lock_release(l);
    return b;
}

hak_map_block *hak_map_block_remove(const void *p) {
    uintptr_t key = (uintptr_t)p;
    unsigned h = bucket_of(key);
    hak_lock *l = stripe_of(h);
    hak_lock_acquire(l);
    hak_map_block **pp = &buckets[h];
    while (*pp && (*pp)->key != key)
        pp = &(*pp)->next;
    hak_map_block *b = *pp;
    if (b)
        *pp = b->next;
    hak_lock_release(l);
    return b;
}

void hak_map_fork_prepare(void) {
    for (int i = 0; i < STRIPES; i++)
        hak_lock_acquire(&stripes[i]);
}

void hak_map_fork_parent(void) {
    for (int i = STRIPES - 1; i >= 0; i--)
        hak_lock_release(&stripes[i]);
}

void hak_map_fork_child(void) {
    for (int i = 0; i < STRIPES; i++)
        hak_lock_reset(&stripes[i]);
}
