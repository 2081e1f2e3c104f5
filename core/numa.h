/* NUMA placement (part of the OS layer): the policy of numa.mode applied with mbind to each
 * SuperSlab and large mapping when it is mapped.
 *   off        nothing (the kernel's default: first touch);
 *   local      prefer the node of the CPU the mapping thread runs on;
 *   interleave spread pages over every node with memory.
 * The topology is read once, lazily, from /sys without allocating. Built without libnuma
 * (HAKMEM_NUMA=OFF), or where the kernel has no NUMA support, everything runs as "off". */
#ifndef HAKMEM_CORE_NUMA_H
#define HAKMEM_CORE_NUMA_H

#include <stddef.h>

#define HAK_NUMA_MAX_NODES 64

enum hak_numa_mode { HAK_NUMA_OFF = 0, HAK_NUMA_LOCAL = 1, HAK_NUMA_INTERLEAVE = 2 };

/* 1 if this build has libnuma and the kernel supports NUMA policies. */
int  hak_numa_supported(void);
/* Nodes with memory (1 on a single-node machine). */
int  hak_numa_node_count(void);
/* Node of the CPU the caller runs on (0 when unknown). */
int  hak_numa_current_node(void);
/* The mode in force: numa.mode, with "auto" resolved (local on several nodes, else off). */
enum hak_numa_mode hak_numa_mode(void);
/* Applies the mode to a fresh mapping and counts it for the node it is placed on. */
void hak_numa_place(void *addr, size_t len);
/* Applies the mode to a range that becomes (part of) a block again: taken from a cache, or
 * grown by mremap (it may carry the policy of another mode, or of another thread's node).
 * No system call while no range was ever bound (numa.mode off throughout). */
void hak_numa_replace(void *addr, size_t len);
/* Counts a reuse of a cached range from another node under "local" (BigCache, batch). */
void hak_numa_count_remote_reuse(void);
/* HAKMEM_STATS=1 lines: mappings and bytes per node. */
void hak_numa_print(int fd);

#endif
