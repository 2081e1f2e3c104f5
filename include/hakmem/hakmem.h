/* hakmem public API.
 *
 * Three ways to use hakmem:
 *   - LD_PRELOAD=libhakmem.so: the malloc family is replaced, nothing to include;
 *   - link hakmem::hakmem (or components) and call the hak_* functions below;
 *   - tune it at run time through hak_config_* or HAKMEM_* environment variables.
 */
#ifndef HAKMEM_HAKMEM_H
#define HAKMEM_HAKMEM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HAKMEM_VERSION_MAJOR 0
#define HAKMEM_VERSION_MINOR 1
#define HAKMEM_VERSION_PATCH 0

/* ---- allocation ------------------------------------------------------------------------
 * Same contracts as the C library: results are 16-byte aligned, NULL with errno=ENOMEM on
 * failure, hak_free(NULL) does nothing, hak_realloc keeps the old block when it fails,
 * hak_realloc(p, 0) frees p and returns NULL (glibc's behaviour).
 * hak_free of a pointer hakmem does not own prints one line on stderr and then aborts or
 * ignores it, per the option "core.foreign_free". */
void  *hak_malloc(size_t size);
void   hak_free(void *ptr);
void  *hak_calloc(size_t count, size_t size);
void  *hak_realloc(void *ptr, size_t size);
void  *hak_aligned_alloc(size_t alignment, size_t size);   /* alignment: power of two */
int    hak_posix_memalign(void **out, size_t alignment, size_t size); /* 0, EINVAL or ENOMEM */
size_t hak_usable_size(const void *ptr);                      /* 0 for NULL or foreign */
/* C23's free_sized and free_aligned_sized: size (and alignment) as given at allocation.
 * With the option core.check_free, a size above the block's, or an alignment the pointer
 * lacks, is reported like a misuse. */
void   hak_free_sized(void *ptr, size_t size);
void   hak_free_aligned_sized(void *ptr, size_t alignment, size_t size);

/* ---- C++ -------------------------------------------------------------------------------
 * What operator new and delete call (libhakmem.so exports the operators themselves; for a
 * static link, include <hakmem/new_delete.hpp> in one source file). hak_new returns NULL on
 * failure (the operator runs the new-handler loop and throws); alignment 0 or up to 16:
 * the default; site: the call site the heap profile and BigCache see (the operator's
 * return address; NULL: hak_new's caller). hak_delete: size and alignment 0 when not
 * known. With core.check_free, a large block freed by another family (new[] then delete,
 * new then free) is reported. */
void  *hak_new(size_t size, size_t alignment, int array, const void *site);
void   hak_delete(void *ptr, size_t size, size_t alignment, int array);

/* ---- memory return ---------------------------------------------------------------------
 * Freed memory goes back to the OS on its own: what stays unused past a delay
 * (large.purge_delay_ms, tiny.purge_delay_ms), what passes the retention budget
 * (core.retain_pct, core.retain_min), and everything when the OS refuses memory (then the
 * allocation is retried). hak_trim gives back everything cached now (malloc_trim does the
 * same in libhakmem.so): 1 when something was given back, else 0. */
int    hak_trim(void);

/* ---- configuration ---------------------------------------------------------------------
 * One table of options. Keys look like "large.policy"; each key is also read from the
 * environment as HAKMEM_<KEY> with '.' replaced by '_' and upper-cased
 * (large.policy -> HAKMEM_LARGE_POLICY). */
int hak_config_set(const char *key, const char *value); /* 0 ok; -1 with errno ENOENT (unknown
                                                           key), EINVAL (bad value) or EPERM
                                                           (not changeable at run time) or
                                                           ENOTSUP (large.policy without the
                                                           policy room linked) */
int hak_config_get(const char *key, char *buf, size_t len); /* 0 ok; -1 with errno ENOENT or
                                                               ERANGE (buf too small) */

typedef struct hak_option_info {
    const char *key;           /* "large.policy" */
    const char *type;          /* "bool", "size", "int", "enum", "string", "action" */
    const char *default_value; /* as text */
    const char *env;           /* main environment variable, NULL for actions */
    const char *env_alias;     /* an original hakmem name, or NULL */
    int runtime;               /* 1 if hak_config_set may change it after start-up */
    const char *choices;       /* for enums: "a|b|c", else NULL */
    const char *help;          /* one line */
} hak_option_info;

size_t hak_config_count(void);
int    hak_config_info(size_t index, hak_option_info *out); /* 0 ok, -1 past the end */
/* Writes "key = value  # help" lines for every option to the file descriptor. */
void   hak_config_print(int fd);

/* ---- counters --------------------------------------------------------------------------
 * One list of counters, kept per thread, summed on read. Hot-path (tiny) counters read 0
 * unless hakmem was built with HAKMEM_DEBUG_COUNTERS=ON. */
typedef struct hak_counter_value {
    const char *name;
    uint64_t value;
} hak_counter_value;

/* Fills up to max entries; returns how many counters exist (call with max=0 to size). */
size_t hak_counters_snapshot(hak_counter_value *out, size_t max);
int    hak_counter_get(const char *name, uint64_t *value); /* 0 ok, -1 unknown name */
void   hak_counters_print(int fd);                         /* what HAKMEM_STATS=1 prints */
/* Everything as one JSON object (what HAKMEM_STATS=json prints): every counter and gauge,
 * the live/retained/kept bytes per room, the options in force. Writes at most len bytes
 * (NUL included) like snprintf; returns the length of the whole text. */
size_t hak_stats_json(char *buf, size_t len);

/* ---- glibc's extensions ----------------------------------------------------------------
 * libhakmem.so exports mallinfo2, mallinfo, malloc_stats, malloc_info and mallopt with
 * these answers (docs/API_SURFACE.md). struct mallinfo2 is <malloc.h>'s. */
struct mallinfo2;
struct mallinfo;
struct mallinfo2 hak_mallinfo2(void);
struct mallinfo  hak_mallinfo(void);      /* each field saturates at INT_MAX */
int    hak_malloc_info(int options, FILE *fp); /* 0; options other than 0: EINVAL (errno
                                                  untouched, as glibc) */
int    hak_mallopt(int param, int value);      /* 1 accepted, 0 refused (glibc's values) */

/* ---- heap profile ----------------------------------------------------------------------
 * With prof.sample_bytes=N (HAKMEM_PROF_SAMPLE_BYTES, set at start-up), one block per N
 * bytes allocated is sampled and its call site recorded; the top sites by bytes live and by
 * bytes allocated are printed at exit (prof.format text or json) and on request. */
void   hak_prof_print(int fd);
size_t hak_prof_json(char *buf, size_t len); /* like hak_stats_json */

/* ---- policy registry -------------------------------------------------------------------
 * A policy is a vtable with a name. Each slot holds the active policy of one decision
 * point. Selection is by name, at any time, from any thread (an atomic swap); every block
 * remembers the backend that made it, so switching never strands a block. */
typedef enum hak_slot {
    HAK_SLOT_LARGE = 0, /* which backend serves a request above the small maximum */
    HAK_SLOT_COUNT
} hak_slot;

typedef enum hak_large_backend {
    HAK_BACKEND_MALLOC = 1, /* the C library's allocator */
    HAK_BACKEND_MMAP = 2    /* anonymous mappings (with BigCache and batched reclaim) */
} hak_large_backend;

typedef struct hak_policy {
    const char *name; /* unique, [a-z0-9_-], at most 31 characters */
    const char *help; /* one line */
    hak_slot slot;
    /* HAK_SLOT_LARGE: which backend serves this request. Must not allocate. */
    hak_large_backend (*large_choose)(void *ctx, size_t size, size_t alignment, uintptr_t site);
    void (*on_select)(void *ctx); /* optional: called when the policy becomes active */
    void *ctx;
} hak_policy;

/* The vtable must outlive its registration (static storage is the usual choice).
 * 0 ok; -1 with errno EINVAL (bad vtable or name), EEXIST (name taken), ENOSPC (full). */
int         hak_policy_register(const hak_policy *policy);
int         hak_policy_select(hak_slot slot, const char *name); /* 0 ok, -1 errno ENOENT */
const char *hak_policy_current(hak_slot slot);
/* Fills up to max names of the slot's registered policies; returns how many there are. */
size_t      hak_policy_list(hak_slot slot, const char **names, size_t max);

/* ---- the ELO-armed large policy ("elo") -----------------------------------------------
 * 24 arms: backend {malloc, mmap} for requests at or above one of 12 thresholds (512 KiB to
 * 32 MiB), the other backend below. Empty until large.policy=elo was first selected. */
typedef struct hak_elo_arm_info {
    unsigned arm;
    size_t threshold;
    const char *backend; /* "malloc" or "mmap": serves requests >= threshold */
    double rating;
    unsigned wins, losses, draws, samples; /* samples: epochs run */
    int active;          /* 0 once dropped out */
    int current;         /* the arm running now */
} hak_elo_arm_info;

/* Fills up to max arms (in arm order); returns how many there are (0 before first use). */
size_t hak_elo_leaderboard(hak_elo_arm_info *out, size_t max);

#ifdef __cplusplus
}
#endif

#endif /* HAKMEM_HAKMEM_H */
