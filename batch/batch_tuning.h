/* Batch room: hooks for tests.
 *
 * Not part of the interface other rooms use (batch/batch.h is): tests include it. */
#ifndef HAKMEM_BATCH_BATCH_TUNING_H
#define HAKMEM_BATCH_BATCH_TUNING_H

#include <stddef.h>
#include <stdint.h>

#include "core/options.h"

/* Ranges the batch can track at once (pending + reclaimed + in flight). The table is a
 * fixed array so that bookkeeping never allocates. */
#define HAK_BATCH_SLOTS 4096u

/* Values for the batch options, so a test can pick thresholds outside their public range
 * (hak_option_override). A value < 0 means the option's default. */
typedef struct hak_batch_tuning {
    int64_t flush_ranges; /* option batch.flush_ranges: pending ranges that trigger a flush */
    int64_t flush_bytes;  /* option batch.flush_bytes: pending bytes that trigger a flush */
    int64_t max_bytes;    /* option batch.max_bytes: address space kept (0: batch off) */
    int64_t dontneed;     /* option batch.dontneed: reclaim with MADV_DONTNEED */
} hak_batch_tuning;

/* Test helper: sets the four batch options (beyond their public ranges if need be);
 * a field < 0 restores that option's default. */
static inline void hak_batch_tune(const hak_batch_tuning *t) {
    hak_option_override(HAK_OPT_BATCH_FLUSH_RANGES, t ? t->flush_ranges : -1);
    hak_option_override(HAK_OPT_BATCH_FLUSH_BYTES, t ? t->flush_bytes : -1);
    hak_option_override(HAK_OPT_BATCH_MAX_BYTES, t ? t->max_bytes : -1);
    hak_option_override(HAK_OPT_BATCH_DONTNEED, t ? t->dontneed : -1);
}

/* Ranges currently tracked (pending, reclaimed and in flight). */
size_t hak_batch_kept_ranges(void);

#endif
