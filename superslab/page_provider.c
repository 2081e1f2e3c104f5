/* The plain page provider (tiny.use_superslab=0): every slab is its own 64 KiB-aligned
 * mapping, unmapped when it is given back. Descriptors come from a pool of mapped chunks. */
#include <errno.h>
#include <string.h>

#include "core/lock.h"
#include "core/map.h"
#include "core/os.h"
#include "superslab/provider.h"

#define DESC_CHUNK ((size_t)64 * 1024)

static hak_lock page_lock = HAK_LOCK_INIT;
static hak_slab *free_descs;

static hak_slab *desc_alloc(void) {
    hak_lock_acquire(&page_lock);
    if (!free_descs) {
        hak_lock_release(&page_lock);
        hak_slab *chunk = hak_os_map(DESC_CHUNK);
        if (!chunk)
            return NULL;
        hak_lock_acquire(&page_lock);
        for (size_t i = 0; i < DESC_CHUNK / sizeof(hak_slab); i++) {
            chunk[i].provider_next = free_descs;
            free_descs = &chunk[i];
        }
    }
    hak_slab *d = free_descs;
    free_descs = d->provider_next;
    hak_lock_release(&page_lock);
    return d;
}

static void desc_free(hak_slab *d) {
    hak_lock_acquire(&page_lock);
    d->provider_next = free_descs;
    free_descs = d;
    hak_lock_release(&page_lock);
}

hak_slab *hak_pageslab_acquire(void) {
    hak_slab *s = desc_alloc();
    if (!s)
        return NULL;
    char *mem = hak_os_map_aligned(HAK_SLAB_SIZE, HAK_SLAB_SIZE);
    if (!mem) {
        desc_free(s);
        return NULL;
    }
    memset(s, 0, sizeof *s);
    s->start = mem;
    if (hak_map_slab_set(mem, HAK_SLAB_SIZE, s) != 0) {
        hak_os_unmap(mem, HAK_SLAB_SIZE);
        desc_free(s);
        errno = ENOMEM;
        return NULL;
    }
    return s;
}

void hak_pageslab_release(hak_slab *s) {
    hak_map_slab_set(s->start, HAK_SLAB_SIZE, NULL);
    hak_os_unmap(s->start, HAK_SLAB_SIZE);
    desc_free(s);
}

void hak_pageslab_lock_all(void) { hak_lock_acquire(&page_lock); }
void hak_pageslab_unlock_all(void) { hak_lock_release(&page_lock); }
void hak_pageslab_reset_locks(void) { hak_lock_reset(&page_lock); }
