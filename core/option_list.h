/* The one table of hakmem options:
 *   X(ID, key, type, default, choices, min, max, runtime, env, env_alias, help)
 * Read by the config API (hak_config_*), the environment (env, then env_alias) and the docs
 * generator (tools/gen_options_doc.sh prints docs/OPTIONS.md from `hakmem-config`).
 * type: BOOL, INT, SIZE (accepts K/M/G suffixes), ENUM (choices "a|b"), POLICY (a name the
 * policy registry knows), ACTION (setting it to 1 does something now; reads as 0; no
 * environment variable). min/max bound INT and SIZE. */
#ifndef HAKMEM_CORE_OPTION_LIST_H
#define HAKMEM_CORE_OPTION_LIST_H

#define HAK_OPTION_LIST(X)                                                                    \
    X(STATS, "stats", BOOL, "0", NULL, 0, 1, 1, "HAKMEM_STATS", NULL,                         \
      "print the counters to stderr at exit")                                                \
    X(FOREIGN_FREE, "core.foreign_free", ENUM, "abort", "abort|ignore", 0, 0, 1,              \
      "HAKMEM_CORE_FOREIGN_FREE", NULL,                                                       \
      "after reporting a misuse (foreign pointer, double free, pointer into a block): abort or ignore")\
    X(LARGE_POLICY, "large.policy", POLICY, "malloc", NULL, 0, 0, 1, "HAKMEM_LARGE_POLICY",   \
      NULL, "policy of the large slot: malloc, mmap, or any registered policy name")          \
    X(LARGE_FORCE_MMAP, "large.force_mmap", BOOL, "0", NULL, 0, 1, 1,                         \
      "HAKMEM_LARGE_FORCE_MMAP", "HAKO_HAKMEM_LARGE_MMAP",                                    \
      "kill switch: every large block comes from the mmap backend, whatever the policy")     \
    X(LARGE_FLUSH, "large.flush", ACTION, "0", NULL, 0, 1, 1, NULL, NULL,                      \
      "action: give every cached large mapping (BigCache, batch) back to the OS now")         \
    X(TINY_ENABLED, "tiny.enabled", BOOL, "1", NULL, 0, 1, 0, "HAKMEM_TINY_ENABLED", NULL,    \
      "serve small requests from tiny (0 sends every request to the large path)")            \
    X(TINY_USE_SUPERSLAB, "tiny.use_superslab", BOOL, "1", NULL, 0, 1, 0,                     \
      "HAKMEM_TINY_USE_SUPERSLAB", NULL,                                                      \
      "take tiny slabs from 2 MiB SuperSlabs (0: map every 64 KiB slab on its own)")         \
    X(TINY_CACHE_BYTES, "tiny.cache_bytes", SIZE, "64K", NULL, 1024, 16777216, 0,             \
      "HAKMEM_TINY_CACHE_BYTES", NULL,                                                        \
      "most bytes a thread keeps per size class in its free list (tls_sll) before flushing")  \
    X(TINY_CHECKS, "tiny.checks", BOOL, "1", NULL, 0, 1, 1, "HAKMEM_TINY_CHECKS", NULL,       \
      "report double frees and frees of pointers into the middle of a tiny block")

#endif
