/* The ELO-armed large policy: the engine's arithmetic, its seeded choices, convergence on a
 * synthetic cost model (a pure function of the arm: no clock), and the live policy. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "hakmem/hakmem.h"
#include "policy/elo.h"
#include "shim/hak_test.h"

static hak_elo_params params(uint64_t seed, unsigned epsilon_pm, unsigned survivors) {
    hak_elo_params p = {.k = 32, .epsilon_pm = epsilon_pm, .survivors = survivors,
                        .min_games = 2, .draw_margin = 0.02, .seed = seed};
    return p;
}

HAK_TEST(Elo, ExpectedScore) {
    HAK_EXPECT(fabs(hak_elo_expected(1500, 1500) - 0.5) < 1e-12);
    /* 400 points ahead: 10 to 1 odds. */
    HAK_EXPECT(fabs(hak_elo_expected(1900, 1500) - 10.0 / 11.0) < 1e-12);
    HAK_EXPECT(fabs(hak_elo_expected(1500, 1900) - 1.0 / 11.0) < 1e-12);
    HAK_EXPECT(fabs(hak_elo_expected(1234, 1777) + hak_elo_expected(1777, 1234) - 1.0) < 1e-12);
}

HAK_TEST(Elo, UpdateMovesByKTimesSurprise) {
    HAK_EXPECT(fabs(hak_elo_update(1500, 32, 1.0, 0.5) - 1516) < 1e-12);
    HAK_EXPECT(fabs(hak_elo_update(1500, 32, 0.0, 0.5) - 1484) < 1e-12);
    HAK_EXPECT(fabs(hak_elo_update(1500, 32, 0.5, 0.5) - 1500) < 1e-12);
    /* An expected win gains little. */
    double e = hak_elo_expected(1900, 1500);
    HAK_EXPECT(fabs(hak_elo_update(1900, 32, 1.0, e) - (1900 + 32.0 / 11.0)) < 1e-9);
}

HAK_TEST(Elo, TwentyFourArmsOverTwelveGeometricThresholds) {
    hak_elo_state s;
    hak_elo_params p = params(1, 100, 6);
    hak_elo_init(&s, &p);
    HAK_EXPECT_EQ(HAK_ELO_ARMS, 24);
    HAK_EXPECT_EQ(s.arms[0].threshold, 512 << 10);
    HAK_EXPECT_EQ(s.arms[HAK_ELO_ARMS - 1].threshold, 32 << 20);
    for (unsigned t = 1; t < HAK_ELO_THRESHOLDS; t++) {
        double ratio = (double)s.arms[2 * t].threshold / (double)s.arms[2 * (t - 1)].threshold;
        HAK_EXPECT(ratio > 1.40 && ratio < 1.52); /* 64^(1/11) = 1.46 */
        HAK_EXPECT(s.arms[2 * t].backend != s.arms[2 * t + 1].backend);
    }
    /* An arm routes sizes at or above its threshold to its backend, below to the other. */
    const hak_elo_arm *a = &s.arms[7];
    HAK_EXPECT(hak_elo_route(a, a->threshold) == a->backend);
    HAK_EXPECT(hak_elo_route(a, a->threshold - 1) != a->backend);
}

/* Cost model: distance from the best arm, plus a constant. */
static double model_cost(unsigned arm, unsigned best) {
    return 100.0 + 10.0 * (arm > best ? arm - best : best - arm);
}

static void run_epochs(hak_elo_state *s, unsigned best, unsigned epochs, unsigned *trace) {
    for (unsigned e = 0; e < epochs; e++) {
        unsigned next = hak_elo_close_epoch(s, model_cost(s->current, best));
        if (trace)
            trace[e] = next;
    }
}

HAK_TEST(Elo, SameSeedSameChoices) {
    hak_elo_state a, b, c;
    hak_elo_params pa = params(42, 300, 6), pc = params(43, 300, 6);
    hak_elo_init(&a, &pa);
    hak_elo_init(&b, &pa);
    hak_elo_init(&c, &pc);
    unsigned ta[200], tb[200], tc[200];
    run_epochs(&a, 5, 200, ta);
    run_epochs(&b, 5, 200, tb);
    run_epochs(&c, 5, 200, tc);
    HAK_EXPECT(memcmp(ta, tb, sizeof ta) == 0);
    HAK_EXPECT(memcmp(ta, tc, sizeof ta) != 0); /* another seed explores otherwise */
    for (unsigned i = 0; i < HAK_ELO_ARMS; i++)
        HAK_EXPECT(a.arms[i].rating == b.arms[i].rating);
}

HAK_TEST(Elo, EpsilonZeroExploitsTheLeaderOnceEveryArmPlayed) {
    hak_elo_state s;
    hak_elo_params p = params(7, 0, 24);
    hak_elo_init(&s, &p);
    unsigned trace[300];
    run_epochs(&s, 9, 300, trace);
    for (unsigned i = 0; i < HAK_ELO_ARMS; i++)
        HAK_EXPECT(s.arms[i].samples > 0);
    /* After the first round, every choice is the leader of that moment; at the end the
     * last 50 choices are all the best arm. */
    for (unsigned e = 250; e < 300; e++)
        HAK_EXPECT_EQ(trace[e], 9);
}

HAK_TEST(Elo, EpsilonOneExploresEveryActiveArm) {
    hak_elo_state s;
    hak_elo_params p = params(11, 1000, 24);
    hak_elo_init(&s, &p);
    unsigned trace[480];
    run_epochs(&s, 3, 480, trace);
    unsigned seen[HAK_ELO_ARMS] = {0};
    for (unsigned e = 0; e < 480; e++)
        seen[trace[e]]++;
    for (unsigned i = 0; i < HAK_ELO_ARMS; i++)
        HAK_EXPECT(seen[i] > 0);
}

HAK_TEST(Elo, ConvergesToTheBestArmOfASyntheticModel) {
    const unsigned bests[] = {0, 7, 16, 23};
    for (unsigned k = 0; k < 4; k++) {
        for (uint64_t seed = 1; seed <= 3; seed++) {
            hak_elo_state s;
            hak_elo_params p = params(seed, 100, 6);
            hak_elo_init(&s, &p);
            run_epochs(&s, bests[k], 400, NULL);
            HAK_EXPECT_EQ(hak_elo_leader(&s), bests[k]);
            HAK_EXPECT(s.arms[bests[k]].active);
            HAK_EXPECT_EQ(s.arms[bests[k]].losses, 0); /* it never has a higher cost */
        }
    }
}

HAK_TEST(Elo, LosersDropOutUntilMSurvive) {
    hak_elo_state s;
    hak_elo_params p = params(5, 200, 4);
    hak_elo_init(&s, &p);
    run_epochs(&s, 12, 2000, NULL);
    unsigned active = 0;
    for (unsigned i = 0; i < HAK_ELO_ARMS; i++)
        active += s.arms[i].active != 0;
    HAK_EXPECT_EQ(active, 4);
    HAK_EXPECT_EQ(s.active, 4);
    HAK_EXPECT(s.arms[12].active);
}

/* ---- the live policy ---- */

static int leaderboard_samples(unsigned *total, int *current) {
    hak_elo_arm_info arms[HAK_ELO_ARMS];
    size_t n = hak_elo_leaderboard(arms, HAK_ELO_ARMS);
    *total = 0;
    *current = -1;
    for (size_t i = 0; i < n; i++) {
        *total += arms[i].samples;
        if (arms[i].current)
            *current = (int)i;
    }
    return (int)n;
}

HAK_TEST(EloPolicy, SelectableAtRunTimeAndPlaysEpochs) {
    /* Epochs by count only (the default adds a time floor, and this loop's speed is the
     * machine's): one every 64 large allocations. */
    HAK_ASSERT_EQ(hak_config_set("elo.epoch_ms", "0"), 0);
    HAK_ASSERT_EQ(hak_config_set("elo.epoch_allocs", "64"), 0);
    HAK_ASSERT_EQ(hak_config_set("large.policy", "elo"), 0);
    char name[32];
    HAK_ASSERT_EQ(hak_config_get("large.policy", name, sizeof name), 0);
    HAK_EXPECT(strcmp(name, "elo") == 0);
    for (int i = 0; i < 2000; i++) {
        size_t size = ((size_t)(i % 40) + 1) << 18; /* 256 KiB .. 10 MiB */
        unsigned char *p = hak_malloc(size);
        HAK_ASSERT(p != NULL);
        p[0] = 1;
        p[size - 1] = 2;
        hak_free(p);
    }
    unsigned samples;
    int current;
    HAK_EXPECT_EQ(leaderboard_samples(&samples, &current), HAK_ELO_ARMS);
    /* an epoch every 64 large allocations, plus 16 to settle after each switch of arm */
    HAK_EXPECT(samples >= 2000 / 80 - 1);
    HAK_EXPECT(current >= 0);
    HAK_EXPECT_EQ(hak_config_set("large.policy", "malloc"), 0);
}

static void *large_worker(void *arg) {
    uintptr_t id = (uintptr_t)arg;
    for (int i = 0; i < 400; i++) {
        size_t size = ((size_t)((i + id) % 24) + 2) << 17;
        unsigned char *p = hak_malloc(size);
        if (!p)
            return (void *)1;
        memset(p, (int)id, 4096);
        for (int k = 0; k < 4096; k++)
            if (p[k] != (unsigned char)id)
                return (void *)1;
        hak_free(p);
    }
    return NULL;
}

HAK_TEST(EloPolicy, ManyThreadsAllocateThroughIt) {
    HAK_ASSERT_EQ(hak_config_set("large.policy", "elo"), 0);
    uint64_t allocs_before = 0, frees_before = 0, m0 = 0, m1 = 0;
    hak_counter_get("large_alloc_malloc", &m0);
    hak_counter_get("large_alloc_mmap", &m1);
    hak_counter_get("large_free", &frees_before);
    allocs_before = m0 + m1;
    pthread_t t[4];
    for (uintptr_t i = 0; i < 4; i++)
        HAK_ASSERT_EQ(pthread_create(&t[i], NULL, large_worker, (void *)i), 0);
    int failed = 0;
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        failed += r != NULL;
    }
    HAK_EXPECT_EQ(failed, 0);
    uint64_t frees_after = 0;
    hak_counter_get("large_alloc_malloc", &m0);
    hak_counter_get("large_alloc_mmap", &m1);
    hak_counter_get("large_free", &frees_after);
    HAK_EXPECT_EQ(m0 + m1 - allocs_before, 1600);
    HAK_EXPECT_EQ(frees_after - frees_before, 1600);
    HAK_EXPECT_EQ(hak_config_set("large.policy", "malloc"), 0);
}
