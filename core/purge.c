/* Memory return: the clock, the budget, and the passes over the rooms (core/purge.h). */
#include "core/purge.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "core/components.h"
#include "core/init.h"
#include "core/lock.h"
#include "core/options.h"
#include "counters/counters.h"

HAK_TLS int hak_purge_countdown;
/* This thread is running a pass: an allocation it makes meanwhile (registering its counter
 * shard may allocate) must not start another, nor wait for its own. */
static HAK_TLS int in_pass;

/* The next time a time pass is due (0: at the next tick), and the earliest of the next cap
 * pass (after one that could not give back all it was asked: one try per ms). */
static _Atomic uint64_t next_time_pass, next_cap_pass;
/* One time or cap pass at a time (a tick that finds one running goes on); pressure and
 * request passes wait for it. */
static hak_lock pass_lock = HAK_LOCK_INIT;

static atomic_int background_running;

uint64_t hak_clock_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void hak_purge_count(hak_purge_cause cause, size_t bytes) {
    switch (cause) {
    case HAK_PURGE_TIME: HAK_COUNT_ADD(purge_time_bytes, bytes); break;
    case HAK_PURGE_CAP: HAK_COUNT_ADD(purge_cap_bytes, bytes); break;
    case HAK_PURGE_PRESSURE: HAK_COUNT_ADD(purge_pressure_bytes, bytes); break;
    case HAK_PURGE_REQUEST: HAK_COUNT_ADD(purge_request_bytes, bytes); break;
    }
}

size_t hak_purge_retained(void) {
    return HAK_GAUGE(retained_bigcache_bytes) + HAK_GAUGE(retained_batch_bytes) +
           HAK_GAUGE(retained_slab_bytes);
}

/* The bytes in use the budget is relative to: their peak over the last one to two seconds.
 * A program's live bytes swing with every large block it frees and allocates again (a ring
 * of four blocks of 1-32 MiB holds 10 MiB one moment and 100 the next), and what its caches
 * must keep to serve the next request follows the peak, not the moment. Two windows of
 * PEAK_WINDOW_MS: the budget uses the larger of the current window's peak and the last
 * one's, so a program that frees most of what it used sees its budget fall within two
 * windows (and the clock gives back what then stays unused past its delay). */
#define PEAK_WINDOW_MS 1000
static _Atomic uint64_t peak_now, peak_before, peak_window_end;

static uint64_t live_now(void) {
    return HAK_GAUGE(live_large_bytes) + HAK_GAUGE(live_slab_bytes);
}

static uint64_t live_recent_peak(uint64_t now) {
    uint64_t live = live_now();
    uint64_t end = atomic_load_explicit(&peak_window_end, memory_order_relaxed);
    if (now >= end && atomic_compare_exchange_strong(&peak_window_end, &end,
                                                     now + PEAK_WINDOW_MS)) {
        /* A window closed (or several: a program idle that long had no peak since). */
        uint64_t last = atomic_exchange(&peak_now, live);
        atomic_store_explicit(&peak_before, now < end + PEAK_WINDOW_MS ? last : live,
                              memory_order_relaxed);
    }
    uint64_t peak = atomic_load_explicit(&peak_now, memory_order_relaxed);
    while (live > peak && !atomic_compare_exchange_weak_explicit(&peak_now, &peak, live,
                                                                 memory_order_relaxed,
                                                                 memory_order_relaxed))
        ;
    uint64_t before = atomic_load_explicit(&peak_before, memory_order_relaxed);
    peak = peak > live ? peak : live;
    return peak > before ? peak : before;
}

/* The budget at time now. */
static size_t budget_at(uint64_t now) {
    uint64_t pct = (uint64_t)hak_option(HAK_OPT_CORE_RETAIN_PCT);
    uint64_t floor = (uint64_t)hak_option(HAK_OPT_CORE_RETAIN_MIN);
    uint64_t share = live_recent_peak(now) / 100 * pct;
    return (size_t)(share > floor ? share : floor);
}

size_t hak_purge_budget(void) {
    return budget_at(hak_clock_ms());
}

/* How often a time pass runs: a quarter of the shortest delay, so that a range is given
 * back at most 1.25 delays after it was freed; at every look at the clock when that is under
 * a millisecond (delays below 4 ms), at least every second. */
static uint64_t time_pass_interval(void) {
    int64_t d = hak_option(HAK_OPT_LARGE_PURGE_MS);
    int64_t t = hak_option(HAK_OPT_TINY_PURGE_MS);
    if (d < 0 || (t >= 0 && t < d))
        d = t;
    if (d < 0)
        return 1000;
    d /= 4;
    return d < 1 ? 0 : d > 1000 ? 1000 : (uint64_t)d;
}

/* Calls every present room's purge hook, the top room first. */
static size_t run_pass(hak_purge_req *r) {
    const hak_component *c[HAK_COMPONENTS_MAX + 1];
    int n = hak_components_present(c);
    size_t done = 0;
    for (int i = n - 1; i >= 0; i--)
        if (c[i]->purge)
            done += c[i]->purge(r);
    return done;
}

void hak_purge_tick(void) {
    if (hak_unlikely(atomic_load_explicit(&hak_init_state, memory_order_acquire) !=
                     HAK_INIT_DONE))
        return;
    uint64_t now = hak_clock_ms();
    int time_due = now >= atomic_load_explicit(&next_time_pass, memory_order_relaxed);
    size_t excess = 0;
    if (now >= atomic_load_explicit(&next_cap_pass, memory_order_relaxed)) {
        size_t kept = hak_purge_retained(), budget = budget_at(now);
        excess = kept > budget ? kept - budget : 0;
    }
    if ((!time_due && !excess) || in_pass)
        return;
    hak_counters_ensure_thread(); /* may allocate: before the lock */
    if (!hak_lock_try(&pass_lock))
        return;
    in_pass = 1;
    if (time_due) {
        atomic_store_explicit(&next_time_pass, now + time_pass_interval(), memory_order_relaxed);
        HAK_COUNT(purge_time);
        hak_purge_req r = {HAK_PURGE_TIME, now, 0, 0};
        run_pass(&r);
    }
    if (excess) {
        HAK_COUNT(purge_cap);
        hak_purge_req r = {HAK_PURGE_CAP, now, 0, excess};
        run_pass(&r);
        /* What the rooms could not give back (a range another thread is flushing) is not
         * asked for again until the clock moves on. */
        atomic_store_explicit(&next_cap_pass, r.excess ? now + 1 : 0, memory_order_relaxed);
    }
    in_pass = 0;
    hak_lock_release(&pass_lock);
}

size_t hak_purge_all(hak_purge_cause cause) {
    hak_init_ensure();
    if (in_pass)
        return 0; /* an allocation inside a pass failed: the pass is giving back already */
    hak_counters_ensure_thread();
    hak_lock_acquire(&pass_lock);
    in_pass = 1;
    if (cause == HAK_PURGE_PRESSURE)
        HAK_COUNT(purge_pressure);
    else
        HAK_COUNT(purge_request);
    hak_purge_req r = {cause, hak_clock_ms(), 1, 0};
    size_t done = run_pass(&r);
    in_pass = 0;
    hak_lock_release(&pass_lock);
    return done;
}

int hak_purge_pressure(void) {
    if (hak_purge_all(HAK_PURGE_PRESSURE) > 0)
        return 1;
    errno = ENOMEM;
    return 0;
}

HAK_API int hak_trim(void) {
    return hak_purge_all(HAK_PURGE_REQUEST) > 0;
}

/* ---- the background thread ------------------------------------------------------------ */

static void *background_main(void *arg) {
    (void)arg;
    for (;;) {
        if (!hak_option(HAK_OPT_CORE_BACKGROUND_THREAD)) {
            atomic_store(&background_running, 0);
            /* Set again between the test and the store: that hak_config_set saw this thread
             * running and started none, so this one goes on. */
            if (!hak_option(HAK_OPT_CORE_BACKGROUND_THREAD) ||
                atomic_exchange(&background_running, 1) != 0)
                return NULL;
        }
        uint64_t ms = time_pass_interval();
        if (ms < 1)
            ms = 1;
        struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
        hak_purge_tick();
    }
}

void hak_purge_background_start(void) {
    if (!hak_option(HAK_OPT_CORE_BACKGROUND_THREAD) ||
        atomic_exchange(&background_running, 1) != 0)
        return;
    pthread_attr_t attr;
    pthread_t tid;
    int ok = pthread_attr_init(&attr) == 0;
    if (ok) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        ok = pthread_create(&tid, &attr, background_main, NULL) == 0;
        pthread_attr_destroy(&attr);
    }
    if (!ok)
        atomic_store(&background_running, 0);
}

/* The thread did not survive the fork: the child runs without one until the option is set
 * again (creating a thread from an atfork handler, or from inside an allocation, is not
 * safe). A pass the parent's threads held the lock for is gone with them. */
void hak_purge_fork_child(void) {
    hak_lock_reset(&pass_lock);
    atomic_store(&background_running, 0);
}
