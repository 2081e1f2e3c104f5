/* BigCache room: a cache of freed large mappings keyed by (call site, size class), so a
 * site that frees and allocates the same size again gets its mapping back without a
 * system call (interface).
 *
 * Hard cap in bytes (option bigcache.max_bytes); when an insert would exceed it, the least
 * recently inserted entries are evicted into the batch (batch/batch.h). Thread-safe. */
#ifndef HAKMEM_BIGCACHE_BIGCACHE_H
#define HAKMEM_BIGCACHE_BIGCACHE_H

#include <stddef.h>
#include <stdint.h>

/* Caches the mapping [base, base+size) freed at site. 0 when cached; -1 when refused (too
 * big for the cap, or the cache is off; rarely, no room could be made because every other
 * entry was being taken at that moment), and the caller still owns the range. size is the
 * mapping length; hak_bigcache_get must be asked with the same measure. */
int   hak_bigcache_put(void *base, size_t size, uintptr_t site);
/* A mapping cached for this site whose size class matches size. Returns its base and sets
 * *got to its length (>= size), or NULL on a miss. */
void *hak_bigcache_get(size_t size, uintptr_t site, size_t *got);
/* Evicts everything into the batch. */
void  hak_bigcache_clear(void);
/* Evicts the least recently inserted entries into the batch until at least bytes went;
 * returns how many did. */
size_t hak_bigcache_evict(size_t bytes);
size_t hak_bigcache_bytes(void);

#endif
