/* Lazy, reentrancy-safe initialisation of hakmem. */
#ifndef HAKMEM_CORE_INIT_H
#define HAKMEM_CORE_INIT_H

#include <stdatomic.h>

#include "core/compiler.h"

enum { HAK_INIT_NONE = 0, HAK_INIT_RUNNING = 1, HAK_INIT_DONE = 2 };
extern atomic_int hak_init_state;

void hak_init_slow(void);

/* Cheap check for slow paths; the fast paths need none (an empty thread cache or an empty
 * address map sends the first calls to the slow paths, which call this). */
HAK_INLINE void hak_init_ensure(void) {
    if (hak_unlikely(atomic_load_explicit(&hak_init_state, memory_order_acquire) != HAK_INIT_DONE))
        hak_init_slow();
}

/* 1 once hakmem has initialised (non-runtime options can no longer change). */
int hak_init_started(void);

#endif
