/* Heap profile by call site: sampling, the tables, the report (core/prof.h). */
#include "core/prof.h"

#include <dlfcn.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "core/compiler.h"
#include "core/emit.h"
#include "core/lock.h"
#include "core/options.h"
#include "core/os.h"
#include "counters/counters.h"
#include "hakmem/hakmem.h"

int hak_prof_active;
static int64_t mean_bytes;

/* Per call site: what its sampled blocks stand for (estimates, in bytes and blocks). */
typedef struct site_rec {
    uintptr_t site; /* 0: empty slot; OTHER_SITE: the sites that found the table full */
    double live_bytes, live_blocks, alloc_bytes, alloc_blocks;
} site_rec;

#define OTHER_SITE ((uintptr_t)1)

/* A sampled block that is still live. */
typedef struct sample_rec {
    uintptr_t p; /* 0: empty slot */
    uint32_t site;
    double bytes, blocks;
} sample_rec;

/* Both tables are open-addressed and kept at most half full. Call sites past SITE_CAP / 2
 * share one record (OTHER_SITE, slot OTHER_SLOT); samples past SAMPLE_CAP / 2 are dropped.
 * Both are counted and printed. */
#define SITE_CAP   8192u
#define OTHER_SLOT SITE_CAP /* one record past the table */
#define SAMPLE_CAP 65536u

/* prof_lock guards the tables; nothing else is locked under it (the thread's counters are
 * registered before it is taken: registering may allocate). report_lock orders reports. */
static hak_lock prof_lock = HAK_LOCK_INIT;
static hak_lock report_lock = HAK_LOCK_INIT;
static site_rec *sites;
static sample_rec *samples;
static size_t live_samples, dropped_samples, sites_used, folded_sites;

static HAK_TLS int64_t bytes_left; /* until this thread's next sample */
static HAK_TLS uint64_t rng;

void hak_prof_init(void) {
    mean_bytes = hak_option(HAK_OPT_PROF_SAMPLE_BYTES);
    hak_prof_active = mean_bytes > 0;
}

/* An exponential interval of mean mean_bytes (a Poisson process over the bytes allocated,
 * so that every byte has the same chance of being the sampled one). */
static int64_t next_interval(void) {
    if (!rng) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        rng = ((uint64_t)(uintptr_t)&rng * 0x9e3779b97f4a7c15ull) ^ (uint64_t)ts.tv_nsec;
        rng |= 1;
    }
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    double u = ((double)(rng >> 11) + 1.0) / 9007199254740993.0; /* (0, 1] */
    double x = -log(u) * (double)mean_bytes;
    return x < 1.0 ? 1 : x > 4e18 ? (int64_t)4e18 : (int64_t)x;
}

int hak_prof_tick(size_t size) {
    if (bytes_left <= 0 && !rng)
        bytes_left = next_interval(); /* the thread's first request */
    bytes_left -= (int64_t)(size ? size : 1);
    if (hak_likely(bytes_left > 0))
        return 0;
    bytes_left = next_interval();
    return 1;
}

static size_t hash_ptr(uintptr_t v, size_t cap) {
    v ^= v >> 33;
    v *= 0xff51afd7ed558ccdull;
    v ^= v >> 33;
    return (size_t)v & (cap - 1);
}

#define SITES_BYTES ((SITE_CAP + 1) * sizeof(site_rec))

/* Under the lock. */
static int tables_ready(void) {
    if (samples)
        return 1;
    sites = hak_os_map(HAK_ALIGN_UP(SITES_BYTES, hak_os_page_size()));
    samples = hak_os_map(HAK_ALIGN_UP(SAMPLE_CAP * sizeof(sample_rec), hak_os_page_size()));
    if (!sites || !samples) {
        if (sites)
            hak_os_unmap(sites, HAK_ALIGN_UP(SITES_BYTES, hak_os_page_size()));
        if (samples)
            hak_os_unmap(samples,
                         HAK_ALIGN_UP(SAMPLE_CAP * sizeof(sample_rec), hak_os_page_size()));
        sites = NULL;
        samples = NULL;
        return 0;
    }
    sites[OTHER_SLOT].site = OTHER_SITE;
    return 1;
}

/* Under the lock: the site's slot, found or claimed; OTHER_SLOT when the table is half
 * full and the site is new. */
static uint32_t site_slot(uintptr_t site) {
    size_t i = hash_ptr(site, SITE_CAP);
    while (sites[i].site && sites[i].site != site)
        i = (i + 1) & (SITE_CAP - 1);
    if (sites[i].site == site)
        return (uint32_t)i;
    if (sites_used >= SITE_CAP / 2) {
        folded_sites++;
        return OTHER_SLOT;
    }
    sites_used++;
    sites[i].site = site;
    return (uint32_t)i;
}

void hak_prof_record(const void *p, size_t size, uintptr_t site) {
    double s = (double)(size ? size : 1);
    /* A block of s bytes is sampled with probability 1 - exp(-s / mean): it stands for
     * s / that many bytes (the estimate is unbiased for every size). */
    double bytes = s / -expm1(-s / (double)mean_bytes);
    double blocks = bytes / s;
    hak_counters_ensure_thread(); /* may allocate: not under the lock */
    hak_lock_acquire(&prof_lock);
    if (!tables_ready() || live_samples + 1 >= SAMPLE_CAP / 2) {
        dropped_samples++;
        hak_lock_release(&prof_lock);
        return;
    }
    uint32_t si = site_slot(site > OTHER_SITE ? site : OTHER_SITE + 1);
    sites[si].live_bytes += bytes;
    sites[si].live_blocks += blocks;
    sites[si].alloc_bytes += bytes;
    sites[si].alloc_blocks += blocks;
    size_t i = hash_ptr((uintptr_t)p, SAMPLE_CAP);
    while (samples[i].p)
        i = (i + 1) & (SAMPLE_CAP - 1);
    samples[i] = (sample_rec){(uintptr_t)p, si, bytes, blocks};
    live_samples++;
    hak_lock_release(&prof_lock);
}

void hak_prof_forget(const void *p) {
    hak_lock_acquire(&prof_lock);
    if (!samples || !live_samples) {
        hak_lock_release(&prof_lock);
        return;
    }
    size_t i = hash_ptr((uintptr_t)p, SAMPLE_CAP);
    while (samples[i].p && samples[i].p != (uintptr_t)p)
        i = (i + 1) & (SAMPLE_CAP - 1);
    if (samples[i].p) {
        site_rec *s = &sites[samples[i].site];
        s->live_bytes -= samples[i].bytes;
        s->live_blocks -= samples[i].blocks;
        if (s->live_bytes < 0.5)
            s->live_bytes = s->live_blocks = 0;
        live_samples--;
        /* Backward-shift deletion: later entries of the probe run move up, so that no
         * tombstone is needed. */
        size_t hole = i;
        for (size_t j = (i + 1) & (SAMPLE_CAP - 1); samples[j].p; j = (j + 1) & (SAMPLE_CAP - 1)) {
            size_t home = hash_ptr(samples[j].p, SAMPLE_CAP);
            int movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
            if (movable) {
                samples[hole] = samples[j];
                hole = j;
            }
        }
        samples[hole].p = 0;
    }
    hak_lock_release(&prof_lock);
}

/* ---- the report ------------------------------------------------------------------------ */

#define TOP 20

/* Whether site a ranks before site b: by live (then allocated) or by allocated bytes. */
static int ranks_before(const site_rec *a, const site_rec *b, int by_live) {
    if (by_live && a->live_bytes != b->live_bytes)
        return a->live_bytes > b->live_bytes;
    return a->alloc_bytes > b->alloc_bytes;
}

/* Indices of the top n sites (everything allocated counts, the folded record too), best
 * first: one pass, each site inserted into the sorted top list. */
static size_t top_sites(int by_live, uint32_t *out, size_t n) {
    size_t k = 0;
    for (uint32_t i = 0; i <= OTHER_SLOT; i++) {
        if (!sites[i].site || sites[i].alloc_bytes <= 0)
            continue;
        size_t at = k;
        while (at > 0 && ranks_before(&sites[i], &sites[out[at - 1]], by_live))
            at--;
        if (at >= n)
            continue;
        size_t last = k < n ? k : n - 1;
        for (size_t j = last; j > at; j--)
            out[j] = out[j - 1];
        out[at] = i;
        if (k < n)
            k++;
    }
    return k;
}

static void emit_where(hak_emit *e, uintptr_t site, int json) {
    Dl_info info;
    memset(&info, 0, sizeof info);
    if (site == OTHER_SITE) {
        hak_emitf(e, json ? "\"site\": \"other\", \"function\": \"(call sites past the table)\", "
                            "\"offset\": 0, \"object\": \"\""
                          : "(call sites past the table)");
        return;
    }
    int found = dladdr((void *)site, &info) != 0;
    const char *fn = found && info.dli_sname ? info.dli_sname : NULL;
    uintptr_t off = fn ? site - (uintptr_t)info.dli_saddr
                       : found ? site - (uintptr_t)info.dli_fbase : site;
    const char *obj = found && info.dli_fname ? info.dli_fname : "";
    if (json) {
        hak_emitf(e, "\"site\": \"%#lx\", \"function\": \"", (unsigned long)site);
        hak_emit_json_string(e, fn ? fn : "");
        hak_emitf(e, "\", \"offset\": %lu, \"object\": \"", (unsigned long)off);
        hak_emit_json_string(e, obj);
        hak_emitf(e, "\"");
    } else if (fn) {
        hak_emitf(e, "%s+%#lx (%s)", fn, (unsigned long)off, obj);
    } else {
        hak_emitf(e, "%#lx (%s+%#lx)", (unsigned long)site, obj, (unsigned long)off);
    }
}

/* What a report shows, copied under the lock: dladdr runs after it is released (it takes
 * the dynamic linker's lock, which a thread inside dlopen holds while it allocates). */
typedef struct snapshot {
    size_t live, dropped, folded, n_live, n_alloc;
    site_rec by_live[TOP * 5], by_alloc[TOP];
} snapshot;

static void take_snapshot(snapshot *sn) {
    uint32_t top[TOP * 5];
    hak_lock_acquire(&prof_lock);
    sn->live = live_samples;
    sn->dropped = dropped_samples;
    sn->folded = folded_sites;
    sn->n_live = samples ? top_sites(1, top, TOP * 5) : 0;
    for (size_t k = 0; k < sn->n_live; k++)
        sn->by_live[k] = sites[top[k]];
    sn->n_alloc = samples ? top_sites(0, top, TOP) : 0;
    for (size_t k = 0; k < sn->n_alloc; k++)
        sn->by_alloc[k] = sites[top[k]];
    hak_lock_release(&prof_lock);
}

static void emit_text(hak_emit *e, const snapshot *sn) {
    hak_emitf(e, "[hakmem] heap profile: one sample per %lld bytes allocated on average; "
                 "%zu samples live, %zu dropped (table full), %zu call sites folded\n",
              (long long)mean_bytes, sn->live, sn->dropped, sn->folded);
    for (int by_live = 1; by_live >= 0; by_live--) {
        hak_emitf(e, "[hakmem] top call sites by %s (estimated from the samples):\n",
                  by_live ? "bytes live" : "bytes allocated");
        size_t n = by_live ? (sn->n_live < TOP ? sn->n_live : TOP) : sn->n_alloc;
        for (size_t k = 0; k < n; k++) {
            const site_rec *s = by_live ? &sn->by_live[k] : &sn->by_alloc[k];
            hak_emitf(e, "[hakmem]   %10.2f MiB live in %9.0f blocks  %10.2f MiB allocated in "
                         "%9.0f blocks  ",
                      s->live_bytes / 1048576.0, s->live_blocks, s->alloc_bytes / 1048576.0,
                      s->alloc_blocks);
            emit_where(e, s->site, 0);
            hak_emitf(e, "\n");
        }
    }
}

/* The sites with the most bytes live (up to 100), largest first; then those with
 * nothing live, by bytes allocated. */
static void emit_json(hak_emit *e, const snapshot *sn) {
    hak_emitf(e, "{\"sample_bytes\": %lld, \"samples_live\": %zu, \"samples_dropped\": %zu, "
                 "\"sites_folded\": %zu, \"sites\": [",
              (long long)mean_bytes, sn->live, sn->dropped, sn->folded);
    for (size_t k = 0; k < sn->n_live; k++) {
        const site_rec *s = &sn->by_live[k];
        hak_emitf(e, "%s\n  {", k ? "," : "");
        emit_where(e, s->site, 1);
        hak_emitf(e, ", \"live_bytes\": %.0f, \"live_blocks\": %.0f, \"alloc_bytes\": %.0f, "
                     "\"alloc_blocks\": %.0f}",
                  s->live_bytes, s->live_blocks, s->alloc_bytes, s->alloc_blocks);
    }
    hak_emitf(e, "]}\n");
}

static void report(hak_emit *e, int json) {
    if (!hak_prof_active) {
        hak_emitf(e, json ? "{\"sample_bytes\": 0, \"sites\": []}\n"
                          : "[hakmem] heap profile off (prof.sample_bytes=0)\n");
        return;
    }
    /* Static: a snapshot is 10 KiB, too much for the stack of a thread near its end. */
    static snapshot sn;
    hak_lock_acquire(&report_lock);
    take_snapshot(&sn);
    if (json)
        emit_json(e, &sn);
    else
        emit_text(e, &sn);
    hak_lock_release(&report_lock);
}

void hak_prof_report(int fd) {
    hak_emit e = hak_emit_fd(fd);
    report(&e, hak_option(HAK_OPT_PROF_FORMAT) == 1);
}

HAK_API void hak_prof_print(int fd) {
    hak_emit e = hak_emit_fd(fd);
    report(&e, 0);
}

HAK_API size_t hak_prof_json(char *buf, size_t len) {
    hak_emit e = hak_emit_buffer(buf, len);
    report(&e, 1);
    return e.len;
}

void hak_prof_fork_prepare(void) {
    hak_lock_acquire(&report_lock);
    hak_lock_acquire(&prof_lock);
}

/* Both processes: in the child the holders are gone with their threads, and the tables are
 * whole (no thread was inside them at the fork). */
void hak_prof_fork_release(void) {
    hak_lock_release(&prof_lock);
    hak_lock_release(&report_lock);
}
