/* The environment read at start-up (HAKMEM_* and the original hakmem names), checked in
 * fresh child processes of the helper hak_env_probe (env_probe.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/test_util.h"
#include "hakmem/hakmem.h"
#include "shim/hak_test.h"

#define PROBE HAKMEM_TEST_BIN_DIR "/hak_env_probe"

/* ---- the environment, in fresh processes ---------------------------------------------- */

static int run_probe(const char *const env[], const char *arg, hak_proc *p) {
    const char *argv[] = {PROBE, arg, NULL};
    return hak_run(argv, env, NULL, 120, p);
}

/* Value of "config <key>=" or "counter <key>=" in the probe's output (static buffer). */
static const char *probe_value(const hak_proc *p, const char *kind, const char *key) {
    static char value[256];
    char needle[160];
    snprintf(needle, sizeof needle, "%s %s=", kind, key);
    const char *at = p->out;
    while ((at = strstr(at, needle)) != NULL) {
        if (at == p->out || at[-1] == '\n')
            break;
        at++;
    }
    if (!at)
        return NULL;
    at += strlen(needle);
    size_t n = strcspn(at, "\n");
    if (n >= sizeof value)
        n = sizeof value - 1;
    memcpy(value, at, n);
    value[n] = '\0';
    return value;
}

static unsigned long long probe_counter(const hak_proc *p, const char *name) {
    const char *v = probe_value(p, "counter", name);
    return v ? strtoull(v, NULL, 10) : ~0ull;
}

/* The probe ran to the end with every check passing. On failure the note shows the
 * probe's FAIL lines. */
static int probe_ok(const hak_proc *p) {
    char what[64];
    int ok = p->exited && p->exit_code == 0 && strstr(p->out, "\nok\n") != NULL;
    if (!ok) {
        const char *fail = strstr(p->out, "FAIL");
        hak_test_note("probe %s; %.600s; stderr: %.300s",
                      hak_proc_describe(p, what, sizeof what), fail ? fail : p->out, p->err);
    }
    return ok;
}

static int value_is(const hak_proc *p, const char *key, const char *want) {
    const char *v = probe_value(p, "config", key);
    if (!v || strcmp(v, want) != 0) {
        hak_test_note("%s is '%s', expected '%s'", key, v ? v : "(missing)", want);
        return 0;
    }
    return 1;
}

/* The table's default of key (hak_config_info), "" if unknown. */
static const char *table_default(const char *key) {
    hak_option_info info;
    for (size_t i = 0; i < hak_config_count(); i++)
        if (hak_config_info(i, &info) == 0 && strcmp(info.key, key) == 0)
            return info.default_value;
    return "";
}

static unsigned long long size_value(const char *s) {
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    switch (*end) {
    case 'k': case 'K': v <<= 10; break;
    case 'm': case 'M': v <<= 20; break;
    case 'g': case 'G': v <<= 30; break;
    default: break;
    }
    return v;
}

HAK_TEST(Env, CleanEnvironmentGivesDefaults) {
    hak_proc p;
    HAK_ASSERT_EQ(run_probe(NULL, NULL, &p), 0);
    HAK_EXPECT(probe_ok(&p));
    HAK_EXPECT_EQ(p.err_len, 0);
    size_t n = hak_config_count();
    for (size_t i = 0; i < n; i++) {
        hak_option_info info;
        HAK_ASSERT_EQ(hak_config_info(i, &info), 0);
        const char *v = probe_value(&p, "config", info.key);
        HAK_EXPECT(v != NULL);
        if (!v)
            continue;
        if (strcmp(info.type, "size") == 0 || strcmp(info.type, "int") == 0)
            HAK_EXPECT(size_value(v) == size_value(info.default_value));
        else
            HAK_EXPECT(value_is(&p, info.key, info.default_value));
    }
    HAK_EXPECT(value_is(&p, "tiny.use_superslab", "1"));
    hak_proc_free(&p);
}

HAK_TEST(Env, LargePolicyMmap) {
    const char *env[] = {"HAKMEM_LARGE_POLICY=mmap", NULL};
    hak_proc p;
    HAK_ASSERT_EQ(run_probe(env, NULL, &p), 0);
    HAK_EXPECT(probe_ok(&p));
    HAK_EXPECT(value_is(&p, "large.policy", "mmap"));
    HAK_EXPECT(probe_counter(&p, "large_alloc_mmap") > 0);
    HAK_EXPECT_EQ(probe_counter(&p, "large_alloc_malloc"), 0);
    HAK_EXPECT_EQ(p.err_len, 0);
    hak_proc_free(&p);
}

HAK_TEST(Env, LargePolicyMalloc) {
    const char *env[] = {"HAKMEM_LARGE_POLICY=malloc", NULL};
    hak_proc p;
    HAK_ASSERT_EQ(run_probe(env, NULL, &p), 0);
    HAK_EXPECT(probe_ok(&p));
    HAK_EXPECT(value_is(&p, "large.policy", "malloc"));
    HAK_EXPECT(probe_counter(&p, "large_alloc_malloc") > 0);
    HAK_EXPECT_EQ(probe_counter(&p, "large_alloc_mmap"), 0);
    HAK_EXPECT_EQ(p.err_len, 0);
    hak_proc_free(&p);
}

/* The original kill switch: every large block from mmap. */
HAK_TEST(Env, OriginalKillSwitchForcesMmap) {
    const char *env[] = {"HAKO_HAKMEM_LARGE_MMAP=1", NULL};
    hak_proc p;
    HAK_ASSERT_EQ(run_probe(env, NULL, &p), 0);
    HAK_EXPECT(probe_ok(&p));
    HAK_EXPECT(value_is(&p, "large.force_mmap", "1"));
    HAK_EXPECT(probe_counter(&p, "large_alloc_mmap") > 0);
    HAK_EXPECT_EQ(probe_counter(&p, "large_alloc_malloc"), 0);
    HAK_EXPECT_EQ(p.err_len, 0);
    hak_proc_free(&p);
}

/* The kill switch wins over a policy from the environment and one set at run time. */
HAK_TEST(Env, KillSwitchBeatsPolicy) {
    const char *env[] = {"HAKO_HAKMEM_LARGE_MMAP=1", "HAKMEM_LARGE_POLICY=malloc", NULL};
    hak_proc p;
    HAK_ASSERT_EQ(run_probe(env, "set-malloc", &p), 0);
    HAK_EXPECT(probe_ok(&p));
    HAK_EXPECT(probe_counter(&p, "large_alloc_mmap") > 0);
    HAK_EXPECT_EQ(probe_counter(&p, "large_alloc_malloc"), 0);
    hak_proc_free(&p);
}

HAK_TEST(Env, KillSwitchMainName) {
    const char *env[] = {"HAKMEM_LARGE_FORCE_MMAP=1", NULL};
    hak_proc p;
    HAK_ASSERT_EQ(run_probe(env, NULL, &p), 0);
    HAK_EXPECT(probe_ok(&p));
    HAK_EXPECT(value_is(&p, "large.force_mmap", "1"));
    HAK_EXPECT_EQ(probe_counter(&p, "large_alloc_malloc"), 0);
    hak_proc_free(&p);
}

/* A bad value: exactly one clear line on stderr naming the variable and the value, the
 * default (def, or the table's default when NULL) kept, no crash. */
static void one_bad_line_case(const char *assignment, const char *key, const char *def) {
    if (!def)
        def = table_default(key);
    const char *env[] = {assignment, NULL};
    hak_proc p;
    HAK_ASSERT_EQ(run_probe(env, NULL, &p), 0);
    HAK_EXPECT(probe_ok(&p));
    size_t lines = hak_count_lines(p.err, p.err_len);
    if (lines != 1)
        hak_test_note("%s: stderr has %zu lines: %s", assignment, lines, p.err);
    HAK_EXPECT_EQ(lines, 1);
    char var[128];
    snprintf(var, sizeof var, "%.*s", (int)strcspn(assignment, "="), assignment);
    const char *value = strchr(assignment, '=') + 1;
    HAK_EXPECT(strstr(p.err, "hakmem") != NULL);
    HAK_EXPECT(strstr(p.err, var) != NULL);
    if (*value)
        HAK_EXPECT(strstr(p.err, value) != NULL);
    HAK_EXPECT(value_is(&p, key, def));
    hak_proc_free(&p);
}

HAK_TEST(Env, BogusLargePolicyOneLineDefaultKept) {
    one_bad_line_case("HAKMEM_LARGE_POLICY=bogus", "large.policy", NULL);
}

HAK_TEST(Env, InvalidLargePolicyNameOneLine) {
    one_bad_line_case("HAKMEM_LARGE_POLICY=Not A Name!", "large.policy", NULL);
}

HAK_TEST(Env, TinyCacheBytesGarbageOneLineDefaultKept) {
    one_bad_line_case("HAKMEM_TINY_CACHE_BYTES=garbage", "tiny.cache_bytes", "65536");
}

HAK_TEST(Env, TinyCacheBytesOutOfRangeOneLine) {
    one_bad_line_case("HAKMEM_TINY_CACHE_BYTES=1", "tiny.cache_bytes", "65536");
}

HAK_TEST(Env, StatsGarbageOneLine) {
    one_bad_line_case("HAKMEM_STATS=maybe", "stats", "0");
}

HAK_TEST(Env, ForeignFreeGarbageOneLine) {
    one_bad_line_case("HAKMEM_CORE_FOREIGN_FREE=explode", "core.foreign_free", "abort");
}

HAK_TEST(Env, SeveralBadValuesOneLineEach) {
    const char *env[] = {"HAKMEM_LARGE_POLICY=bogus", "HAKMEM_TINY_CACHE_BYTES=garbage",
                         "HAKMEM_STATS=maybe", NULL};
    hak_proc p;
    HAK_ASSERT_EQ(run_probe(env, NULL, &p), 0);
    HAK_EXPECT(probe_ok(&p));
    HAK_EXPECT_EQ(hak_count_lines(p.err, p.err_len), 3);
    hak_proc_free(&p);
}

HAK_TEST(Env, TinyCacheBytesWithSuffix) {
    const char *env[] = {"HAKMEM_TINY_CACHE_BYTES=128K", NULL};
    hak_proc p;
    HAK_ASSERT_EQ(run_probe(env, NULL, &p), 0);
    HAK_EXPECT(probe_ok(&p));
    HAK_EXPECT(value_is(&p, "tiny.cache_bytes", "131072"));
    HAK_EXPECT_EQ(p.err_len, 0);
    hak_proc_free(&p);
}

HAK_TEST(Env, TinyUseSuperslabOffStillWorks) {
    const char *env[] = {"HAKMEM_TINY_USE_SUPERSLAB=0", NULL};
    hak_proc p;
    HAK_ASSERT_EQ(run_probe(env, NULL, &p), 0);
    HAK_EXPECT(probe_ok(&p));
    HAK_EXPECT(value_is(&p, "tiny.use_superslab", "0"));
    HAK_EXPECT_EQ(p.err_len, 0);
    hak_proc_free(&p);
}

HAK_TEST(Env, TinyUseSuperslabOnExplicitly) {
    const char *env[] = {"HAKMEM_TINY_USE_SUPERSLAB=1", NULL};
    hak_proc p;
    HAK_ASSERT_EQ(run_probe(env, NULL, &p), 0);
    HAK_EXPECT(probe_ok(&p));
    HAK_EXPECT(value_is(&p, "tiny.use_superslab", "1"));
    hak_proc_free(&p);
}

HAK_TEST(Env, TinyDisabledStillWorks) {
    const char *env[] = {"HAKMEM_TINY_ENABLED=0", NULL};
    hak_proc p;
    HAK_ASSERT_EQ(run_probe(env, NULL, &p), 0);
    HAK_EXPECT(probe_ok(&p));
    HAK_EXPECT(value_is(&p, "tiny.enabled", "0"));
    HAK_EXPECT_EQ(p.err_len, 0);
    hak_proc_free(&p);
}

HAK_TEST(Env, ForeignFreeIgnoreFromEnv) {
    const char *env[] = {"HAKMEM_CORE_FOREIGN_FREE=ignore", NULL};
    hak_proc p;
    HAK_ASSERT_EQ(run_probe(env, NULL, &p), 0);
    HAK_EXPECT(probe_ok(&p));
    HAK_EXPECT(value_is(&p, "core.foreign_free", "ignore"));
    hak_proc_free(&p);
}

HAK_TEST(Env, StatsPrintsCountersAtExit) {
    const char *env[] = {"HAKMEM_STATS=1", NULL};
    hak_proc p;
    HAK_ASSERT_EQ(run_probe(env, NULL, &p), 0);
    HAK_EXPECT(probe_ok(&p));
    HAK_EXPECT(value_is(&p, "stats", "1"));
    /* Every counter name appears on stderr. */
    hak_counter_value v[256];
    size_t n = hak_counters_snapshot(v, 256);
    HAK_ASSERT(n > 0 && n <= 256);
    for (size_t i = 0; i < n; i++) {
        if (!strstr(p.err, v[i].name))
            hak_test_note("counter %s missing from the exit report", v[i].name);
        HAK_EXPECT(strstr(p.err, v[i].name) != NULL);
    }
    HAK_EXPECT(strstr(p.err, "hakmem") != NULL);
    hak_proc_free(&p);
}

HAK_TEST(Env, TinyDisabledWithMmapPolicy) {
    const char *env[] = {"HAKMEM_TINY_ENABLED=0", "HAKMEM_LARGE_POLICY=mmap", NULL};
    hak_proc p;
    HAK_ASSERT_EQ(run_probe(env, NULL, &p), 0);
    HAK_EXPECT(probe_ok(&p));
    HAK_EXPECT(value_is(&p, "tiny.enabled", "0"));
    HAK_EXPECT(value_is(&p, "large.policy", "mmap"));
    HAK_EXPECT_EQ(p.err_len, 0);
    hak_proc_free(&p);
}

HAK_TEST(Env, EveryNumaModeWorks) {
    hak_option_info info;
    int found = 0;
    for (size_t i = 0; i < hak_config_count(); i++)
        if (hak_config_info(i, &info) == 0 && strcmp(info.key, "numa.mode") == 0) {
            found = 1;
            break;
        }
    if (!found || !info.choices)
        HAK_SKIP("no numa.mode option");
    char choices[256];
    snprintf(choices, sizeof choices, "%s", info.choices);
    char *save = NULL;
    for (char *c = strtok_r(choices, "|", &save); c; c = strtok_r(NULL, "|", &save)) {
        char var[128];
        snprintf(var, sizeof var, "%s=%s", info.env, c);
        const char *env[] = {var, "HAKMEM_LARGE_POLICY=mmap", NULL};
        hak_proc p;
        HAK_ASSERT_EQ(run_probe(env, NULL, &p), 0);
        HAK_EXPECT(probe_ok(&p));
        HAK_EXPECT(value_is(&p, "numa.mode", c));
        HAK_EXPECT_EQ(p.err_len, 0);
        hak_proc_free(&p);
    }
}
