/* The superslab room's interface: picks the provider once, at init. */
#include "core/components.h"
#include "core/options.h"
#include "counters/counters.h"
#include "superslab/provider.h"

static int use_superslab = 1;

hak_slab *hak_slab_acquire(void) {
    hak_slab *s = use_superslab ? hak_superslab_acquire() : hak_pageslab_acquire();
    if (s) {
        HAK_COUNT(slab_new);
        HAK_GAUGE_ADD(live_slab_bytes, HAK_SLAB_SIZE);
    }
    return s;
}

void hak_slab_release(hak_slab *s) {
    HAK_COUNT(slab_release);
    HAK_GAUGE_ADD(live_slab_bytes, -(int64_t)HAK_SLAB_SIZE);
    if (s->ss)
        hak_superslab_release(s);
    else
        hak_pageslab_release(s);
}

static void provider_init(void) {
    use_superslab = hak_option(HAK_OPT_TINY_USE_SUPERSLAB) != 0;
}

static void provider_fork_prepare(void) {
    hak_superslab_lock_all();
    hak_pageslab_lock_all();
}

static void provider_fork_parent(void) {
    hak_pageslab_unlock_all();
    hak_superslab_unlock_all();
}

static void provider_fork_child(void) {
    hak_superslab_reset_locks();
    hak_pageslab_reset_locks();
}

const hak_component hak_component_superslab = {
    .name = "superslab",
    .init = provider_init,
    .fork_prepare = provider_fork_prepare,
    .fork_parent = provider_fork_parent,
    .fork_child = provider_fork_child,
    .purge = hak_superslab_purge, /* the page provider keeps nothing */
};
