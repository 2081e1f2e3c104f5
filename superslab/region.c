/* The SuperSlab region: one reserved, 16 GiB-aligned range of address space (PROT_NONE,
 * MAP_NORESERVE: no memory, no commit charge) in which SuperSlabs are committed one by one.
 * A pointer lies in a region SuperSlab exactly when its bits from 34 up equal the region's
 * (hak_superslab_region_tag), so the small free path tells its own blocks from everything
 * else with a shift and a compare, and then computes the slab descriptor from the pointer
 * (hak_superslab_slab_of). Through the slab map the same answer costs two dependent loads
 * more, and the descriptor's loads wait for them.
 *
 * A SuperSlab given back is decommitted (its pages and commit charge go back to the OS)
 * and its range is kept for the next one: nothing else is ever mapped inside the region.
 * A free of a pointer into a decommitted or never-used part of it faults (SIGSEGV), as a
 * free of a pointer into unmapped memory does under glibc; a stale pointer into a free slab
 * of a live SuperSlab reads a free descriptor and is reported (tiny/free.c).
 *
 * The region stays out of the way of an address-space limit: none is reserved when
 * RLIMIT_AS is set at the first SuperSlab, and once one is set the region only reuses
 * ranges it committed before, so new SuperSlabs are mapped on their own and the limit
 * bounds them. So do SuperSlabs past the 8192 the region holds. Blocks of SuperSlabs
 * outside the region are found through the slab map, as before. */
#include <stdint.h>
#include <sys/resource.h>

#include "core/lock.h"
#include "core/os.h"
#include "superslab/region.h"
#include "superslab/slab.h"

#define REGION_SIZE  ((size_t)1 << HAK_SS_REGION_SHIFT)
#define REGION_SLOTS (REGION_SIZE / HAK_SUPERSLAB_SIZE)

uintptr_t hak_superslab_region_tag = UINTPTR_MAX; /* no region: matches no user pointer */

static hak_lock region_lock = HAK_LOCK_INIT;
static int region_tried;
static char *region_base;
static size_t region_used;             /* slots handed out at least once, from the base */
static uint32_t spare[REGION_SLOTS];   /* slots given back (decommitted), a stack */
static size_t spare_count;

static int as_limited(void) {
    struct rlimit rl;
    return getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY;
}

static void reserve_locked(void) {
    region_tried = 1;
    if (as_limited())
        return;
    region_base = hak_os_reserve(REGION_SIZE, REGION_SIZE);
    if (region_base)
        __atomic_store_n(&hak_superslab_region_tag,
                         (uintptr_t)region_base >> HAK_SS_REGION_SHIFT, __ATOMIC_RELEASE);
}

void *hak_superslab_region_take(void) {
    hak_lock_acquire(&region_lock);
    if (!region_tried)
        reserve_locked();
    size_t slot = SIZE_MAX;
    if (spare_count > 0)
        slot = spare[--spare_count];
    else if (region_base && region_used < REGION_SLOTS && !as_limited())
        slot = region_used++;
    char *ss = NULL;
    if (slot != SIZE_MAX) {
        ss = region_base + slot * HAK_SUPERSLAB_SIZE;
        if (!hak_os_commit(ss, HAK_SUPERSLAB_SIZE)) {
            spare[spare_count++] = (uint32_t)slot; /* still reserved: try again later */
            ss = NULL;
        }
    }
    hak_lock_release(&region_lock);
    return ss;
}

void hak_superslab_region_give_back(void *ss) {
    /* Should the kernel refuse, the SuperSlab stays committed until its slot is reused
     * (committing it again then maps fresh zero pages over it). */
    hak_os_decommit(ss, HAK_SUPERSLAB_SIZE);
    hak_lock_acquire(&region_lock);
    spare[spare_count++] = (uint32_t)(((char *)ss - region_base) / HAK_SUPERSLAB_SIZE);
    hak_lock_release(&region_lock);
}

void hak_superslab_region_lock(void) { hak_lock_acquire(&region_lock); }
void hak_superslab_region_unlock(void) { hak_lock_release(&region_lock); }
void hak_superslab_region_reset_lock(void) { hak_lock_reset(&region_lock); }
