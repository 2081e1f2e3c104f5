/* The mmap backend: one anonymous mapping per block, header at the start of the user
 * pointer's page. (BigCache and batched reclaim sit in front of munmap; see issue 4.) */
#include <errno.h>
#include <string.h>

#include "core/os.h"
#include "counters/counters.h"
#include "large/large.h"

static size_t header_offset(size_t alignment) {
    return alignment > HAK_LARGE_HDR_SIZE ? alignment : HAK_LARGE_HDR_SIZE;
}

void *hak_large_mmap_alloc(size_t size, size_t alignment, uintptr_t site, int zero) {
    (void)zero; /* fresh mappings are zero-filled by the kernel */
    size_t page = hak_os_page_size();
    size_t off = header_offset(alignment);
    if (size > (size_t)PTRDIFF_MAX - off - page) {
        errno = ENOMEM;
        return NULL;
    }
    size_t total = HAK_ALIGN_UP(size + off, page);
    char *base = hak_os_map_aligned(total, alignment > page ? alignment : page);
    if (!base)
        return NULL;
    HAK_COUNT(large_alloc_mmap);
    hak_large_hdr_init(base + off, base, total, HAK_BACKEND_MMAP, site);
    return base + off;
}

void hak_large_mmap_free(hak_large_hdr *h) {
    hak_os_unmap(h->base, h->total);
}

void *hak_large_mmap_realloc(hak_large_hdr *h, size_t size) {
    size_t off = (size_t)((char *)h->node.key - h->base);
    size_t page = hak_os_page_size();
    if (off > page || size > (size_t)PTRDIFF_MAX - off - page) {
        errno = off > page ? EAGAIN : ENOMEM; /* over-aligned: mremap may not keep it */
        return NULL;
    }
    size_t total = HAK_ALIGN_UP(size + off, page);
    uintptr_t site = h->site;
    char *old_base = h->base;
    size_t old_total = h->total;
    hak_map_block_remove((void *)h->node.key);
    char *base = hak_os_remap(old_base, old_total, total);
    if (!base) {
        hak_map_block_insert(&h->node);
        errno = ENOMEM;
        return NULL;
    }
    hak_large_hdr_init(base + off, base, total, HAK_BACKEND_MMAP, site);
    return base + off;
}
