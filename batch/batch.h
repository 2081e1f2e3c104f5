/* Batch room: deferred reclaim of freed large ranges (interface).
 *
 * A freed range is added, not unmapped. Ranges wait in the batch, resident, for reuse; their
 * pages go back to the OS with madvise (MADV_DONTNEED, or MADV_FREE with batch.dontneed=0)
 * when they stay unused past large.purge_delay_ms, when retention passes its budget, when a
 * count or byte threshold is reached, or on hak_batch_flush; the ranges stay mapped for
 * reuse, and are unmapped when they stay unused past large.unmap_delay_ms more, when the
 * address space kept exceeds its cap, or on pressure and request (the purge hook,
 * core/purge.h). All functions are thread-safe. */
#ifndef HAKMEM_BATCH_BATCH_H
#define HAKMEM_BATCH_BATCH_H

#include <stddef.h>
#include <stdint.h>

/* Takes a mapped range [base, base+size) (page-aligned). 0 when kept; -1 when the batch
 * cannot keep it, and the caller still owns (and should unmap) the range: its bookkeeping
 * is full of ranges it may not drop, the range alone exceeds the cap (cap 0: batch off),
 * or the range is not page-aligned. */
int    hak_batch_add(void *base, size_t size);
/* The same for a range unused since `since` (hak_clock_ms): it ages from then (BigCache
 * hands down what it kept). */
int    hak_batch_add_since(void *base, size_t size, uint64_t since);
/* The same for a range of which only `resident` bytes may still be resident (0: given back
 * already, as a range taken out by hak_batch_take_largest and returned). */
int    hak_batch_add_range(void *base, size_t size, uint64_t since, size_t resident);
/* A kept range of at least size bytes, for reuse: the best fit; when it is larger by 256 KiB
 * or more it is split and the tail stays kept. Returns its base and sets *got to its
 * length, or NULL. Freed ranges that touch a kept one are merged with it (hak_batch_add). Pages of a reclaimed range read
 * as zero (MADV_DONTNEED) or keep old data (MADV_FREE): callers that need zeros clear it. */
void  *hak_batch_take(size_t size, size_t *got);
/* Extends a block in place: takes size bytes (page-rounded) of the kept range that starts
 * exactly at addr, splitting off its tail when 256 KiB or more would be left. Returns the
 * bytes taken (the whole range when the tail would be small), or 0. */
size_t hak_batch_take_at(void *addr, size_t size);
/* The largest kept range, pending ones first (their pages are resident), whatever its
 * size, its time and its resident bytes; NULL when nothing is kept. For a caller that
 * extends it in place when nothing kept is large enough (and gives it back with
 * hak_batch_add_range when it cannot). */
void  *hak_batch_take_largest(size_t *got, uint64_t *since, size_t *resident);
/* Reclaims every pending range now; returns the bytes handed back to the OS. */
size_t hak_batch_flush(void);
/* Unmaps every kept range except those another thread is reclaiming at this moment;
 * returns the bytes unmapped (large.flush). */
size_t hak_batch_release_all(void);
/* Bytes currently kept (pending + reclaimed), and pending only. */
size_t hak_batch_kept_bytes(void);
size_t hak_batch_pending_bytes(void);

#endif
