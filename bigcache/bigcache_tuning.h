/* BigCache room: its size classes, and hooks for tests.
 *
 * Not part of the interface other rooms use (bigcache/bigcache.h is). */
#ifndef HAKMEM_BIGCACHE_BIGCACHE_TUNING_H
#define HAKMEM_BIGCACHE_BIGCACHE_TUNING_H

#include <stddef.h>
#include <stdint.h>

#include "core/options.h"

/* Entries the cache can hold at once (a fixed table: bookkeeping never allocates). With
 * the default cap of 64 MiB and blocks of 1 MiB and more, the byte cap binds long before
 * the table fills; when it does fill, the oldest entry is evicted as if over the cap. */
#define HAK_BIGCACHE_SLOTS 1024u
/* Hash buckets, each with its own lock (a power of two). */
#define HAK_BIGCACHE_BUCKETS 256u

/* Test helper: sets bigcache.max_bytes (< 0: its default). */
static inline void hak_bigcache_tune_max_bytes(int64_t max_bytes) {
    hak_option_override(HAK_OPT_BIGCACHE_MAX_BYTES, max_bytes);
}

/* The size class of a request or mapping length: size rounded up to a multiple of its
 * class step, a quarter of the power of two just below it, at least 64 KiB:
 *   (0, 256K]    steps of 64K    64K 128K 192K 256K
 *   (256K, 512K] steps of 64K    320K 384K 448K 512K
 *   (512K, 1M]   steps of 128K   640K 768K 896K 1M
 *   (1M, 2M]     steps of 256K   1.25M 1.5M 1.75M 2M
 *   (2M, 4M]     steps of 512K   ...
 *   (4M, 8M]     steps of 1M     5M 6M 7M 8M        and so on, 4 classes per doubling.
 * A hit hands out at most 25% more than asked. SIZE_MAX for sizes above 2^62. */
size_t hak_bigcache_size_class(size_t size);

/* Entries cached right now. */
size_t hak_bigcache_entries(void);

#endif
