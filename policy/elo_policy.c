/* The live ELO policy (large.policy=elo): runs one arm per epoch, measures it, lets the
 * engine (policy/elo.c) score it and pick the next.
 *
 * Per large allocation it costs one relaxed load (the current route) and one compare, plus
 * a thread-local tick and byte count; every TICK allocations a thread adds them to the
 * epoch's (two relaxed atomic adds), and the thread that completes an epoch closes it
 * under a trylock, so an allocation never waits for the policy. (The original hakmem chose
 * per allocation and paid 100-200 ns each time.)
 *
 * An epoch lasts at least elo.epoch_ms milliseconds (default 4) and at least
 * elo.epoch_allocs large allocations (default 16). Time is the unit that fits every
 * workload: by count alone, 64 allocations of 2 MiB blocks last 0.4 ms, too short to pay
 * back the switch to another backend (whose caches are cold), while 64 allocations under a
 * bad arm of 5 ms each cost 320 ms. (`benchmarks/elo.sh`, docs/ELO.md.)
 *
 * An epoch's cost: w_cpu * CPU-ns per MiB allocated + w_faults * page faults per MiB
 * + w_mem * RSS, each divided by its running mean over all epochs so that the units and the
 * epoch lengths cancel out. After a switch of arm, the first quarter of the epoch is not
 * measured: it pays for the previous arm's leftovers (its cached memory, its faults). */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/compiler.h"
#include "core/lock.h"
#include "core/options.h"
#include "counters/counters.h"
#include "policy/elo.h"

#define TICK 8
#define RSS_EVERY 8

static hak_elo_state engine;
static hak_lock engine_lock = HAK_LOCK_INIT;
static int engine_ready;
/* The current arm as one word: threshold | (backend == mmap), read on every allocation. */
static _Atomic uint64_t route;
static atomic_uint epoch_allocs;
static _Atomic uint64_t epoch_bytes; /* bytes those allocations asked for */
/* 0 while the epoch settles after a switch. Written under engine_lock; read without it
 * (relaxed) to tell how far an epoch must run before a tick tries the lock. */
static atomic_int measuring;
static HAK_TLS unsigned tick;
static HAK_TLS uint64_t tick_bytes;

typedef struct sample {
    double cpu_ns, faults, rss;
} sample;
static sample epoch_start;
static double mean_cpu, mean_faults, mean_rss;
static _Atomic uint64_t epoch_start_ns; /* written under engine_lock, read by any tick */

static uint64_t pack(const hak_elo_arm *a) {
    return (uint64_t)a->threshold | (a->backend == HAK_BACKEND_MMAP);
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Has the epoch (or its settling part) run `quarters` quarters of its length, in both
 * units: elo.epoch_allocs allocations and elo.epoch_ms milliseconds? The time floor is what
 * keeps a switch affordable: the cost of switching arms (the new backend's caches are cold,
 * the old one's leftovers are freed) is paid in time, so an epoch must last long enough to
 * amortise it whether a cycle takes 5 us or 5 ms. */
static int epoch_reached(uint64_t allocs, unsigned quarters) {
    uint64_t len = (uint64_t)hak_option(HAK_OPT_ELO_EPOCH_ALLOCS);
    if (allocs * 4 < len * quarters)
        return 0;
    uint64_t ms = (uint64_t)hak_option(HAK_OPT_ELO_EPOCH_MS);
    uint64_t start = atomic_load_explicit(&epoch_start_ns, memory_order_relaxed);
    return ms == 0 || (now_ns() - start) * 4 >= ms * 1000000u * quarters;
}

/* RSS in bytes from /proc/self/statm, read without stdio (no allocation). */
static double read_rss(void) {
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char buf[128];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    unsigned long long size = 0, resident = 0;
    if (sscanf(buf, "%llu %llu", &size, &resident) != 2)
        return 0;
    return (double)resident * (double)sysconf(_SC_PAGESIZE);
}

static sample measure(void) {
    sample s;
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    s.cpu_ns = (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    getrusage(RUSAGE_SELF, &ru);
    s.faults = (double)ru.ru_minflt + (double)ru.ru_majflt;
    /* RSS moves slowly and reading /proc costs three system calls: sample it every
     * RSS_EVERY measurements (the rest of the sample is two system calls). */
    static unsigned calls;
    static double last_rss;
    if (calls++ % RSS_EVERY == 0)
        last_rss = read_rss();
    s.rss = last_rss;
    return s;
}

static double normalised(double x, double *mean, unsigned n) {
    *mean = n == 0 ? x : *mean + (x - *mean) / (double)(n + 1);
    return *mean > 0 ? x / *mean : 0;
}

/* Under engine_lock: the epoch (or its measured part after settling) starts at sample s. */
static void start_epoch_locked(sample s) {
    epoch_start = s;
    atomic_store_explicit(&epoch_start_ns, now_ns(), memory_order_relaxed);
}

static void ensure_engine_locked(void) {
    if (engine_ready)
        return;
    hak_elo_params p = {
        .k = (double)hak_option(HAK_OPT_ELO_K),
        .epsilon_pm = (unsigned)hak_option(HAK_OPT_ELO_EPSILON),
        .survivors = (unsigned)hak_option(HAK_OPT_ELO_SURVIVORS),
        .min_games = 2,
        .draw_margin = 0.02,
        .seed = (uint64_t)hak_option(HAK_OPT_ELO_SEED),
    };
    hak_elo_init(&engine, &p);
    atomic_store(&route, pack(&engine.arms[engine.current]));
    start_epoch_locked(measure());
    engine_ready = 1;
}

static void close_epoch_locked(uint64_t bytes) {
    sample now = measure();
    /* Per MiB asked for rather than per allocation: the cost of a large allocation grows
     * with its size (its pages fault), so with sizes drawn from 1-32 MiB an epoch's cost
     * per allocation varies by half from the sizes it happened to draw, more than the
     * arms differ; per MiB it does not. */
    double n = bytes ? (double)bytes / (1 << 20) : 1;
    unsigned e = engine.epochs;
    double cpu = normalised((now.cpu_ns - epoch_start.cpu_ns) / n, &mean_cpu, e);
    double flt = normalised((now.faults - epoch_start.faults) / n, &mean_faults, e);
    double mem = normalised(now.rss, &mean_rss, e);
    double cost = (double)hak_option(HAK_OPT_ELO_W_CPU) * cpu +
                  (double)hak_option(HAK_OPT_ELO_W_FAULTS) * flt +
                  (double)hak_option(HAK_OPT_ELO_W_MEM) * mem;
    unsigned prev = engine.current;
    unsigned next = hak_elo_close_epoch(&engine, cost);
    atomic_store_explicit(&route, pack(&engine.arms[next]), memory_order_release);
    /* a new arm settles first (and measures again then) */
    atomic_store_explicit(&measuring, next == prev, memory_order_relaxed);
    start_epoch_locked(now); /* the end of this epoch starts the next one */
}

/* elo.fixed_arm >= 0: that arm's route, no epochs (benchmarks compare the fixed arms). */
static int apply_fixed_arm(void) {
    int64_t fixed = hak_option(HAK_OPT_ELO_FIXED_ARM);
    if (fixed < 0)
        return 0;
    uint64_t r = pack(&engine.arms[fixed]);
    if (atomic_load_explicit(&route, memory_order_relaxed) != r)
        atomic_store_explicit(&route, r, memory_order_relaxed);
    return 1;
}

static HAK_NOINLINE void elo_tick(void) {
    uint64_t bytes = tick_bytes;
    tick = 0;
    tick_bytes = 0;
    if (apply_fixed_arm())
        return;
    atomic_fetch_add_explicit(&epoch_bytes, bytes, memory_order_relaxed);
    unsigned n = atomic_fetch_add_explicit(&epoch_allocs, TICK, memory_order_relaxed) + TICK;
    /* Nothing is due before the end of the settling quarter, or of the epoch once it
     * measures: only then does a tick try the lock. */
    int meas = atomic_load_explicit(&measuring, memory_order_relaxed);
    if (!epoch_reached(n, meas ? 4 : 1) || !hak_lock_try(&engine_lock))
        return; /* someone else is closing it: never wait */
    if (!atomic_load_explicit(&measuring, memory_order_relaxed)) {
        if (epoch_reached(atomic_load(&epoch_allocs), 1)) {
            atomic_store(&epoch_allocs, 0);
            atomic_store(&epoch_bytes, 0);
            start_epoch_locked(measure());
            atomic_store_explicit(&measuring, 1, memory_order_relaxed);
        }
    } else if (epoch_reached(atomic_load(&epoch_allocs), 4)) {
        atomic_store(&epoch_allocs, 0);
        close_epoch_locked(atomic_exchange(&epoch_bytes, 0));
    }
    hak_lock_release(&engine_lock);
}

static hak_large_backend elo_choose(void *ctx, size_t size, size_t alignment, uintptr_t site) {
    (void)ctx, (void)alignment, (void)site;
    uint64_t r = atomic_load_explicit(&route, memory_order_relaxed);
    tick_bytes += size;
    if (hak_unlikely(++tick >= TICK))
        elo_tick();
    hak_large_backend above = (r & 1) ? HAK_BACKEND_MMAP : HAK_BACKEND_MALLOC;
    if (size >= (size_t)(r & ~(uint64_t)1))
        return above;
    return above == HAK_BACKEND_MMAP ? HAK_BACKEND_MALLOC : HAK_BACKEND_MMAP;
}

static void elo_on_select(void *ctx) {
    (void)ctx;
    hak_lock_acquire(&engine_lock);
    ensure_engine_locked();
    apply_fixed_arm();
    atomic_store(&epoch_allocs, 0);
    atomic_store(&epoch_bytes, 0);
    atomic_store_explicit(&measuring, 0, memory_order_relaxed);
    start_epoch_locked(measure());
    hak_lock_release(&engine_lock);
}

static const char *backend_name(hak_large_backend b) {
    return b == HAK_BACKEND_MMAP ? "mmap" : "malloc";
}

HAK_API size_t hak_elo_leaderboard(hak_elo_arm_info *out, size_t max) {
    hak_lock_acquire(&engine_lock);
    size_t n = 0;
    if (engine_ready) {
        for (unsigned i = 0; i < HAK_ELO_ARMS; i++) {
            if (n < max && out) {
                const hak_elo_arm *a = &engine.arms[i];
                hak_elo_arm_info *o = &out[n];
                o->arm = i;
                o->threshold = a->threshold;
                o->backend = backend_name(a->backend);
                o->rating = a->rating;
                o->wins = a->wins;
                o->losses = a->losses;
                o->draws = a->draws;
                o->samples = a->samples;
                o->active = a->active;
                o->current = engine.current == i;
            }
            n++;
        }
    }
    hak_lock_release(&engine_lock);
    return n;
}

/* HAKMEM_STATS=1: the leaderboard after the counters, best first. */
static void print_leaderboard(int fd) {
    hak_elo_arm_info arms[HAK_ELO_ARMS];
    size_t n = hak_elo_leaderboard(arms, HAK_ELO_ARMS);
    if (n == 0)
        return;
    dprintf(fd, "[hakmem] elo leaderboard (%u epochs): arm threshold backend>= rating W/L/D "
                "samples status\n", engine.epochs);
    int used[HAK_ELO_ARMS] = {0};
    for (size_t k = 0; k < n; k++) {
        size_t best = n;
        for (size_t i = 0; i < n; i++)
            if (!used[i] && (best == n || arms[i].rating > arms[best].rating))
                best = i;
        used[best] = 1;
        const hak_elo_arm_info *a = &arms[best];
        dprintf(fd, "[hakmem]   %2u %8zu KiB %-6s %7.1f %u/%u/%u %4u %s%s\n", a->arm,
                a->threshold >> 10, a->backend, a->rating, a->wins, a->losses, a->draws,
                a->samples, a->active ? "active" : "dropped", a->current ? " (current)" : "");
    }
}

static const hak_policy elo_policy = {
    .name = "elo",
    .help = "learns online which backend serves which sizes (ELO tournament of 24 arms)",
    .slot = HAK_SLOT_LARGE,
    .large_choose = elo_choose,
    .on_select = elo_on_select,
};

void hak_elo_policy_register(void) {
    hak_policy_register(&elo_policy);
    hak_counters_add_printer(print_leaderboard);
}

void hak_elo_fork_child(void) {
    hak_lock_reset(&engine_lock);
}
