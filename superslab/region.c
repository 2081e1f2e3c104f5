/* The SuperSlab region: SuperSlabs placed one after another from one 2 MiB-aligned base,
 * so that "p is in a SuperSlab" is p - base < extent (a subtract and a compare against two
 * globals), and a table in front of the region holds the descriptors of its slabs, one per
 * 64 KiB at a 256-byte stride, so that the small free path computes p's descriptor with a
 * shift, a mask and an add (hak_superslab_slab_of). Through the slab map the same answer
 * costs two dependent loads more, and the descriptor's loads wait for them.
 *
 * Nothing is reserved ahead. At the first SuperSlab a free range of 16 GiB (else 2 GiB,
 * else 256 MiB) plus 1/256 of that for the table is looked for (mapped and unmapped at
 * once); the table starts there and the base follows it. Each new SuperSlab is then mapped
 * at the next slot with MAP_FIXED_NOREPLACE, and so is the table as far as its 8 KiB (in
 * whole pages), and extent grows over it. The kernel places other mappings from the top of
 * free gaps down and the region grows up from the bottom; should one of them take the next
 * slot (or its part of the table) anyway, the region simply stops growing. So the region
 * costs no address space beyond what it holds and an RLIMIT_AS limit bounds it like any
 * mapping. SuperSlabs that do not fit in it are mapped on their own, keep their descriptors
 * in their slab 0, and their blocks are found through the slab map, as before.
 *
 * Everything inside [base, base + extent) and its table stays ours for the life of the
 * process. A SuperSlab given back is decommitted (an inaccessible unbacked mapping: pages
 * and commit charge back to the OS) while its descriptors stay readable in the table, dead
 * (div_lim 0): a stale pointer into it fails the free path's block-start check and is
 * reported, and never touches the SuperSlab. Its slot serves the next SuperSlab. If the OS
 * ever left a hole it could not fill again (a failed MAP_FIXED on an older kernel), extent
 * drops to 0 and every free goes through the slab map. */
#include <errno.h>
#include <stdint.h>

#include "core/lock.h"
#include "core/os.h"
#include "superslab/region.h"
#include "superslab/slab.h"

#define REGION_MAX   ((size_t)16 << 30)
#define REGION_SLOTS (REGION_MAX / HAK_SUPERSLAB_SIZE)

#define SLOT_DESC_BYTES ((size_t)HAK_SLABS_PER_SS << HAK_SLAB_DESC_SHIFT) /* 8 KiB */

uintptr_t hak_superslab_region_base;
uintptr_t hak_superslab_region_extent; /* 0: no region, every test fails */
uintptr_t hak_superslab_region_descs;  /* the descriptor table, just below the base */
static size_t descs_mapped;            /* bytes of the table mapped, from its start */

static hak_lock region_lock = HAK_LOCK_INIT;
static int region_tried;
static int region_full;                /* the next slot was taken by someone else */
static int region_broken;              /* a hole the OS left: the region is not used */
static size_t region_slots;            /* the free range found, in slots */
/* Slots given back, a stack. SPARE_LIVE marks one whose decommit the kernel refused: its
 * pages were dropped but it is still read-write, so taking it needs no recommit. */
#define SPARE_LIVE ((uint32_t)1 << 31)
static uint32_t spare[REGION_SLOTS];
static size_t spare_count;

static char *slot_addr(size_t slot) {
    return (char *)hak_superslab_region_base + slot * HAK_SUPERSLAB_SIZE;
}

static void publish_extent(size_t bytes) {
    __atomic_store_n(&hak_superslab_region_extent, bytes, __ATOMIC_RELEASE);
}

static void find_base_locked(void) {
    region_tried = 1;
    /* Smaller ranges when 16 GiB is not to be had (an RLIMIT_AS below it, valgrind). */
    for (size_t size = REGION_MAX; size >= ((size_t)128 << 20); size /= 8) {
        size_t slots = size / HAK_SUPERSLAB_SIZE;
        /* The table, rounded up so the base stays 2 MiB-aligned. */
        size_t table = (slots * SLOT_DESC_BYTES + HAK_SUPERSLAB_SIZE - 1) &
                       ~(HAK_SUPERSLAB_SIZE - 1);
        char *start = hak_os_find_free(table + size, HAK_SUPERSLAB_SIZE);
        if (start) {
            uintptr_t base = (uintptr_t)start + table;
            region_slots = slots;
            hak_superslab_region_descs = (uintptr_t)start;
            __atomic_store_n(&hak_superslab_region_base, base, __ATOMIC_RELEASE);
            return;
        }
    }
}

/* A spare slot made usable again (read-write; its descriptors never stopped being): the
 * lowest, so that the region's used slots stay packed at its start and its end can be
 * given back (hak_superslab_region_shrink). */
static char *take_spare_locked(void) {
    size_t low = 0;
    for (size_t k = 1; k < spare_count; k++)
        if ((spare[k] & ~SPARE_LIVE) < (spare[low] & ~SPARE_LIVE))
            low = k;
    uint32_t entry = spare[low];
    char *ss = slot_addr(entry & ~SPARE_LIVE);
    if (!(entry & SPARE_LIVE) && hak_os_recommit(ss, HAK_SUPERSLAB_SIZE) != 0)
        return NULL;
    spare[low] = spare[--spare_count];
    return ss;
}

/* Maps the table far enough for `slots` slots, in whole pages (a slot's 8 KiB may be part
 * of a page: pages of 16 or 64 KiB). 1 on success. */
static int map_descs_locked(size_t slots) {
    size_t need = slots * SLOT_DESC_BYTES;
    if (need <= descs_mapped)
        return 1;
    size_t page = hak_os_page_size();
    size_t size = (need - descs_mapped + page - 1) & ~(page - 1);
    if (!hak_os_map_at((char *)hak_superslab_region_descs + descs_mapped, size)) {
        if (errno == EEXIST)
            region_full = 1;
        return 0;
    }
    descs_mapped += size;
    return 1;
}

static char *take_new_locked(void) {
    /* Slots mapped at least once, from the base: extent covers exactly them. */
    size_t used = hak_superslab_region_extent / HAK_SUPERSLAB_SIZE;
    if (!hak_superslab_region_base || region_full || used == region_slots)
        return NULL;
    /* Its descriptors first: a free may read them as soon as extent covers the slot. */
    if (!map_descs_locked(used + 1))
        return NULL;
    char *ss = hak_os_map_at(slot_addr(used), HAK_SUPERSLAB_SIZE);
    if (!ss) {
        if (errno == EEXIST)
            region_full = 1;
        return NULL; /* the table part stays mapped, for the next try */
    }
    publish_extent((used + 1) * HAK_SUPERSLAB_SIZE);
    return ss;
}

void *hak_superslab_region_take(void) {
    hak_lock_acquire(&region_lock);
    if (!region_tried)
        find_base_locked();
    char *ss = NULL;
    if (!region_broken) {
        ss = spare_count > 0 ? take_spare_locked() : NULL;
        if (!ss)
            ss = take_new_locked();
    }
    hak_lock_release(&region_lock);
    return ss;
}

void hak_superslab_region_give_back(void *ss) {
    char *p = ss;
    /* Its descriptors in the table are all dead already (each slab was released). */
    int r = hak_os_decommit(p, HAK_SUPERSLAB_SIZE);
    if (r == -1)
        hak_os_reclaim(p, HAK_SUPERSLAB_SIZE, 1);
    hak_lock_acquire(&region_lock);
    if (r == -2) {
        /* Lost addresses inside the region: no pointer test may trust it any more. Its
         * SuperSlabs stay registered in the slab map, where frees find them. */
        region_broken = 1;
        publish_extent(0);
    } else {
        uint32_t slot = (uint32_t)((p - slot_addr(0)) / HAK_SUPERSLAB_SIZE);
        spare[spare_count++] = slot | (r == -1 ? SPARE_LIVE : 0);
    }
    hak_lock_release(&region_lock);
}

/* The region's end is a run of given-back slots: unmapped one by one from the top, extent
 * lowered first (a free that read the old extent reads the slot's descriptor, which stays
 * mapped and dead, and reports the pointer; one that reads the new extent asks the slab
 * map, which no longer knows these slabs either). The slots are ordinary free address space
 * again; should another mapping take one, the region stops growing there (take_new_locked),
 * as it would have at first. */
size_t hak_superslab_region_shrink(void) {
    size_t bytes = 0;
    hak_lock_acquire(&region_lock);
    while (!region_broken && hak_superslab_region_extent > 0) {
        size_t last = hak_superslab_region_extent / HAK_SUPERSLAB_SIZE - 1;
        size_t k = 0;
        while (k < spare_count && (spare[k] & ~SPARE_LIVE) != last)
            k++;
        if (k == spare_count)
            break;
        uint32_t entry = spare[k];
        spare[k] = spare[--spare_count];
        publish_extent(last * HAK_SUPERSLAB_SIZE);
        if (entry & SPARE_LIVE)
            hak_os_unmap(slot_addr(last), HAK_SUPERSLAB_SIZE);
        else
            hak_os_unreserve(slot_addr(last), HAK_SUPERSLAB_SIZE);
        bytes += HAK_SUPERSLAB_SIZE;
    }
    if (bytes)
        region_full = 0; /* the next slot is free again, unless someone takes it */
    hak_lock_release(&region_lock);
    return bytes;
}

void hak_superslab_region_lock(void) { hak_lock_acquire(&region_lock); }
void hak_superslab_region_unlock(void) { hak_lock_release(&region_lock); }
void hak_superslab_region_reset_lock(void) { hak_lock_reset(&region_lock); }
