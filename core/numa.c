#include "core/numa.h"

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "core/compiler.h"
#include "core/options.h"
#include "counters/counters.h"

#ifdef HAKMEM_HAVE_NUMA
#include <numa.h>
#include <numaif.h>
#endif

#define MAX_CPUS 1024

static atomic_int topology_state; /* 0 unread, 1 reading, 2 ready */
static int supported;
static int node_count = 1;
static unsigned long memory_nodes[HAK_NUMA_MAX_NODES / (8 * sizeof(unsigned long))];
static uint8_t cpu_node[MAX_CPUS];
static _Atomic uint64_t node_maps[HAK_NUMA_MAX_NODES];
static _Atomic uint64_t node_bytes[HAK_NUMA_MAX_NODES];

/* Reads a small /sys file into buf (NUL-terminated) without stdio. */
static int read_small(const char *path, char *buf, size_t len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return 0;
}

/* Calls fn(i, arg) for every number in a list like "0-3,8,10-11". */
static void for_each_in_list(const char *s, void (*fn)(unsigned, void *), void *arg) {
    while (*s) {
        char *end;
        unsigned long a = strtoul(s, &end, 10), b = a;
        if (end == s)
            break;
        if (*end == '-')
            b = strtoul(end + 1, &end, 10);
        for (unsigned long i = a; i <= b && i < 4096; i++)
            fn((unsigned)i, arg);
        s = *end == ',' ? end + 1 : end;
        if (*s == '\n')
            break;
    }
}

static void add_node(unsigned n, void *arg) {
    (void)arg;
    if (n < HAK_NUMA_MAX_NODES)
        memory_nodes[n / (8 * sizeof(unsigned long))] |= 1ul << (n % (8 * sizeof(unsigned long)));
}

static void set_cpu_node(unsigned cpu, void *arg) {
    if (cpu < MAX_CPUS)
        cpu_node[cpu] = (uint8_t)(uintptr_t)arg;
}

static void read_topology(void) {
    int expected = 0;
    if (!atomic_compare_exchange_strong(&topology_state, &expected, 1)) {
        while (atomic_load(&topology_state) != 2)
            sched_yield();
        return;
    }
#ifdef HAKMEM_HAVE_NUMA
    supported = numa_available() >= 0;
#endif
    char buf[512];
    if (read_small("/sys/devices/system/node/has_memory", buf, sizeof buf) == 0)
        for_each_in_list(buf, add_node, NULL);
    else
        memory_nodes[0] = 1;
    node_count = 0;
    for (unsigned n = 0; n < HAK_NUMA_MAX_NODES; n++) {
        if (!(memory_nodes[n / (8 * sizeof(unsigned long))] & (1ul << (n % (8 * sizeof(unsigned long))))))
            continue;
        node_count++;
        char path[96];
        memcpy(path, "/sys/devices/system/node/node", 29);
        int len = 29;
        if (n >= 10)
            path[len++] = (char)('0' + n / 10);
        path[len++] = (char)('0' + n % 10);
        memcpy(path + len, "/cpulist", 9);
        if (read_small(path, buf, sizeof buf) == 0)
            for_each_in_list(buf, set_cpu_node, (void *)(uintptr_t)n);
    }
    if (node_count == 0) {
        node_count = 1;
        memory_nodes[0] = 1;
    }
    atomic_store(&topology_state, 2);
}

static inline void ensure_topology(void) {
    if (hak_unlikely(atomic_load_explicit(&topology_state, memory_order_acquire) != 2))
        read_topology();
}

int hak_numa_supported(void) {
    ensure_topology();
    return supported;
}

int hak_numa_node_count(void) {
    ensure_topology();
    return node_count;
}

int hak_numa_current_node(void) {
    ensure_topology();
    if (hak_numa_node_count() <= 1)
        return 0; /* one node: no system call (BigCache asks on every put) */
    int cpu = sched_getcpu();
    return cpu >= 0 && cpu < MAX_CPUS ? cpu_node[cpu] : 0;
}

enum hak_numa_mode hak_numa_mode(void) {
    int64_t v = hak_option(HAK_OPT_NUMA_MODE); /* auto|off|local|interleave */
    if (v == 0)
        return hak_numa_supported() && hak_numa_node_count() > 1 ? HAK_NUMA_LOCAL : HAK_NUMA_OFF;
    if (!hak_numa_supported())
        return HAK_NUMA_OFF;
    return (enum hak_numa_mode)(v - 1);
}

/* Set once a range was bound to a node policy: from then on a range reused under "off" is
 * set back to the default policy (it may carry an older mode's). */
static atomic_int ever_bound;

static void bind_range(void *addr, size_t len, enum hak_numa_mode mode, int node) {
#ifdef HAKMEM_HAVE_NUMA
    if (mode == HAK_NUMA_LOCAL) {
        unsigned long mask[HAK_NUMA_MAX_NODES / (8 * sizeof(unsigned long))] = {0};
        mask[node / (8 * sizeof(unsigned long))] = 1ul << (node % (8 * sizeof(unsigned long)));
        atomic_store_explicit(&ever_bound, 1, memory_order_relaxed);
        if (mbind(addr, len, MPOL_PREFERRED, mask, HAK_NUMA_MAX_NODES + 1, 0) == 0)
            HAK_COUNT(numa_bind_local);
    } else if (mode == HAK_NUMA_INTERLEAVE) {
        atomic_store_explicit(&ever_bound, 1, memory_order_relaxed);
        if (mbind(addr, len, MPOL_INTERLEAVE, memory_nodes, HAK_NUMA_MAX_NODES + 1, 0) == 0)
            HAK_COUNT(numa_bind_interleave);
    } else if (atomic_load_explicit(&ever_bound, memory_order_relaxed)) {
        mbind(addr, len, MPOL_DEFAULT, NULL, 0, 0);
    }
#else
    (void)addr;
    (void)len;
    (void)mode;
    (void)node;
#endif
}

void hak_numa_place(void *addr, size_t len) {
    enum hak_numa_mode mode = hak_numa_mode();
    int node = hak_numa_current_node();
    bind_range(addr, len, mode, node);
    if (node >= 0 && node < HAK_NUMA_MAX_NODES) {
        atomic_fetch_add_explicit(&node_maps[node], 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&node_bytes[node], len, memory_order_relaxed);
    }
}

void hak_numa_replace(void *addr, size_t len) {
    enum hak_numa_mode mode = hak_numa_mode();
    if (mode == HAK_NUMA_OFF && !atomic_load_explicit(&ever_bound, memory_order_relaxed))
        return; /* nothing was ever bound: every range has the default policy */
    bind_range(addr, len, mode, hak_numa_current_node());
}

void hak_numa_count_remote_reuse(void) {
    HAK_COUNT(numa_remote_reuse);
}

/* HAKMEM_STATS=1: mappings and bytes per node (node of the mapping thread). */
void hak_numa_print(int fd) {
    char line[160];
    for (int n = 0; n < HAK_NUMA_MAX_NODES; n++) {
        uint64_t maps = atomic_load(&node_maps[n]);
        if (!maps)
            continue;
        int len = snprintf(line, sizeof line, "[hakmem]   numa node %-2d mappings %-10llu bytes %llu\n",
                           n, (unsigned long long)maps,
                           (unsigned long long)atomic_load(&node_bytes[n]));
        if (len > 0)
            hak_write_all(fd, line, len < (int)sizeof line ? (size_t)len : sizeof line - 1);
    }
}
