/* The one table of hakmem options:
 *   X(ID, key, type, default, choices, min, max, runtime, env, env_alias, help)
 * Read by the config API (hak_config_*), the environment (env, then env_alias) and the docs
 * generator (tools/gen_options_doc.c prints docs/OPTIONS.md; target docs_options).
 * type: BOOL, INT, SIZE (accepts K/M/G suffixes), ENUM (choices "a|b"), POLICY (a name the
 * policy registry knows), ACTION (setting it to 1 does something now; reads as 0; no
 * environment variable). min/max bound INT and SIZE. */
#ifndef HAKMEM_CORE_OPTION_LIST_H
#define HAKMEM_CORE_OPTION_LIST_H

#define HAK_OPTION_LIST(X)                                                                    \
    X(STATS, "stats", ENUM, "0", "0|1|json", 0, 0, 1, "HAKMEM_STATS", NULL,                   \
      "print the counters to stderr at exit: 1 as text, json as one JSON object")            \
    X(FOREIGN_FREE, "core.foreign_free", ENUM, "abort", "abort|ignore", 0, 0, 1,              \
      "HAKMEM_CORE_FOREIGN_FREE", NULL,                                                       \
      "after reporting a misuse (foreign pointer, double free, pointer into a block): abort or ignore")\
    X(CORE_CHECK_FREE, "core.check_free", BOOL, "0", NULL, 0, 1, 1, "HAKMEM_CORE_CHECK_FREE",  \
      NULL,                                                                                   \
      "check what a free is told: a size above the block's or an alignment it lacks given "  \
      "to free_sized, free_aligned_sized or sized/aligned delete, and the family (malloc, "   \
      "new, new[]) that made a large block; a mismatch is reported, then core.foreign_free") \
    X(PROF_SAMPLE_BYTES, "prof.sample_bytes", SIZE, "0", NULL, 0, 1073741824LL, 0,            \
      "HAKMEM_PROF_SAMPLE_BYTES", NULL,                                                       \
      "heap profile: one block sampled per this many bytes allocated on average, its call "   \
      "site recorded; printed at exit (0: off; while on, small blocks take the slow path)")  \
    X(PROF_FORMAT, "prof.format", ENUM, "text", "text|json", 0, 0, 1, "HAKMEM_PROF_FORMAT",    \
      NULL, "heap profile printed at exit: text or json")                                    \
    X(CORE_RETAIN_PCT, "core.retain_pct", INT, "200", NULL, 0, 10000, 1,                      \
      "HAKMEM_CORE_RETAIN_PCT", NULL,                                                         \
      "resident bytes kept for reuse (BigCache, batch, free slabs) may reach this percentage "\
      "of the recent peak of bytes in use (or core.retain_min); the oldest above it go back") \
    X(CORE_RETAIN_MIN, "core.retain_min", SIZE, "16M", NULL, 0, 1099511627776LL, 1,            \
      "HAKMEM_CORE_RETAIN_MIN", NULL,                                                         \
      "resident bytes kept for reuse that are always allowed, whatever is in use")            \
    X(CORE_BACKGROUND_THREAD, "core.background_thread", BOOL, "0", NULL, 0, 1, 1,             \
      "HAKMEM_CORE_BACKGROUND_THREAD", NULL,                                                  \
      "a thread that runs the purge clock, so that a program that goes idle also gives "      \
      "memory back (otherwise purges run from allocation and free calls)")                    \
    X(LARGE_POLICY, "large.policy", POLICY, "mmap", NULL, 0, 0, 1, "HAKMEM_LARGE_POLICY",   \
      NULL, "policy of the large slot: malloc, mmap, or any registered policy name")          \
    X(LARGE_FORCE_MMAP, "large.force_mmap", BOOL, "0", NULL, 0, 1, 1,                         \
      "HAKMEM_LARGE_FORCE_MMAP", "HAKO_HAKMEM_LARGE_MMAP",                                    \
      "kill switch: every large block comes from the mmap backend, whatever the policy")     \
    X(LARGE_FLUSH, "large.flush", ACTION, "0", NULL, 0, 1, 1, NULL, NULL,                      \
      "action: give every cached large mapping (BigCache, batch) back to the OS now")         \
    X(LARGE_HUGEPAGES, "large.hugepages", BOOL, "1", NULL, 0, 1, 1, "HAKMEM_LARGE_HUGEPAGES",  \
      NULL,                                                                                   \
      "mmap backend: a new mapping of 2 MiB or more asks for transparent huge pages "        \
      "(MADV_HUGEPAGE); one of up to 4 MiB is 2 MiB-aligned as well")                        \
    X(LARGE_PURGE_MS, "large.purge_delay_ms", INT, "1000", NULL, -1, 3600000, 1,               \
      "HAKMEM_LARGE_PURGE_DELAY_MS", NULL,                                                    \
      "a freed large range (BigCache, batch) unused this long gives its pages back; -1: never")\
    X(LARGE_UNMAP_MS, "large.unmap_delay_ms", INT, "1000", NULL, -1, 3600000, 1,               \
      "HAKMEM_LARGE_UNMAP_DELAY_MS", NULL,                                                    \
      "a purged large range unused this much longer is unmapped (its address space goes "     \
      "back); -1: only past batch.max_bytes")                                                 \
    X(ELO_EPOCH_ALLOCS, "elo.epoch_allocs", INT, "16", NULL, 4, 100000000, 1,                  \
      "HAKMEM_ELO_EPOCH_ALLOCS", NULL,                                                        \
      "elo policy: large allocations an epoch (one arm) has at least")                        \
    X(ELO_EPOCH_MS, "elo.epoch_ms", INT, "4", NULL, 0, 3600000, 1, "HAKMEM_ELO_EPOCH_MS", NULL,  \
      "elo policy: milliseconds an epoch lasts at least (0: epochs by count only)")          \
    X(ELO_K, "elo.k", INT, "32", NULL, 1, 400, 0, "HAKMEM_ELO_K", NULL,                        \
      "elo policy: K factor of the rating update")                                           \
    X(ELO_EPSILON, "elo.epsilon_pm", INT, "100", NULL, 0, 1000, 0, "HAKMEM_ELO_EPSILON_PM",    \
      NULL, "elo policy: exploration rate, per mille (100 = 0.1)")                            \
    X(ELO_SURVIVORS, "elo.survivors", INT, "6", NULL, 1, 24, 0, "HAKMEM_ELO_SURVIVORS", NULL,  \
      "elo policy: arms kept once losing arms drop out (M)")                                  \
    X(ELO_SEED, "elo.seed", INT, "1", NULL, 0, INT64_MAX, 0, "HAKMEM_ELO_SEED", NULL,          \
      "elo policy: seed of the exploration choices (same seed, same choices)")               \
    X(ELO_W_CPU, "elo.w_cpu", INT, "40", NULL, 0, 100, 0, "HAKMEM_ELO_W_CPU", NULL,            \
      "elo policy: weight of CPU time per MiB allocated in an epoch's cost")                 \
    X(ELO_W_FAULTS, "elo.w_faults", INT, "30", NULL, 0, 100, 0, "HAKMEM_ELO_W_FAULTS", NULL,   \
      "elo policy: weight of page faults per MiB allocated in an epoch's cost")              \
    X(ELO_W_MEM, "elo.w_mem", INT, "30", NULL, 0, 100, 0, "HAKMEM_ELO_W_MEM", NULL,            \
      "elo policy: weight of memory held (RSS) in an epoch's cost")                          \
    X(BATCH_FLUSH_RANGES, "batch.flush_ranges", INT, "4095", NULL, 1, 4095, 1,                 \
      "HAKMEM_BATCH_FLUSH_RANGES", NULL,                                                      \
      "freed large ranges waiting for madvise that make every one of them purged at once "    \
      "(a cap: the purge clock and budget usually act first)")                                \
    X(BATCH_FLUSH_BYTES, "batch.flush_bytes", SIZE, "1024G", NULL, 4096, 1099511627776LL, 1,   \
      "HAKMEM_BATCH_FLUSH_BYTES", NULL,                                                       \
      "freed large bytes waiting for madvise that make every one of them purged at once "     \
      "(a cap: the purge clock and budget usually act first)")                                \
    X(BATCH_MAX_BYTES, "batch.max_bytes", SIZE, "1G", NULL, 0, 1099511627776LL, 1,            \
      "HAKMEM_BATCH_MAX_BYTES", NULL,                                                         \
      "address space the batch keeps mapped for reuse; above it the coldest is unmapped (0: off)")\
    X(BATCH_DONTNEED, "batch.dontneed", BOOL, "1", NULL, 0, 1, 1, "HAKMEM_BATCH_DONTNEED",    \
      NULL, "purge large ranges with MADV_DONTNEED (RSS drops at once); 0: MADV_FREE (the "   \
      "pages count in RSS until the kernel needs them)")                                     \
    X(BIGCACHE_MAX_BYTES, "bigcache.max_bytes", SIZE, "64M", NULL, 0, 1099511627776LL, 1,    \
      "HAKMEM_BIGCACHE_MAX_BYTES", NULL,                                                      \
      "hard cap of BigCache: freed large mappings kept per call site and size class (0: off)")\
    X(NUMA_MODE, "numa.mode", ENUM, "auto", "auto|off|local|interleave", 0, 0, 1,              \
      "HAKMEM_NUMA_MODE", NULL,                                                               \
      "NUMA placement of SuperSlabs and large mappings (auto: local on several nodes, else off)")\
    X(ELO_FIXED_ARM, "elo.fixed_arm", INT, "-1", NULL, -1, 23, 1, "HAKMEM_ELO_FIXED_ARM", NULL, \
      "elo policy: run this arm only, no learning (-1: learn); for comparing arms")           \
    X(TINY_ENABLED, "tiny.enabled", BOOL, "1", NULL, 0, 1, 0, "HAKMEM_TINY_ENABLED", NULL,    \
      "serve small requests from tiny (0 sends every request to the large path)")            \
    X(TINY_USE_SUPERSLAB, "tiny.use_superslab", BOOL, "1", NULL, 0, 1, 0,                     \
      "HAKMEM_TINY_USE_SUPERSLAB", NULL,                                                      \
      "take tiny slabs from 2 MiB SuperSlabs (0: map every 64 KiB slab on its own)")         \
    X(TINY_CACHE_BYTES, "tiny.cache_bytes", SIZE, "64K", NULL, 1024, 16777216, 0,             \
      "HAKMEM_TINY_CACHE_BYTES", NULL,                                                        \
      "bytes a thread keeps per size class in its free list (tls_sll) before flushing "      \
      "(16 to 1024 blocks whatever the bytes)")                                               \
    X(TINY_CHECKS, "tiny.checks", BOOL, "1", NULL, 0, 1, 1, "HAKMEM_TINY_CHECKS", NULL,       \
      "report double frees and frees of pointers into the middle of a tiny block (0: freed "  \
      "as given; a pointer past the blocks handed out in its slab is reported either way)")  \
    X(TINY_PURGE_MS, "tiny.purge_delay_ms", INT, "50", NULL, -1, 3600000, 1,                  \
      "HAKMEM_TINY_PURGE_DELAY_MS", NULL,                                                     \
      "a SuperSlab slab left free this long gives its pages back (MADV_DONTNEED); -1: never")\
    X(TINY_UNMAP_MS, "tiny.unmap_delay_ms", INT, "1000", NULL, -1, 3600000, 1,                 \
      "HAKMEM_TINY_UNMAP_DELAY_MS", NULL,                                                     \
      "a SuperSlab whose slabs are all free for this long is unmapped (decommitted in the "   \
      "SuperSlab region); -1: only past 64 of them")

#endif
