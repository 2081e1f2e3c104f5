/* Tiny room: entry points for core, class limits, the component. */
#include "tiny/tiny.h"

#include <stddef.h>

#include "core/components.h"
#include "core/init.h"
#include "core/limits.h"
#include "core/options.h"
#include "tiny/heap.h"

_Static_assert(HAK_TINY_MAX_SIZE == HAK_SMALL_MAX, "tiny serves every small request");

HAK_TLS hak_tiny_cache hak_tiny_tls;
uint32_t hak_tiny_limit[HAK_TINY_CLASSES];
const unsigned hak_tiny_class_count = HAK_TINY_CLASSES;

void *hak_tiny_alloc(size_t size) {
    return hak_tiny_alloc_fast(size);
}

void *hak_tiny_alloc_cached(size_t size) {
    return hak_tiny_pop(size);
}

void hak_tiny_free(void *p, void *slab) {
    hak_tiny_free_fast(p, slab);
}

/* Blocks whose class size is a multiple of the alignment are aligned: slabs start 64 KiB
 * aligned. Powers of two up to 32 KiB are all classes. */
void *hak_tiny_alloc_aligned(size_t size, size_t alignment) {
    if (alignment > HAK_TINY_MAX_SIZE)
        return NULL;
    size_t want = size < alignment ? alignment : size;
    if (want > HAK_TINY_MAX_SIZE)
        return NULL;
    hak_init_ensure(); /* the class table is filled at init */
    unsigned cls = hak_tiny_size_to_class(want);
    if (hak_tiny_class_size[cls] % alignment != 0) {
        size_t pow2 = (size_t)1 << (64 - __builtin_clzll(want - 1));
        if (pow2 > HAK_TINY_MAX_SIZE)
            return NULL;
        want = pow2;
    }
    return hak_tiny_alloc_fast(want);
}

size_t hak_tiny_usable_size(const void *p, void *slab) {
    (void)p;
    return ((hak_slab *)slab)->block_size;
}

static void tiny_init(void) {
    hak_tiny_classes_init();

    /* tiny.cache_bytes per class, in blocks, at least 16: a class of 8-32 KiB blocks fits
     * 2-8 in a slab, and with 4 (the old floor) every other allocation of larson's 1-32768 B
     * profile went to refill or flush (16: 1.4x the throughput, the same peak RSS). The
     * floor raises what a thread may keep from 2.5 to 4.5 MiB over all classes. */
    uint64_t bytes = (uint64_t)hak_option(HAK_OPT_TINY_CACHE_BYTES);
    for (unsigned c = 0; c < HAK_TINY_CLASSES; c++) {
        uint64_t n = bytes / hak_tiny_class_size[c];
        hak_tiny_limit[c] = (uint32_t)(n < 16 ? 16 : n > 1024 ? 1024 : n);
        /* The heap profile counts the bytes of every small request in the slow path
         * (core/prof.h): with a limit of 0, refills hand out one block and every free
         * flushes, so no block is handed out twice without passing there. */
        if (hak_option(HAK_OPT_PROF_SAMPLE_BYTES) > 0)
            hak_tiny_limit[c] = 0;
    }
    hak_tiny_heaps_init();
}

const hak_component hak_component_tiny = {
    .name = "tiny",
    .init = tiny_init,
    .fork_prepare = hak_tiny_heaps_fork_prepare,
    .fork_parent = hak_tiny_heaps_fork_parent,
    .fork_child = hak_tiny_heaps_fork_child,
    .purge = hak_tiny_heaps_purge,
};
