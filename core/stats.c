/* What hakmem tells a program about its heap: the counters as JSON, and the answers to
 * glibc's mallinfo2, malloc_info and mallopt (libhakmem.so exports those names, see
 * override.c; the hak_* forms are for static links). */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "core/compiler.h"
#include "core/emit.h"
#include "core/init.h"
#include "core/lock.h"
#include "core/options.h"
#include "core/purge.h"
#include "counters/counters.h"
#include "hakmem/hakmem.h"

/* Counters (summed over threads), sampled values, then gauges: the snapshot's order. */
#define SNAPSHOT_COUNT (HAK_CTR_COUNT + 2 + HAK_GAUGE_COUNT)

static void emit_options(hak_emit *e, int json) {
    size_t n = hak_config_count();
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        hak_option_info info;
        char value[64];
        if (hak_config_info(i, &info) != 0 || strcmp(info.type, "action") == 0 ||
            hak_config_get(info.key, value, sizeof value) != 0)
            continue;
        if (json) {
            hak_emitf(e, "%s\n    \"%s\": \"", first ? "" : ",", info.key);
            hak_emit_json_string(e, value);
            hak_emitf(e, "\"");
        } else {
            hak_emitf(e, "    <option name=\"%s\" value=\"", info.key);
            hak_emit_xml_string(e, value);
            hak_emitf(e, "\"/>\n");
        }
        first = 0;
    }
}

/* The bytes each room holds: live (in use), retained (resident, kept for reuse), kept
 * (address space kept mapped). */
static void emit_rooms_json(hak_emit *e) {
    hak_emitf(e,
              "  \"rooms\": {\n"
              "    \"tiny\": {\"live_bytes\": %llu, \"retained_bytes\": %llu, "
              "\"kept_bytes\": %llu},\n"
              "    \"large\": {\"live_bytes\": %llu, \"live_blocks\": %llu},\n"
              "    \"bigcache\": {\"retained_bytes\": %llu},\n"
              "    \"batch\": {\"retained_bytes\": %llu, \"kept_bytes\": %llu}\n"
              "  },\n",
              (unsigned long long)HAK_GAUGE(live_slab_bytes),
              (unsigned long long)HAK_GAUGE(retained_slab_bytes),
              (unsigned long long)HAK_GAUGE(kept_superslab_bytes),
              (unsigned long long)HAK_GAUGE(live_large_bytes),
              (unsigned long long)HAK_GAUGE(live_large_blocks),
              (unsigned long long)HAK_GAUGE(retained_bigcache_bytes),
              (unsigned long long)HAK_GAUGE(retained_batch_bytes),
              (unsigned long long)HAK_GAUGE(kept_batch_bytes));
}

static void emit_json(hak_emit *e) {
    hak_counter_value all[SNAPSHOT_COUNT];
    size_t n = hak_counters_snapshot(all, SNAPSHOT_COUNT);
    hak_emitf(e, "{\n  \"version\": \"%d.%d.%d\",\n", HAKMEM_VERSION_MAJOR,
              HAKMEM_VERSION_MINOR, HAKMEM_VERSION_PATCH);
#ifdef HAKMEM_DEBUG_COUNTERS
    hak_emitf(e, "  \"hot_counters\": true,\n");
#else
    hak_emitf(e, "  \"hot_counters\": false,\n");
#endif
    hak_emitf(e, "  \"counters\": {");
    for (size_t i = 0; i < n && i < HAK_CTR_COUNT + 2; i++)
        hak_emitf(e, "%s\n    \"%s\": %llu", i ? "," : "", all[i].name,
                  (unsigned long long)all[i].value);
    hak_emitf(e, "\n  },\n  \"gauges\": {");
    for (size_t i = HAK_CTR_COUNT + 2; i < n; i++)
        hak_emitf(e, "%s\n    \"%s\": %llu", i > HAK_CTR_COUNT + 2 ? "," : "", all[i].name,
                  (unsigned long long)all[i].value);
    hak_emitf(e, "\n  },\n");
    emit_rooms_json(e);
    hak_emitf(e, "  \"retained_bytes\": %llu,\n  \"retain_budget_bytes\": %llu,\n",
              (unsigned long long)hak_purge_retained(),
              (unsigned long long)hak_purge_budget());
    hak_emitf(e, "  \"options\": {");
    emit_options(e, 1);
    hak_emitf(e, "\n  }\n}\n");
}

HAK_API size_t hak_stats_json(char *buf, size_t len) {
    hak_init_ensure();
    hak_emit e = hak_emit_buffer(buf, len);
    emit_json(&e);
    return e.len;
}

/* HAKMEM_STATS=json at exit: no allocation, straight to the descriptor. */
void hak_stats_json_print(int fd) {
    hak_emit e = hak_emit_fd(fd);
    emit_json(&e);
}

/* ---- glibc's extensions ------------------------------------------------------------------ */

HAK_API struct mallinfo2 hak_mallinfo2(void) {
    hak_init_ensure();
    struct mallinfo2 m = {0};
    size_t retained = hak_purge_retained();
    m.uordblks = HAK_GAUGE(live_slab_bytes);
    m.fordblks = retained;
    m.arena = m.uordblks + m.fordblks;
    m.hblks = HAK_GAUGE(live_large_blocks);
    m.hblkhd = HAK_GAUGE(live_large_bytes);
    m.keepcost = retained; /* what malloc_trim would give back now */
    return m;
}

static int saturate(size_t v) {
    return v > (size_t)INT_MAX ? INT_MAX : (int)v;
}

HAK_API struct mallinfo hak_mallinfo(void) {
    struct mallinfo2 m2 = hak_mallinfo2();
    struct mallinfo m = {0};
    m.arena = saturate(m2.arena);
    m.ordblks = saturate(m2.ordblks);
    m.smblks = saturate(m2.smblks);
    m.hblks = saturate(m2.hblks);
    m.hblkhd = saturate(m2.hblkhd);
    m.usmblks = saturate(m2.usmblks);
    m.fsmblks = saturate(m2.fsmblks);
    m.uordblks = saturate(m2.uordblks);
    m.fordblks = saturate(m2.fordblks);
    m.keepcost = saturate(m2.keepcost);
    return m;
}

#include "core/components.h"

/* glibc returns EINVAL for options other than 0, without setting errno. */
HAK_API int hak_malloc_info(int options, FILE *fp) {
    if (options != 0 || !fp)
        return EINVAL;
    hak_init_ensure();
    hak_emit e = hak_emit_file(fp);
    hak_emitf(&e, "<malloc version=\"hakmem-%d.%d.%d\">\n", HAKMEM_VERSION_MAJOR,
              HAKMEM_VERSION_MINOR, HAKMEM_VERSION_PATCH);
    hak_emitf(&e, "<heap nr=\"0\" kind=\"small\">\n<sizes>\n");
    if (HAK_HAS(tiny))
        for (unsigned c = 0; c < hak_tiny_class_count; c++)
            hak_emitf(&e, "  <size class=\"%u\" block=\"%u\" thread_cache_blocks=\"%u\"/>\n", c,
                      hak_tiny_class_size[c], hak_tiny_limit[c]);
    hak_emitf(&e, "</sizes>\n");
    hak_emitf(&e, "<total type=\"live\" size=\"%llu\"/>\n",
              (unsigned long long)HAK_GAUGE(live_slab_bytes));
    hak_emitf(&e, "<total type=\"retained\" size=\"%llu\"/>\n",
              (unsigned long long)HAK_GAUGE(retained_slab_bytes));
    hak_emitf(&e, "<total type=\"kept\" size=\"%llu\"/>\n</heap>\n",
              (unsigned long long)HAK_GAUGE(kept_superslab_bytes));
    hak_emitf(&e, "<heap nr=\"1\" kind=\"large\">\n");
    hak_emitf(&e, "<total type=\"live\" count=\"%llu\" size=\"%llu\"/>\n",
              (unsigned long long)HAK_GAUGE(live_large_blocks),
              (unsigned long long)HAK_GAUGE(live_large_bytes));
    hak_emitf(&e, "<total type=\"bigcache\" size=\"%llu\"/>\n",
              (unsigned long long)HAK_GAUGE(retained_bigcache_bytes));
    hak_emitf(&e, "<total type=\"batch\" size=\"%llu\" kept=\"%llu\"/>\n</heap>\n",
              (unsigned long long)HAK_GAUGE(retained_batch_bytes),
              (unsigned long long)HAK_GAUGE(kept_batch_bytes));
    hak_emitf(&e, "<total type=\"retained\" size=\"%llu\" budget=\"%llu\"/>\n",
              (unsigned long long)hak_purge_retained(), (unsigned long long)hak_purge_budget());
    hak_counter_value all[SNAPSHOT_COUNT];
    size_t n = hak_counters_snapshot(all, SNAPSHOT_COUNT);
    hak_emitf(&e, "<counters>\n");
    for (size_t i = 0; i < n; i++)
        hak_emitf(&e, "  <counter name=\"%s\" value=\"%llu\"/>\n", all[i].name,
                  (unsigned long long)all[i].value);
    hak_emitf(&e, "</counters>\n<options>\n");
    emit_options(&e, 0);
    hak_emitf(&e, "</options>\n</malloc>\n");
    return 0;
}

/* M_TRIM_THRESHOLD and M_TOP_PAD together say how much free memory glibc keeps before it
 * trims: here, the resident bytes kept for reuse that are always allowed. The threshold
 * starts as core.retain_min (whatever the environment set), the pad as 0. */
static hak_lock mallopt_lock = HAK_LOCK_INIT;
static int64_t trim_threshold = -1, top_pad;

static void set_trim(int64_t *which, int value) {
    if (value < 0)
        return; /* glibc: "never trim"; hakmem keeps its budget */
    hak_lock_acquire(&mallopt_lock);
    if (trim_threshold < 0)
        trim_threshold = hak_option(HAK_OPT_CORE_RETAIN_MIN);
    *which = value;
    char v[32];
    snprintf(v, sizeof v, "%lld", (long long)(trim_threshold + top_pad));
    hak_config_set("core.retain_min", v);
    hak_lock_release(&mallopt_lock);
}

/* glibc's return values (2.36, measured by tests/system/test_preload.c's mallopt case
 * against the system's): 0 only for M_MXFAST outside 0..80 * sizeof(size_t) / 4, else 1,
 * unknown parameters included. Negative thresholds are accepted and change nothing. */
HAK_API int hak_mallopt(int param, int value) {
    hak_init_ensure();
    switch (param) {
    case M_TRIM_THRESHOLD:
        set_trim(&trim_threshold, value);
        return 1;
    case M_TOP_PAD:
        set_trim(&top_pad, value);
        return 1;
    case M_MXFAST: /* tiny has no fast bins: checked as glibc does, then ignored */
        return value >= 0 && (size_t)value <= 80 * sizeof(size_t) / 4;
    default: /* M_MMAP_THRESHOLD (hakmem has no such threshold), M_MMAP_MAX, M_ARENA_*, ... */
        return 1;
    }
}
