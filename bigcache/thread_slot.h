/* BigCache's per-thread front (room-internal): each thread keeps the mapping it freed last,
 * so a thread that frees and allocates the same size at the same site (the VM scenario's
 * loop) gets it back with two atomic exchanges and no lock, hash or list.
 *
 * The slot is part of BigCache: its bytes count in the cache's byte total and its cap, its
 * hits and inserts are BigCache's, and hak_bigcache_clear empties every thread's slot
 * (slots are exchanged atomically, so another thread can take one). A block leaves the slot
 * when its thread frees another one (it goes to the shared cache then), when a request of
 * its site and class takes it, at clear, or at thread exit. */
#ifndef HAKMEM_BIGCACHE_THREAD_SLOT_H
#define HAKMEM_BIGCACHE_THREAD_SLOT_H

#include <stddef.h>
#include <stdint.h>

/* What a slot holds; also written at the start of the mapping, where whoever takes the
 * block out of another thread's slot reads it. */
typedef struct hak_bigcache_block {
    char *base;
    size_t len;
    uintptr_t site;
    size_t cls;
    uint64_t since; /* when it was freed (hak_clock_ms) */
} hak_bigcache_block;

/* Puts b in the calling thread's slot. Returns 1 and sets *old to the block the slot held
 * before (base NULL when it was empty); 0 when this thread cannot use a slot (it is
 * exiting, or thread-exit hooks are unavailable), and nothing changed. */
int hak_bigcache_slot_swap(const hak_bigcache_block *b, hak_bigcache_block *old);
/* The calling thread's slot block when it is of this site and class and at least size
 * bytes long: its base (the slot is then empty) and *len; NULL otherwise. */
char *hak_bigcache_slot_take(size_t size, uintptr_t site, size_t cls, size_t *len);
/* Empties the calling thread's slot: 1 and *out, or 0 when it was empty. */
int hak_bigcache_slot_take_own(hak_bigcache_block *out);
/* Empties every thread's slot, calling give(block) for each block taken. */
void hak_bigcache_slot_drain_all(void (*give)(const hak_bigcache_block *));
/* Takes from every thread's slot the block freed at least delay_ms before now, for
 * give_due (the purge clock, core/purge.h); a block found younger once taken (freed again
 * meanwhile) goes to give_young. */
void hak_bigcache_slot_drain_aged(uint64_t now, int64_t delay_ms,
                                  void (*give_due)(const hak_bigcache_block *),
                                  void (*give_young)(const hak_bigcache_block *));

/* Hooks for bigcache.c: thread-exit key (give receives the blocks of exiting threads) and
 * fork (in the child, give receives the blocks of the threads that did not survive it). */
void hak_bigcache_slot_init(void (*give)(const hak_bigcache_block *));
void hak_bigcache_slot_fork_prepare(void);
void hak_bigcache_slot_fork_parent(void);
void hak_bigcache_slot_fork_child(void (*give)(const hak_bigcache_block *));
/* Length of the block in the calling thread's slot, 0 when it is empty. */
size_t hak_bigcache_slot_own_len(void);

#endif
