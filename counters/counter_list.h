/* The one list of hakmem counters: X(name, hot, help).
 * hot=1: on the tiny hot path; compiled away unless HAKMEM_DEBUG_COUNTERS is set.
 * hot=0: on slow or large paths next to a system call; always counted.
 * Counters only grow; the gauges (HAK_GAUGE_LIST, below) say how much is held now. */
#ifndef HAKMEM_COUNTERS_COUNTER_LIST_H
#define HAKMEM_COUNTERS_COUNTER_LIST_H

#define HAK_COUNTER_LIST(X)                                                                   \
    X(os_mmap, 0, "mmap calls that succeeded")                                                \
    X(os_munmap, 0, "munmap calls")                                                           \
    X(os_mremap, 0, "mremap calls")                                                           \
    X(os_madvise_free, 0, "madvise(MADV_FREE) calls")                                        \
    X(os_madvise_free_refused, 0, "MADV_FREE refused, fell back to MADV_DONTNEED")           \
    X(os_madvise_dontneed, 0, "madvise(MADV_DONTNEED) calls")                                \
    X(os_mapped_bytes, 0, "bytes mapped from the OS")                                        \
    X(os_unmapped_bytes, 0, "bytes unmapped")                                                \
    X(foreign_free, 0, "frees of pointers hakmem does not own")                              \
    X(misuse, 0, "misuses reported: foreign pointer, double free, interior pointer")          \
    X(tiny_check_suspect, 0, "tiny frees that failed a fast check and were examined")         \
    X(large_alloc_malloc, 0, "large blocks served by the malloc backend")                    \
    X(large_alloc_mmap, 0, "large blocks served by the mmap backend")                        \
    X(large_free, 0, "large blocks freed")                                                   \
    X(large_realloc_inplace, 0, "large reallocs served without copying")                     \
    X(large_extend, 0, "large blocks made from a kept range extended in place")              \
    X(policy_switch, 0, "policy selections through the registry")                            \
    X(bigcache_hit, 0, "BigCache hits")                                                      \
    X(bigcache_miss, 0, "BigCache misses")                                                   \
    X(bigcache_insert, 0, "blocks inserted into BigCache")                                   \
    X(bigcache_evict, 0, "BigCache evictions")                                               \
    X(batch_add, 0, "ranges added to the reclaim batch")                                     \
    X(batch_flush, 0, "batch flushes")                                                       \
    X(batch_reuse, 0, "ranges reused from the batch")                                        \
    X(batch_split, 0, "batch ranges split to serve a smaller request")                       \
    X(batch_coalesce, 0, "freed ranges merged with a kept neighbour")                        \
    X(batch_reclaimed_bytes, 0, "bytes given back to the OS by batch flushes")               \
    X(purge_time, 0, "purge passes of the clock (caches older than their delay)")             \
    X(purge_time_bytes, 0, "bytes given back because they stayed unused past their delay")   \
    X(purge_cap, 0, "passes because retained bytes passed the budget")                       \
    X(purge_cap_bytes, 0, "bytes given back by them and by the rooms' own caps")             \
    X(purge_pressure, 0, "times the OS refused memory and every cache was released")          \
    X(purge_pressure_bytes, 0, "bytes given back under pressure (before the retry)")          \
    X(purge_request, 0, "trims on request (hak_trim, malloc_trim, large.flush)")              \
    X(purge_request_bytes, 0, "bytes given back on request")                                  \
    X(superslab_new, 0, "SuperSlabs mapped")                                                 \
    X(numa_bind_local, 0, "mappings bound to the local node (numa.mode=local)")              \
    X(numa_bind_interleave, 0, "mappings interleaved over the nodes (numa.mode=interleave)") \
    X(numa_remote_reuse, 0, "cached ranges of another node reused under numa.mode=local")    \
    X(superslab_release, 0, "SuperSlabs returned to the OS")                                 \
    X(slab_new, 0, "slabs handed to a thread")                                               \
    X(slab_release, 0, "empty slabs returned to the provider")                               \
    X(tiny_heap_adopt, 0, "thread heaps adopted from exited threads")                        \
    X(tiny_heap_drain, 0, "live heaps whose ready slabs another thread processed")            \
    X(tiny_refill, 1, "tiny refills (tls_sll empty)")                                        \
    X(tiny_refill_disabled, 1, "refill early return: tiny.enabled=0 or size above tiny")     \
    X(tiny_refill_no_heap, 1, "refill early return: no thread heap (out of memory)")         \
    X(tiny_refill_no_slab, 1, "refill early return: no slab (out of memory)")                \
    X(tiny_refill_adopt, 1, "refill stage 4: slab adopted from an exited thread's heap")     \
    X(tiny_refill_local, 1, "refill stage 1: slab local free list")                          \
    X(tiny_refill_remote, 1, "refill stage 2: slab remote-free queue")                       \
    X(tiny_refill_carve, 1, "refill stage 3: carved fresh blocks")                           \
    X(tiny_refill_other_slab, 1, "refill stage 4: another slab of the class")                \
    X(tiny_refill_new_slab, 1, "refill stage 5: new slab from the provider")                 \
    X(tiny_free_tls_sll, 1, "frees pushed to the thread's tls_sll")                          \
    X(tiny_free_ss_local, 1, "frees returned to the slab local list (cache flush)")          \
    X(tiny_free_ss_remote, 1, "frees pushed to a slab remote queue")

/* Gauges: X(name, help), one process-wide value each, raised and lowered by the room that
 * holds the bytes (an atomic add next to a system call or under a slow-path lock). Live
 * bytes are what the program holds; retained bytes are resident memory kept for reuse,
 * which the purge budget (core/purge.h) bounds; kept bytes are address space kept mapped
 * for reuse, resident or not. */
#define HAK_GAUGE_LIST(X)                                                                     \
    X(live_large_bytes, "bytes of large blocks in use (their mappings or C-library blocks)")  \
    X(live_large_blocks, "large blocks in use")                                               \
    X(live_slab_bytes, "bytes of slabs handed to threads (64 KiB each)")                      \
    X(retained_bigcache_bytes, "resident bytes of freed large mappings kept in BigCache")     \
    X(retained_batch_bytes, "resident bytes of freed large ranges in the batch, not purged")  \
    X(retained_slab_bytes, "resident bytes of free slabs kept by the provider, not purged")   \
    X(kept_batch_bytes, "address space of freed large ranges kept mapped by the batch")       \
    X(kept_superslab_bytes, "address space of empty SuperSlabs kept mapped")

#endif
