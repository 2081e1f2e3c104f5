/* Counters room: definitions, per-thread shards, snapshot and print. */
#include "counters/counters.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/compiler.h"
#include "core/lock.h"
#include "hakmem/hakmem.h"

HAK_TLS hak_counter_shard hak_counters_tls;

static const char *const counter_names[HAK_CTR_COUNT] = {
#define HAK_COUNTER_NAME(name, hot, help) #name,
    HAK_COUNTER_LIST(HAK_COUNTER_NAME)
#undef HAK_COUNTER_NAME
};

/* Sampled at snapshot time, not kept in shards. */
static const char *const sampled_names[] = {"minflt", "majflt"};
#define SAMPLED_COUNT 2

_Atomic int64_t hak_gauges[HAK_GAUGE_COUNT];

static const char *const gauge_names[HAK_GAUGE_COUNT] = {
#define HAK_GAUGE_NAME(name, help) #name,
    HAK_GAUGE_LIST(HAK_GAUGE_NAME)
#undef HAK_GAUGE_NAME
};

/* Everything a snapshot holds: counters, then sampled values, then gauges. */
#define SNAPSHOT_COUNT (HAK_CTR_COUNT + SAMPLED_COUNT + HAK_GAUGE_COUNT)

static hak_lock shards_lock = HAK_LOCK_INIT;
static hak_counter_shard *shards;  /* live threads */
static uint64_t retired[HAK_CTR_COUNT]; /* sums of exited threads */
static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;
static int exit_key_ok;

#define MAX_PRINTERS 8
static hak_counters_printer printers[MAX_PRINTERS];

static void fold_shard(void *arg) {
    hak_counter_shard *s = arg;
    hak_lock_acquire(&shards_lock);
    for (hak_counter_shard **pp = &shards; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    for (int i = 0; i < HAK_CTR_COUNT; i++)
        retired[i] += __atomic_load_n(&s->v[i], __ATOMIC_RELAXED);
    memset(s->v, 0, sizeof s->v);
    /* A thread that counts again after this (another library's TLS destructor freeing
     * memory) keeps counting into a shard nobody reads: better than a dangling pointer. */
    s->state = 2;
    hak_lock_release(&shards_lock);
}

static void create_exit_key(void) {
    exit_key_ok = pthread_key_create(&exit_key, fold_shard) == 0;
}

void hak_counters_register_thread(void) {
    hak_counter_shard *s = &hak_counters_tls;
    if (s->state != 0)
        return;
    s->state = 1;
    pthread_once(&exit_key_once, create_exit_key);
    hak_lock_acquire(&shards_lock);
    s->next = shards;
    shards = s;
    hak_lock_release(&shards_lock);
    if (exit_key_ok)
        pthread_setspecific(exit_key, s);
}

void hak_counters_fork_prepare(void) {
    hak_lock_acquire(&shards_lock);
}

void hak_counters_fork_parent(void) {
    hak_lock_release(&shards_lock);
}

void hak_counters_atfork_child(void) {
    /* The other threads are gone; their shards are stale copies in our address space.
     * Fold them so the totals stay, and keep only ours in the list. */
    hak_lock_reset(&shards_lock);
    hak_counter_shard *mine = &hak_counters_tls;
    for (hak_counter_shard *s = shards; s; s = s->next) {
        if (s == mine)
            continue;
        for (int i = 0; i < HAK_CTR_COUNT; i++)
            retired[i] += s->v[i];
    }
    shards = NULL;
    if (mine->state == 1) {
        mine->next = NULL;
        shards = mine;
    }
}

int hak_counters_add_printer(hak_counters_printer fn) {
    for (int i = 0; i < MAX_PRINTERS; i++) {
        hak_counters_printer expected = NULL;
        if (printers[i] == fn)
            return 0;
        if (__atomic_compare_exchange_n(&printers[i], &expected, fn, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            return 0;
    }
    return -1;
}

static void sum_all(uint64_t out[HAK_CTR_COUNT]) {
    hak_lock_acquire(&shards_lock);
    memcpy(out, retired, sizeof retired);
    for (hak_counter_shard *s = shards; s; s = s->next)
        for (int i = 0; i < HAK_CTR_COUNT; i++)
            out[i] += __atomic_load_n(&s->v[i], __ATOMIC_RELAXED);
    hak_lock_release(&shards_lock);
}

static void sample_faults(uint64_t out[SAMPLED_COUNT]) {
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    getrusage(RUSAGE_SELF, &ru);
    out[0] = (uint64_t)ru.ru_minflt;
    out[1] = (uint64_t)ru.ru_majflt;
}

HAK_API size_t hak_counters_snapshot(hak_counter_value *out, size_t max) {
    uint64_t sums[HAK_CTR_COUNT];
    uint64_t sampled[SAMPLED_COUNT];
    sum_all(sums);
    sample_faults(sampled);
    size_t total = SNAPSHOT_COUNT;
    for (size_t i = 0; i < total && i < max; i++) {
        if (i < HAK_CTR_COUNT) {
            out[i].name = counter_names[i];
            out[i].value = sums[i];
        } else if (i < HAK_CTR_COUNT + SAMPLED_COUNT) {
            out[i].name = sampled_names[i - HAK_CTR_COUNT];
            out[i].value = sampled[i - HAK_CTR_COUNT];
        } else {
            size_t g = i - HAK_CTR_COUNT - SAMPLED_COUNT;
            out[i].name = gauge_names[g];
            out[i].value = hak_gauge_get((enum hak_gauge_id)g);
        }
    }
    return total;
}

HAK_API int hak_counter_get(const char *name, uint64_t *value) {
    if (!name || !value) {
        errno = EINVAL;
        return -1;
    }
    hak_counter_value all[SNAPSHOT_COUNT];
    size_t n = hak_counters_snapshot(all, SNAPSHOT_COUNT);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(all[i].name, name) == 0) {
            *value = all[i].value;
            return 0;
        }
    }
    errno = ENOENT;
    return -1;
}

/* Writes without stdio: printing at exit must not allocate. */
void hak_write_all(int fd, const char *buf, size_t len) {
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w <= 0) {
            if (w < 0 && errno == EINTR)
                continue;
            return;
        }
        buf += w;
        len -= (size_t)w;
    }
}

HAK_API void hak_counters_print(int fd) {
    hak_counter_value all[SNAPSHOT_COUNT];
    size_t n = hak_counters_snapshot(all, SNAPSHOT_COUNT);
    char line[160];
    int len = snprintf(line, sizeof line, "[hakmem] counters%s\n",
#ifdef HAKMEM_DEBUG_COUNTERS
                       " (debug counters on)"
#else
                       " (tiny hot-path counters compiled out)"
#endif
    );
    hak_write_all(fd, line, (size_t)len);
    for (size_t i = 0; i < n; i++) {
        len = snprintf(line, sizeof line, "[hakmem]   %-28s %20llu\n", all[i].name,
                       (unsigned long long)all[i].value);
        if (len > 0)
            hak_write_all(fd, line, (size_t)len < sizeof line ? (size_t)len : sizeof line - 1);
    }
    for (int i = 0; i < MAX_PRINTERS; i++) {
        hak_counters_printer p = __atomic_load_n(&printers[i], __ATOMIC_ACQUIRE);
        if (p)
            p(fd);
    }
}
