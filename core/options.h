/* The options table (core room): values, parsing, environment. */
#ifndef HAKMEM_CORE_OPTIONS_H
#define HAKMEM_CORE_OPTIONS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/option_list.h"

enum hak_option_id {
#define HAK_OPTION_ENUM(id, ...) HAK_OPT_##id,
    HAK_OPTION_LIST(HAK_OPTION_ENUM)
#undef HAK_OPTION_ENUM
    HAK_OPT_COUNT
};

/* Current values: BOOL 0/1, INT and SIZE the number, ENUM the index in its choices. */
extern _Atomic int64_t hak_option_values[HAK_OPT_COUNT];

static inline int64_t hak_option(enum hak_option_id id) {
    return atomic_load_explicit(&hak_option_values[id], memory_order_relaxed);
}

/* Called once from hak_init before the rooms start: defaults, then the environment. */
void hak_options_load_env(void);
/* Called from hak_init once the rooms are up: applies options that need a room (the
 * large.policy selection in the registry). */
void hak_options_apply_deferred(void);

/* For tests and tools: sets an option's value without the public range check (a test may
 * want thresholds no user should set); value < 0 restores the default. */
void hak_option_override(enum hak_option_id id, int64_t value);

/* Parses "64K", "2M", "1G", "4096" (no allocation). 0 ok, -1 on a bad value. */
int hak_parse_size(const char *s, int64_t *out);

#endif
