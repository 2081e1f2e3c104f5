/* Memory return: one clock for every cache of freed memory, and the three ways memory goes
 * back to the OS.
 *
 *   time      a cache's contents left unused longer than its delay (large.purge_delay_ms,
 *             tiny.purge_delay_ms, the unmap delays) are given back: a cheap check of a
 *             coarse clock on slow paths (hak_purge_tick), or a background thread
 *             (core.background_thread);
 *   cap       resident bytes kept for reuse (the retained_* gauges) above the budget,
 *             max(core.retain_min, recent peak of live bytes * core.retain_pct / 100),
 *             are given back, oldest first, at the next tick;
 *   pressure  the OS refused memory: every cache is released and the allocation retried
 *             once (the front door, hak_purge_pressure);
 *   request   hak_trim, malloc_trim, large.flush: every cache is released now.
 *
 * Rooms keep their caches and their delays; core keeps the clock and calls each present
 * room's purge hook (hak_component.purge, core/components.h), the top room first, so that
 * what BigCache hands down to the batch, aging from its free time, is given back in the
 * same pass (tiny's empty slabs start aging when they reach the provider). Purges run only
 * where the caller holds no hakmem lock. */
#ifndef HAKMEM_CORE_PURGE_H
#define HAKMEM_CORE_PURGE_H

#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"

typedef enum hak_purge_cause {
    HAK_PURGE_TIME = 0,
    HAK_PURGE_CAP,
    HAK_PURGE_PRESSURE,
    HAK_PURGE_REQUEST,
} hak_purge_cause;

/* What a room's purge hook is asked to give back. */
typedef struct hak_purge_req {
    hak_purge_cause cause;
    uint64_t now;  /* hak_clock_ms() */
    int all;       /* everything the room caches (pressure, request) */
    size_t excess; /* cap: resident bytes still to give back, oldest first; a hook lowers it
                      by what it gave back */
} hak_purge_req;

/* Milliseconds of a coarse monotonic clock (a vDSO read, no system call). */
uint64_t hak_clock_ms(void);

/* Age test on the clock: something idle since `since` is due at `now` under delay_ms;
 * a negative delay never is, nor anything stamped after `now` (a pass reads the clock once,
 * and other threads go on freeing while it runs). */
static inline int hak_purge_due(uint64_t now, uint64_t since, int64_t delay_ms) {
    return delay_ms >= 0 && since <= now && now - since >= (uint64_t)delay_ms;
}

/* Runs a time (and, over the budget, cap) pass when the clock says one is due. Call with no
 * hakmem lock held. */
void hak_purge_tick(void);

/* hak_purge_tick for paths taken many times a second (tiny refills and flushes): the clock
 * is read one call in HAK_PURGE_TICK_EVERY. */
#define HAK_PURGE_TICK_EVERY 32
extern HAK_TLS int hak_purge_countdown;
HAK_INLINE void hak_purge_tick_sometimes(void) {
    if (hak_unlikely(--hak_purge_countdown < 0)) {
        hak_purge_countdown = HAK_PURGE_TICK_EVERY;
        hak_purge_tick();
    }
}

/* Every room releases everything it caches; returns the bytes given back. Counted under the
 * cause (HAK_PURGE_PRESSURE or HAK_PURGE_REQUEST). */
size_t hak_purge_all(hak_purge_cause cause);

/* The OS refused memory: releases every cache; 1 when something went back (worth a retry),
 * else 0 with errno ENOMEM. */
int hak_purge_pressure(void);

/* Accounting for the rooms: bytes given back under a cause (pages dropped or unmapped). */
void hak_purge_count(hak_purge_cause cause, size_t bytes);

/* The budget of resident bytes kept for reuse, and what is kept now. */
size_t hak_purge_budget(void);
size_t hak_purge_retained(void);

/* The background thread (core.background_thread): started from places that may create a
 * thread (the constructor, hak_config_set), never from inside an allocation. */
void hak_purge_background_start(void);
void hak_purge_fork_child(void);

#endif
