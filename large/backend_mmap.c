/* The mmap backend: one anonymous mapping per block, header 64 bytes before the user
 * pointer. Freed mappings are not unmapped:
 *   free:  mapping of 1 MiB or more -> BigCache (same site and size class get it back);
 *          otherwise, or when BigCache refuses -> the batch (kept mapped, its pages given
 *          back once unused past large.purge_delay_ms, core/purge.h);
 *          only when both refuse -> munmap.
 *   alloc: BigCache hit -> the batch's best fit (split when much larger) -> old BigCache
 *          entries evicted into the batch, best fit again -> a new mapping, placed per
 *          numa.mode (a reused range is placed again: it may carry another mode's policy).
 *   realloc: grow into the kept range right after the block, else mremap a block that is
 *          one mapping, else (EAGAIN) the front door copies; a shrink gives its tail back.
 * Requests aligned beyond a page always get a fresh mapping (cached ranges are only
 * page-aligned). */
#include <errno.h>
#include <string.h>

#include "batch/batch.h"
#include "bigcache/bigcache.h"
#include "core/components.h"
#include "core/numa.h"
#include "core/options.h"
#include "core/os.h"
#include "counters/counters.h"
#include "large/large.h"

#define BIGCACHE_MIN ((size_t)1 << 20)
#define HOT_MAX      ((size_t)4 << 20) /* blocks a program can keep hot (cache colour) */
#define HUGE_PAGE    ((size_t)2 << 20)
#define SHRINK_MIN   ((size_t)256 << 10) /* a shrink gives its tail back from this much */

/* The largest kept range made large enough in place: a new mapping of the missing bytes
 * right after it or right before it (where the kernel put the last mapping, the space below
 * is usually free), so its resident pages serve the block where they are. Growing it with
 * mremap would move them, and a moved page costs nearly what a new one does at its next
 * touch (docs/ARCHITECTURE.md, "Large blocks"). NULL, the range kept, when both sides are
 * taken. */
static char *extend_largest(size_t total, int huge, size_t *got) {
    size_t have = 0, resident = 0;
    uint64_t since = 0;
    char *r = hak_batch_take_largest(&have, &since, &resident);
    if (!r)
        return NULL;
    if (have < total) {
        size_t more = total - have;
        char *at = NULL;
        if (hak_os_map_at(r + have, more))
            at = r + have;
        else if ((uintptr_t)r > more && hak_os_map_at(r - more, more))
            at = r - more;
        if (at) {
            if (huge)
                hak_os_advise_huge(at, more);
            HAK_COUNT(large_extend);
            *got = total;
            return at < r ? at : r;
        }
    }
    if (hak_batch_add_range(r, have, since, resident) != 0)
        hak_os_unmap(r, have);
    return NULL;
}

/* A cached or batched range of at least total bytes, or NULL; *flags says whether it is one
 * kernel mapping (HAK_LARGE_ONE_MAPPING). When neither cache has one, the oldest BigCache
 * entries go to the batch (where they merge with their neighbours) before a new mapping is
 * made: resident pages kept for a site that does not come back are better used than new
 * pages faulted in; then the largest kept range is extended in place if it can be. */
static char *reuse(size_t total, uintptr_t site, int may_extend, int huge, size_t *got,
                   uint64_t *flags) {
    char *base;
    *flags = HAK_LARGE_ONE_MAPPING;
    if (total >= BIGCACHE_MIN && (base = hak_bigcache_get(total, site, got)) != NULL)
        return base;
    *flags = 0;
    if ((base = hak_batch_take(total, got)) != NULL)
        return base;
    if (hak_bigcache_bytes() > 0 && hak_bigcache_evict(2 * total) > 0 &&
        (base = hak_batch_take(total, got)) != NULL)
        return base;
    /* Blocks up to HOT_MAX want a 2 MiB-aligned mapping of their own (below). */
    return may_extend ? extend_largest(total, huge, got) : NULL;
}

/* Cache colour, for blocks up to HOT_MAX (the ones a program can keep hot: a few fit in the
 * caches and the TLB, and BigCache hands the same mapping back again and again): where the
 * user pointer starts in its first page. Blocks that all start 64 bytes into a page (the
 * header's size) put the same bytes of every page of every block in the same cache sets;
 * glibc's heap blocks differ in their offsets and do not. The colour, from the mapping's
 * address (consecutive mappings get different colours), moves the user pointer by a
 * multiple of 64 bytes (alignment up to 64 kept) into the slack the page rounding leaves at
 * the end; a mapping handed out again gets the same colour; realloc keeps a block's offset.
 * Larger blocks are streamed through once per use, and colouring them spreads the stream
 * over the whole cache.
 *
 * Huge pages (large.hugepages): a new mapping of 2 MiB or more is advised MADV_HUGEPAGE, so
 * that its first touch costs one fault per 2 MiB instead of 512 and the block one TLB entry
 * per 2 MiB (2-4 MiB ones are also 2 MiB-aligned, below). The costs: a block touched
 * sparsely holds a whole 2 MiB page for each 2 MiB region it touches; the advice stays with
 * the range when it is reused, split or grown. docs/ARCHITECTURE.md ("Large blocks") has
 * the measurements. Under THP "never" the advice does nothing, under "always" it adds
 * nothing. */
#define COLOURS   16

static size_t coloured_offset(const char *base, size_t got, size_t size, size_t off) {
    /* Page bits alone would give every 2 MiB-aligned mapping colour 0 (huge-page mappings,
     * and the kernel aligns anonymous mappings of whole 2 MiB multiples): the 2 and 4 MiB
     * bits are added in, so 2 MiB-aligned mappings 4 MiB apart step by 3 through all 16
     * colours. (An xor gave mappings placed one below the other the same colour.) */
    uintptr_t a = (uintptr_t)base;
    size_t colour = ((a >> 12) + (a >> 21) + (a >> 22)) & (COLOURS - 1);
    size_t room = (got - off - size) / 64;
    return off + 64 * (colour < room ? colour : room);
}

void *hak_large_mmap_alloc(size_t size, size_t alignment, uintptr_t site, int zero) {
    size_t page = hak_os_page_size();
    size_t off = hak_large_header_offset(alignment);
    if (size > (size_t)PTRDIFF_MAX - off - page) {
        errno = ENOMEM;
        return NULL;
    }
    size_t total = HAK_ALIGN_UP(size + off, page);
    size_t got = total;
    uint64_t flags = HAK_LARGE_ONE_MAPPING;
    int huge = total >= HUGE_PAGE && hak_option(HAK_OPT_LARGE_HUGEPAGES);
    char *base = alignment <= page ? reuse(total, site, size > HOT_MAX, huge, &got, &flags)
                                   : NULL;
    int fresh = base == NULL;
    if (fresh) {
        size_t align = alignment > page ? alignment : page;
        /* Aligned only for blocks up to HOT_MAX, which could hold no whole huge page
         * otherwise. A larger mapping goes where the kernel puts it, right below the one
         * before: its aligned interior is huge pages all the same, and freed neighbours
         * meet in the batch and merge (over-mapping to align left a gap after each). */
        if (huge && align < HUGE_PAGE && size <= HOT_MAX)
            align = HUGE_PAGE;
        base = hak_os_map_placed(total, align);
        if (!base)
            return NULL;
        /* The whole mapping, not just its 2 MiB multiples: a part advised on its own
         * would be a VMA of its own, and mremap (realloc) refuses a range of two. */
        if (huge)
            hak_os_advise_huge(base, total);
        got = total; /* fresh mappings read as zero */
        flags = HAK_LARGE_ONE_MAPPING;
    }
    if (off == HAK_LARGE_HDR_SIZE && size <= HOT_MAX)
        off = coloured_offset(base, got, size, off);
    if (!fresh) {
        hak_numa_replace(base, got);
        /* Old contents of a reused range (MADV_FREE keeps them until the kernel needs them). */
        if (zero)
            memset(base + off, 0, size);
    }
    HAK_COUNT(large_alloc_mmap);
    hak_large_hdr_init(base + off, base, got, HAK_BACKEND_MMAP, site, flags);
    return base + off;
}

void hak_large_mmap_free(hak_large_hdr *h) {
    char *base = h->base;
    size_t total = h->total;
    if (total >= BIGCACHE_MIN && hak_bigcache_put(base, total, h->site) == 0)
        return;
    if (hak_batch_add(base, total) == 0)
        return;
    hak_os_unmap(base, total);
}

void *hak_large_mmap_realloc(hak_large_hdr *h, size_t size) {
    size_t off = (size_t)((char *)h->node.key - h->base);
    size_t page = hak_os_page_size();
    if (size > (size_t)PTRDIFF_MAX - off - page) {
        errno = ENOMEM;
        return NULL;
    }
    size_t total = HAK_ALIGN_UP(size + off, page);
    if (total <= h->total) {
        /* Shrinking: the tail goes to the batch, the block stays where it is. */
        if (h->total - total >= SHRINK_MIN &&
            hak_batch_add(h->base + total, h->total - total) == 0) {
            HAK_GAUGE_ADD(live_large_bytes, -(int64_t)(h->total - total));
            h->total = total;
        }
        return (void *)h->node.key;
    }
    /* Growing into a kept range that starts right after the block: no system call, no
     * copy, no fault for pages the range still has. */
    size_t more = hak_batch_take_at(h->base + h->total, total - h->total);
    if (more) {
        hak_numa_replace(h->base + h->total, more);
        HAK_GAUGE_ADD(live_large_bytes, more);
        h->total += more;
        h->flags &= ~(uint64_t)HAK_LARGE_ONE_MAPPING; /* the two may be separate mappings */
        return (void *)h->node.key;
    }
    /* Over-aligned (mremap may not keep the alignment), or perhaps two mappings: copy. */
    if (off > page || !(h->flags & HAK_LARGE_ONE_MAPPING)) {
        errno = EAGAIN;
        return NULL;
    }
    uintptr_t site = h->site;
    char *old_base = h->base;
    size_t old_total = h->total;
    hak_map_block_remove((void *)h->node.key);
    /* Grows in place when the pages after the mapping are free, else moves the pages
     * (no copy). */
    char *base = hak_os_remap(old_base, old_total, total);
    if (!base) {
        hak_map_block_insert(&h->node);
        errno = EAGAIN; /* the front door allocates, copies and frees instead */
        return NULL;
    }
    /* The moved or grown mapping keeps the policy the old one had, which may be another
     * mode's. */
    hak_numa_replace(base, total);
    HAK_GAUGE_ADD(live_large_bytes, -(int64_t)old_total);
    HAK_GAUGE_ADD(live_large_blocks, -1); /* hak_large_hdr_init counts the moved block */
    hak_large_hdr_init(base + off, base, total, HAK_BACKEND_MMAP, site, HAK_LARGE_ONE_MAPPING);
    return base + off;
}

void hak_large_flush(void) {
    hak_purge_req all = {HAK_PURGE_REQUEST, hak_clock_ms(), 1, 0};
    HAK_COUNT(purge_request);
    hak_component_bigcache.purge(&all); /* everything to the batch, */
    hak_component_batch.purge(&all);    /* which unmaps it and counts what was resident */
}
