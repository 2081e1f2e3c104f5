#include "core/os.h"

#include <errno.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/compiler.h"
#include "core/numa.h"
#include "counters/counters.h"

static size_t page_size_cache;
static atomic_uint fail_maps;

size_t hak_os_page_size(void) {
    if (hak_unlikely(page_size_cache == 0)) {
        long p = sysconf(_SC_PAGESIZE);
        page_size_cache = p > 0 ? (size_t)p : 4096;
    }
    return page_size_cache;
}

void hak_os_fail_next_maps(unsigned count) {
    atomic_store(&fail_maps, count);
}

static int injected_failure(void) {
    unsigned n = atomic_load_explicit(&fail_maps, memory_order_relaxed);
    while (n > 0) {
        if (atomic_compare_exchange_weak(&fail_maps, &n, n - 1))
            return 1;
    }
    return 0;
}

void *hak_os_map(size_t size) {
    if (size == 0 || injected_failure()) {
        errno = size == 0 ? EINVAL : ENOMEM;
        return NULL;
    }
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        errno = ENOMEM;
        return NULL;
    }
    HAK_COUNT(os_mmap);
    HAK_COUNT_ADD(os_mapped_bytes, size);
    return p;
}

void *hak_os_map_aligned(size_t size, size_t alignment) {
    size_t page = hak_os_page_size();
    if (alignment <= page)
        return hak_os_map(size);
    if (size + alignment < size) {
        errno = ENOMEM;
        return NULL;
    }
    /* Over-map, then trim the unaligned head and the tail. */
    uint8_t *raw = hak_os_map(size + alignment);
    if (!raw)
        return NULL;
    uint8_t *start = (uint8_t *)HAK_ALIGN_UP((uintptr_t)raw, alignment);
    size_t head = (size_t)(start - raw);
    size_t tail = alignment - head;
    if (head)
        hak_os_unmap(raw, head);
    if (tail)
        hak_os_unmap(start + size, tail);
    return start;
}

void *hak_os_map_placed(size_t size, size_t alignment) {
    void *p = hak_os_map_aligned(size, alignment);
    if (p)
        hak_numa_place(p, size);
    return p;
}

void *hak_os_find_free(size_t size, size_t alignment) {
    if (size == 0 || size + alignment < size) {
        errno = EINVAL;
        return NULL;
    }
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
    void *raw = mmap(NULL, size + alignment, PROT_NONE, flags, -1, 0);
    if (raw == MAP_FAILED) {
        errno = ENOMEM;
        return NULL;
    }
    munmap(raw, size + alignment);
    return (void *)HAK_ALIGN_UP((uintptr_t)raw, alignment);
}

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000 /* Linux 4.17; older kernels take it as a hint */
#endif

/* mmap at exactly addr without replacing anything: addr, or MAP_FAILED (errno EEXIST when
 * the range is taken; a kernel that takes MAP_FIXED_NOREPLACE as a hint and maps
 * elsewhere counts as taken). */
static void *map_exactly(void *addr, size_t size, int prot, int flags) {
    void *p = mmap(addr, size, prot, flags | MAP_FIXED_NOREPLACE, -1, 0);
    if (p != MAP_FAILED && p != addr) {
        munmap(p, size);
        errno = EEXIST;
        return MAP_FAILED;
    }
    return p;
}

void *hak_os_map_at(void *addr, size_t size) {
    if (injected_failure()) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = map_exactly(addr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    if (p == MAP_FAILED) {
        if (errno != EEXIST)
            errno = ENOMEM;
        return NULL;
    }
    HAK_COUNT(os_mmap);
    HAK_COUNT_ADD(os_mapped_bytes, size);
    hak_numa_place(p, size);
    return p;
}

int hak_os_decommit(void *addr, size_t size) {
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
    int lost = 0;
    if (mmap(addr, size, PROT_NONE, flags | MAP_FIXED, -1, 0) == MAP_FAILED &&
        map_exactly(addr, size, PROT_NONE, flags) == MAP_FAILED) {
        /* A failed MAP_FIXED may have unmapped the range first (older kernels) and the
         * hole could not be filled again. EEXIST: the old mapping is intact. */
        if (errno == EEXIST)
            return -1;
        lost = 1;
    }
    HAK_COUNT(os_munmap); /* decommitted, or gone: no longer mapped by us either way */
    HAK_COUNT_ADD(os_unmapped_bytes, size);
    return lost ? -2 : 0;
}

int hak_os_unreserve(void *addr, size_t size) {
    return munmap(addr, size);
}

int hak_os_recommit(void *addr, size_t size) {
    /* mprotect, not a new mapping: a failure leaves the range as it was. */
    if (injected_failure() || mprotect(addr, size, PROT_READ | PROT_WRITE) != 0) {
        errno = ENOMEM;
        return -1;
    }
    HAK_COUNT(os_mmap);
    HAK_COUNT_ADD(os_mapped_bytes, size);
    hak_numa_place(addr, size);
    return 0;
}

int hak_os_unmap(void *addr, size_t size) {
    if (munmap(addr, size) != 0)
        return -1;
    HAK_COUNT(os_munmap);
    HAK_COUNT_ADD(os_unmapped_bytes, size);
    return 0;
}

int hak_os_advise_huge(void *addr, size_t size) {
#ifdef MADV_HUGEPAGE
    return madvise(addr, size, MADV_HUGEPAGE);
#else
    (void)addr;
    (void)size;
    errno = ENOTSUP;
    return -1;
#endif
}

void *hak_os_remap(void *addr, size_t old_size, size_t new_size) {
    void *p = mremap(addr, old_size, new_size, MREMAP_MAYMOVE);
    if (p == MAP_FAILED) {
        errno = ENOMEM;
        return NULL;
    }
    HAK_COUNT(os_mremap);
    return p;
}

int hak_os_reclaim(void *addr, size_t size, int dontneed) {
#ifdef MADV_FREE
    if (!dontneed) {
        if (madvise(addr, size, MADV_FREE) == 0) {
            HAK_COUNT(os_madvise_free);
            return 0;
        }
        /* Kernels before 4.5 (or some mappings) refuse MADV_FREE: fall back. */
        HAK_COUNT(os_madvise_free_refused);
    }
#endif
    if (madvise(addr, size, MADV_DONTNEED) == 0) {
        HAK_COUNT(os_madvise_dontneed);
        return 0;
    }
    return -1;
}
