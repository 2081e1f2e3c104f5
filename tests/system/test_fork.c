/* Fork from a multi-threaded parent: while four threads allocate and free (small and large,
 * handing blocks to each other), the main thread forks again and again; each child
 * allocates and frees small and large blocks, frees blocks it inherited, starts a thread,
 * and exits 0. A child that deadlocks (a lock held by a thread that does not exist in the
 * child) is killed by the hang guard and fails the test. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/test_util.h"
#include "hakmem/hakmem.h"
#include "shim/hak_test.h"

enum { WORKERS = 4, SHARED = 64 };

typedef struct shared_block {
    unsigned char *_Atomic p;
    _Atomic size_t n;
    _Atomic uint64_t seed;
} shared_block;

static shared_block shared[SHARED];
static atomic_int stop_workers;
static atomic_long worker_corrupt;

static size_t worker_size(uint64_t *rng) {
    uint64_t r = hak_rand_next(rng);
    if (r % 50 == 0)
        return 32769 + (r >> 8) % (1u << 20);
    return 1 + (r >> 8) % 4000;
}

/* The slots are guarded by slot_mu in the parent. A child never takes the lock (a worker
 * may have held it at the fork): it reads the slots directly, and a slot with p set always
 * has the matching n and seed, written before p. */
static pthread_mutex_t slot_mu = PTHREAD_MUTEX_INITIALIZER;

/* Takes a block out of a shared slot, checks it, frees it. */
static void take_and_free(int s) {
    pthread_mutex_lock(&slot_mu);
    unsigned char *p = atomic_load(&shared[s].p);
    size_t n = atomic_load(&shared[s].n);
    uint64_t seed = atomic_load(&shared[s].seed);
    atomic_store(&shared[s].p, NULL);
    pthread_mutex_unlock(&slot_mu);
    if (!p)
        return;
    if (!hak_check(p, n, seed))
        atomic_fetch_add(&worker_corrupt, 1);
    hak_free(p);
}

/* Puts a block into an empty slot; 0 if the slot was taken (the caller keeps the block). */
static int put(int s, unsigned char *p, size_t n, uint64_t seed) {
    pthread_mutex_lock(&slot_mu);
    int ok = atomic_load(&shared[s].p) == NULL;
    if (ok) {
        atomic_store(&shared[s].n, n);
        atomic_store(&shared[s].seed, seed);
        atomic_store(&shared[s].p, p);
    }
    pthread_mutex_unlock(&slot_mu);
    return ok;
}

static void *busy_worker(void *arg) {
    uint64_t rng = 99 + (uint64_t)(intptr_t)arg * 31337;
    while (!atomic_load_explicit(&stop_workers, memory_order_relaxed)) {
        size_t n = worker_size(&rng);
        unsigned char *p = hak_malloc(n);
        if (!p)
            continue;
        uint64_t seed = hak_rand_next(&rng);
        hak_fill(p, n, seed);
        int s = (int)(hak_rand_next(&rng) % SHARED);
        if (hak_rand_next(&rng) & 1) {
            take_and_free(s); /* the block another thread made, freed here */
            if (!put(s, p, n, seed)) {
                if (!hak_check(p, n, seed))
                    atomic_fetch_add(&worker_corrupt, 1);
                hak_free(p);
            }
        } else {
            if (!hak_check(p, n, seed))
                atomic_fetch_add(&worker_corrupt, 1);
            hak_free(p);
            take_and_free((s + 1) % SHARED);
        }
    }
    return NULL;
}

static void *child_thread(void *arg) {
    (void)arg;
    for (int i = 0; i < 2000; i++) {
        size_t n = (size_t)(i * 37 % 50000) + 1;
        unsigned char *p = hak_malloc(n);
        if (!p)
            return (void *)1;
        hak_fill(p, n, (uint64_t)i);
        if (!hak_check(p, n, (uint64_t)i))
            return (void *)1;
        hak_free(p);
    }
    return NULL;
}

/* Blocks the main thread made before forking, inherited by the child. */
static unsigned char *premade[32];
static size_t premade_n[32];

static int fork_child_body(void) {
    /* small and large, both policies */
    for (int pol = 0; pol < 2; pol++) {
        if (hak_config_set("large.policy", pol ? "mmap" : "malloc") != 0)
            return 2;
        void *blocks[200];
        for (int i = 0; i < 200; i++) {
            size_t n = i % 20 == 0 ? (size_t)(40000 + i * 5000) : (size_t)(1 + i * 13);
            blocks[i] = hak_malloc(n);
            if (!blocks[i])
                return 3;
            hak_fill(blocks[i], n, (uint64_t)i);
        }
        for (int i = 0; i < 200; i++) {
            size_t n = i % 20 == 0 ? (size_t)(40000 + i * 5000) : (size_t)(1 + i * 13);
            if (!hak_check(blocks[i], n, (uint64_t)i))
                return 4;
            hak_free(blocks[i]);
        }
    }
    /* Inherited blocks: the main thread's, and whatever the workers left in shared slots
     * (made by threads that do not exist here). */
    for (int i = 0; i < 32; i++) {
        if (!hak_check(premade[i], premade_n[i], (uint64_t)i + 500))
            return 5;
        hak_free(premade[i]);
    }
    for (int s = 0; s < SHARED; s++) {
        unsigned char *p = atomic_load(&shared[s].p);
        if (p) {
            if (!hak_check(p, atomic_load(&shared[s].n), atomic_load(&shared[s].seed)))
                return 6;
            hak_free(p);
        }
    }
    void *c = hak_calloc(1000, 100);
    if (!c || !hak_all_bytes(c, 100000, 0))
        return 7;
    hak_free(c);
    /* A thread in the child. */
    pthread_t t;
    if (pthread_create(&t, NULL, child_thread, NULL) != 0)
        return 8;
    void *res = NULL;
    pthread_join(t, &res);
    if (res != NULL)
        return 9;
    return 0;
}

static int fork_child_fn(void *arg) {
    (void)arg;
    return fork_child_body();
}

HAK_TEST(Fork, ChildOfBusyMultithreadedParentAllocates) {
    HAK_ASSERT_EQ(hak_config_set("large.policy", "malloc"), 0);
    for (int i = 0; i < 32; i++) {
        premade_n[i] = i % 8 == 0 ? 100000 + (size_t)i : (size_t)(i * 100 + 1);
        premade[i] = hak_malloc(premade_n[i]);
        HAK_ASSERT(premade[i] != NULL);
        hak_fill(premade[i], premade_n[i], (uint64_t)i + 500);
    }
    atomic_store(&stop_workers, 0);
    atomic_store(&worker_corrupt, 0);
    pthread_t w[WORKERS];
    for (intptr_t i = 0; i < WORKERS; i++)
        HAK_ASSERT_EQ(pthread_create(&w[i], NULL, busy_worker, (void *)i), 0);
    int failures = 0;
    for (int round = 0; round < 40; round++) {
        hak_proc p;
        HAK_EXPECT_EQ(hak_fork_run(fork_child_fn, NULL, 0, 60, &p), 0);
        if (!(p.exited && p.exit_code == 0)) {
            char what[64];
            if (failures++ < 3)
                hak_test_note("fork round %d: child %s; stderr: %.300s", round,
                              hak_proc_describe(&p, what, sizeof what), p.err);
        }
        hak_proc_free(&p);
        /* Switch the parent's policy between forks too. */
        hak_config_set("large.policy", round & 1 ? "mmap" : "malloc");
        usleep(2000);
    }
    atomic_store(&stop_workers, 1);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(w[i], NULL);
    HAK_EXPECT_EQ(failures, 0);
    HAK_EXPECT_EQ(atomic_load(&worker_corrupt), 0);
    /* The parent's blocks are intact after all the forks. */
    for (int i = 0; i < 32; i++) {
        HAK_EXPECT(hak_check(premade[i], premade_n[i], (uint64_t)i + 500));
        hak_free(premade[i]);
    }
    for (int s = 0; s < SHARED; s++)
        take_and_free(s);
    HAK_EXPECT_EQ(atomic_load(&worker_corrupt), 0);
    hak_config_set("large.policy", "malloc");
}

/* A child forks again: the grandchild allocates too. */
static int grandchild_fn(void *arg) {
    (void)arg;
    pid_t pid = fork();
    if (pid < 0)
        return 20;
    if (pid == 0)
        _exit(fork_child_body());
    int rc = fork_child_body();
    int status = 0;
    if (waitpid(pid, &status, 0) != pid)
        return 21;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return 22;
    return rc;
}

HAK_TEST(Fork, GrandchildAllocates) {
    for (int i = 0; i < 32; i++) {
        premade_n[i] = (size_t)(i * 50 + 1);
        premade[i] = hak_malloc(premade_n[i]);
        HAK_ASSERT(premade[i] != NULL);
        hak_fill(premade[i], premade_n[i], (uint64_t)i + 500);
    }
    atomic_store(&stop_workers, 0);
    pthread_t w[2];
    for (intptr_t i = 0; i < 2; i++)
        HAK_ASSERT_EQ(pthread_create(&w[i], NULL, busy_worker, (void *)i), 0);
    hak_proc p;
    HAK_EXPECT_EQ(hak_fork_run(grandchild_fn, NULL, 0, 60, &p), 0);
    char what[64];
    if (!(p.exited && p.exit_code == 0))
        hak_test_note("child %s", hak_proc_describe(&p, what, sizeof what));
    HAK_EXPECT(p.exited);
    HAK_EXPECT_EQ(p.exit_code, 0);
    hak_proc_free(&p);
    atomic_store(&stop_workers, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(w[i], NULL);
    for (int i = 0; i < 32; i++)
        hak_free(premade[i]);
    for (int s = 0; s < SHARED; s++)
        take_and_free(s);
}

/* exit() (not _exit) in a child whose parent had threads: atexit handlers and hakmem's own
 * destructor (stats printing on) run without a hang or crash. */
static int exit_with_stats(void *arg) {
    (void)arg;
    if (hak_config_set("stats", "1") != 0)
        return 30;
    void *p = hak_malloc(100000);
    hak_free(p);
    return 0;
}

HAK_TEST(Fork, ChildExitRunsDestructorsWithStats) {
    atomic_store(&stop_workers, 0);
    pthread_t w[2];
    for (intptr_t i = 0; i < 2; i++)
        HAK_ASSERT_EQ(pthread_create(&w[i], NULL, busy_worker, (void *)i), 0);
    hak_proc p;
    HAK_EXPECT_EQ(hak_fork_run(exit_with_stats, NULL, 1, 60, &p), 0);
    HAK_EXPECT(p.exited);
    HAK_EXPECT_EQ(p.exit_code, 0);
    HAK_EXPECT(strstr(p.err, "large_free") != NULL);
    hak_proc_free(&p);
    atomic_store(&stop_workers, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(w[i], NULL);
    for (int s = 0; s < SHARED; s++)
        take_and_free(s);
}
