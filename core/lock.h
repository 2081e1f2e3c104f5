/* A spin lock for short critical sections on slow paths. It needs no initialisation and
 * no allocation (pthread mutexes are fine too, but a zeroed spin lock can be used before
 * anything is initialised and reset in a fork child by storing 0). */
#ifndef HAKMEM_CORE_LOCK_H
#define HAKMEM_CORE_LOCK_H

#include <sched.h>
#include <stdatomic.h>

#include "core/compiler.h"

typedef struct hak_lock {
    atomic_int held;
} hak_lock;

#define HAK_LOCK_INIT {0}

static inline int hak_lock_try(hak_lock *l) {
    return atomic_load_explicit(&l->held, memory_order_relaxed) == 0 &&
           atomic_exchange_explicit(&l->held, 1, memory_order_acquire) == 0;
}

static inline void hak_lock_acquire(hak_lock *l) {
    unsigned spins = 0;
    while (!hak_lock_try(l)) {
        if (++spins < 64)
            hak_cpu_relax();
        else
            sched_yield();
    }
}

static inline void hak_lock_release(hak_lock *l) {
    atomic_store_explicit(&l->held, 0, memory_order_release);
}

/* After fork only the calling thread exists: a lock another thread held is simply reset. */
static inline void hak_lock_reset(hak_lock *l) {
    atomic_store_explicit(&l->held, 0, memory_order_relaxed);
}

#endif
