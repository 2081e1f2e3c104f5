/* Lazy initialisation, fork handlers and the exit report.
 *
 * hak_init_slow may be entered from the very first malloc of the process, before
 * constructors run, from any thread; nothing on its path calls malloc. A thread that
 * re-enters while it is itself initialising (a library call inside init that allocates)
 * proceeds: everything it needs is set up before such calls are made. */
#include "core/init.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>

#include "core/components.h"
#include "core/map.h"
#include "core/numa.h"
#include "core/options.h"
#include "core/os.h"
#include "core/prof.h"
#include "counters/counters.h"

void hak_stats_json_print(int fd); /* core/stats.c */

atomic_int hak_init_state;
static HAK_TLS char init_marker;      /* its address identifies a thread */
static void *_Atomic init_owner;
static int env_was_missing;
/* Where HAKMEM_STATS and the heap profile print at exit: a duplicate of stderr taken at
 * init, because some programs close stderr before exiting (coreutils' close_stdout does). */
static int stats_fd = -1;

extern char **environ;

/* Rooms in dependency order (see docs/ARCHITECTURE.md). */
int hak_components_present(const hak_component **out) {
    const hak_component *all[] = {
        HAK_HAS(policy) ? &hak_component_policy : NULL,
        HAK_HAS(superslab) ? &hak_component_superslab : NULL,
        HAK_HAS(tiny) ? &hak_component_tiny : NULL,
        HAK_HAS(batch) ? &hak_component_batch : NULL,
        HAK_HAS(bigcache) ? &hak_component_bigcache : NULL,
        HAK_HAS(large) ? &hak_component_large : NULL,
    };
    int n = 0;
    for (unsigned i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i])
            out[n++] = all[i];
    out[n] = NULL;
    return n;
}

/* Locks are taken the way the rooms nest them at run time: a room may hold its lock while
 * it calls a room below it (tiny holds its heaps lock while the provider takes its own), so
 * prepare goes from the top room down and ends with core's own locks; parent releases in
 * the reverse order. */
static void fork_prepare(void) {
    hak_prof_fork_prepare(); /* the front door's, first: no room lock is held under it */
    const hak_component *c[HAK_COMPONENTS_MAX + 1];
    for (int i = hak_components_present(c) - 1; i >= 0; i--)
        if (c[i]->fork_prepare)
            c[i]->fork_prepare();
    hak_map_fork_prepare();
    hak_counters_fork_prepare();
}

static void fork_parent(void) {
    const hak_component *c[HAK_COMPONENTS_MAX + 1];
    hak_components_present(c);
    hak_counters_fork_parent();
    hak_map_fork_parent();
    for (int i = 0; c[i]; i++)
        if (c[i]->fork_parent)
            c[i]->fork_parent();
    hak_prof_fork_release();
}

static void fork_child(void) {
    const hak_component *c[HAK_COMPONENTS_MAX + 1];
    hak_components_present(c);
    hak_map_fork_child();
    hak_counters_atfork_child();
    hak_purge_fork_child();
    for (int i = 0; c[i]; i++)
        if (c[i]->fork_child)
            c[i]->fork_child();
    hak_prof_fork_release();
}

static void do_init(void) {
    hak_os_page_size();
    env_was_missing = environ == NULL;
    hak_options_load_env();
    hak_prof_init(); /* before tiny's init, which sizes its lists by it */
    const hak_component *c[HAK_COMPONENTS_MAX + 1];
    hak_components_present(c);
    for (int i = 0; c[i]; i++)
        if (c[i]->init)
            c[i]->init();
    hak_options_apply_deferred();
    hak_counters_add_printer(hak_numa_print);
    if (hak_option(HAK_OPT_STATS) || hak_prof_active)
        stats_fd = fcntl(2, F_DUPFD_CLOEXEC, 3);
    /* Last: pthread_atfork may itself allocate; by now allocation works. */
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

void hak_init_slow(void) {
    int expected = HAK_INIT_NONE;
    if (atomic_compare_exchange_strong(&hak_init_state, &expected, HAK_INIT_RUNNING)) {
        atomic_store(&init_owner, (void *)&init_marker);
        do_init();
        atomic_store_explicit(&hak_init_state, HAK_INIT_DONE, memory_order_release);
        return;
    }
    if (expected == HAK_INIT_DONE || atomic_load(&init_owner) == (void *)&init_marker)
        return;
    while (atomic_load_explicit(&hak_init_state, memory_order_acquire) != HAK_INIT_DONE)
        hak_cpu_relax();
}

int hak_init_started(void) {
    return atomic_load(&hak_init_state) != HAK_INIT_NONE;
}

/* If the first allocation came before the C library had set up the environment (possible
 * under LD_PRELOAD), read it again now that constructors run. */
__attribute__((constructor)) static void hak_constructor(void) {
    hak_init_ensure();
    if (env_was_missing) {
        env_was_missing = 0;
        hak_options_load_env();
        hak_options_apply_deferred();
        if ((hak_option(HAK_OPT_STATS) || hak_prof_active) && stats_fd < 0)
            stats_fd = fcntl(2, F_DUPFD_CLOEXEC, 3);
    }
    hak_purge_background_start(); /* here, not inside an allocation: see core/purge.h */
}

__attribute__((destructor)) static void hak_destructor(void) {
    int fd = stats_fd >= 0 ? stats_fd : 2;
    int64_t stats = hak_option(HAK_OPT_STATS);
    if (stats == 1)
        hak_counters_print(fd);
    else if (stats == 2)
        hak_stats_json_print(fd);
    if (hak_prof_active)
        hak_prof_report(fd);
}
