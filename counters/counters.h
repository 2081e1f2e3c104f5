/* Counters: per-thread shards summed on read (interface of the counters room). */
#ifndef HAKMEM_COUNTERS_COUNTERS_H
#define HAKMEM_COUNTERS_COUNTERS_H

#include <stddef.h>
#include <stdint.h>

#include "counters/counter_list.h"

enum hak_counter_id {
#define HAK_COUNTER_ENUM(name, hot, help) HAK_CTR_##name,
    HAK_COUNTER_LIST(HAK_COUNTER_ENUM)
#undef HAK_COUNTER_ENUM
    HAK_CTR_COUNT
};

enum hak_gauge_id {
#define HAK_GAUGE_ENUM(name, help) HAK_GAUGE_##name,
    HAK_GAUGE_LIST(HAK_GAUGE_ENUM)
#undef HAK_GAUGE_ENUM
    HAK_GAUGE_COUNT
};

typedef struct hak_counter_shard {
    uint64_t v[HAK_CTR_COUNT];
    struct hak_counter_shard *next;
    int state; /* 0 new, 1 registered, 2 folded at thread exit */
} hak_counter_shard;

extern __thread hak_counter_shard hak_counters_tls __attribute__((tls_model("initial-exec")));

void hak_counters_register_thread(void);

/* Registers the calling thread's shard now if it is not yet: registering may allocate
 * (pthread_setspecific), which a caller about to take an allocator lock must not let happen
 * under it. */
static inline void hak_counters_ensure_thread(void) {
    if (__builtin_expect(hak_counters_tls.state == 0, 0))
        hak_counters_register_thread();
}

/* A plain (non-atomic) add to the thread's own shard; readers sum with relaxed loads. */
static inline void hak_counter_add(enum hak_counter_id id, uint64_t n) {
    hak_counter_shard *s = &hak_counters_tls;
    if (__builtin_expect(s->state == 0, 0))
        hak_counters_register_thread();
    __atomic_store_n(&s->v[id], __atomic_load_n(&s->v[id], __ATOMIC_RELAXED) + n,
                     __ATOMIC_RELAXED);
}

#define HAK_COUNT_ADD(name, n) hak_counter_add(HAK_CTR_##name, (n))
#define HAK_COUNT(name) HAK_COUNT_ADD(name, 1)
#ifdef HAKMEM_DEBUG_COUNTERS
#define HAK_COUNT_HOT(name) HAK_COUNT(name)
#else
#define HAK_COUNT_HOT(name) ((void)0)
#endif

/* Gauges: process-wide, so an atomic add (callers are slow paths). */
extern _Atomic int64_t hak_gauges[HAK_GAUGE_COUNT];

static inline void hak_gauge_add(enum hak_gauge_id id, int64_t delta) {
    __atomic_fetch_add(&hak_gauges[id], delta, __ATOMIC_RELAXED);
}

static inline uint64_t hak_gauge_get(enum hak_gauge_id id) {
    int64_t v = __atomic_load_n(&hak_gauges[id], __ATOMIC_RELAXED);
    return v > 0 ? (uint64_t)v : 0; /* a reader between two rooms' updates may see a dip */
}

static inline void hak_gauge_set(enum hak_gauge_id id, int64_t value) {
    __atomic_store_n(&hak_gauges[id], value, __ATOMIC_RELAXED);
}

#define HAK_GAUGE_ADD(name, delta) hak_gauge_add(HAK_GAUGE_##name, (int64_t)(delta))
#define HAK_GAUGE_SET(name, value) hak_gauge_set(HAK_GAUGE_##name, (int64_t)(value))
#define HAK_GAUGE(name) hak_gauge_get(HAK_GAUGE_##name)

/* Fork: the shard list lock is held across fork; in the child only the calling thread
 * survives, its shard stays and the others are folded. */
void hak_counters_fork_prepare(void);
void hak_counters_fork_parent(void);
void hak_counters_atfork_child(void);

/* write(2) until done or an error other than EINTR; no stdio, no allocation. */
void hak_write_all(int fd, const char *buf, size_t len);

/* Extra lines appended to the printout by other rooms (e.g. the ELO leaderboard). */
typedef void (*hak_counters_printer)(int fd);
int hak_counters_add_printer(hak_counters_printer fn);

#endif
