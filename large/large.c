/* Large room entry points: backend choice through the registry, header checks. */
#include "large/large.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/components.h"
#include "core/limits.h"
#include "core/options.h"
#include "core/report.h"
#include "counters/counters.h"
#include "policy/policy.h"

void hak_large_hdr_init(char *user, char *base, size_t total, hak_large_backend backend,
                        uintptr_t site, uint64_t flags) {
    hak_large_hdr *h = (hak_large_hdr *)user - 1;
    h->node.next = NULL;
    h->node.key = (uintptr_t)user;
    h->node.kind = HAK_BLOCK_LARGE;
    h->node.family = HAK_FAMILY_UNKNOWN;
    h->node.aux = (uint32_t)backend;
    h->magic = HAK_LARGE_MAGIC ^ (uintptr_t)user;
    h->base = base;
    h->total = total;
    h->site = site;
    h->flags = flags;
    hak_map_block_insert(&h->node);
    HAK_GAUGE_ADD(live_large_bytes, total);
    HAK_GAUGE_ADD(live_large_blocks, 1);
}

/* The backend for this request: the kill switch, else the large slot's policy. */
static hak_large_backend choose_backend(size_t size, size_t alignment, uintptr_t site) {
    if (hak_option(HAK_OPT_LARGE_FORCE_MMAP))
        return HAK_BACKEND_MMAP;
    const hak_policy *p = hak_policy_active(HAK_SLOT_LARGE);
    if (!p)
        return HAK_BACKEND_MALLOC;
    hak_large_backend b = p->large_choose(p->ctx, size, alignment, site);
    return b == HAK_BACKEND_MMAP ? HAK_BACKEND_MMAP : HAK_BACKEND_MALLOC;
}

void *hak_large_alloc(size_t size, size_t alignment, uintptr_t site, int zero) {
    if (alignment < HAK_MIN_ALIGN)
        alignment = HAK_MIN_ALIGN;
    if (choose_backend(size, alignment, site) == HAK_BACKEND_MMAP)
        return hak_large_mmap_alloc(size, alignment, site, zero);
    return hak_large_malloc_alloc(size, alignment, site, zero);
}

static hak_large_hdr *checked_header(const hak_map_block *b) {
    hak_large_hdr *h = hak_large_hdr_of(b);
    if (hak_unlikely(h->magic != (HAK_LARGE_MAGIC ^ h->node.key))) {
        hak_report("large block %p: header overwritten (a write before the block's start?)",
                   (void *)h->node.key);
        abort();
    }
    return h;
}

void hak_large_free(hak_map_block *b) {
    hak_large_hdr *h = checked_header(b);
    HAK_COUNT(large_free);
    HAK_GAUGE_ADD(live_large_bytes, -(int64_t)h->total);
    HAK_GAUGE_ADD(live_large_blocks, -1);
    h->magic = 0;
    if (h->node.aux == HAK_BACKEND_MMAP)
        hak_large_mmap_free(h);
    else
        hak_large_malloc_free(h);
}

size_t hak_large_usable_size(const hak_map_block *b) {
    return hak_large_usable(checked_header(b));
}

void *hak_large_realloc(hak_map_block *b, size_t size, uintptr_t site) {
    (void)site;
    hak_large_hdr *h = checked_header(b);
    if (size <= HAK_SMALL_MAX || size > (size_t)PTRDIFF_MAX) {
        errno = size > (size_t)PTRDIFF_MAX ? ENOMEM : EAGAIN;
        return NULL; /* small now: let the front door move it to tiny */
    }
    size_t usable = hak_large_usable(h);
    if (size <= usable && size >= usable / 2)
        return (void *)h->node.key;
    void *p = h->node.aux == HAK_BACKEND_MMAP ? hak_large_mmap_realloc(h, size)
                                              : hak_large_malloc_realloc(h, size);
    if (p)
        HAK_COUNT(large_realloc_inplace);
    return p;
}

static void large_init(void) {
    hak_large_register_policies();
}

const hak_component hak_component_large = {
    .name = "large",
    .init = large_init,
};
