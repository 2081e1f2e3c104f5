/* Real programs under LD_PRELOAD=libhakmem.so: the same program runs once without and once
 * with the preload; both must exit 0 and print byte-identical stdout. The preloaded run
 * also has HAKMEM_STATS=1, and its stderr must show hakmem's exit report (proof that hakmem
 * really served the program). A program that is not installed is skipped. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/test_util.h"
#include "counters/counters.h"
#include "hakmem/hakmem.h"
#include "shim/hak_test.h"

#define SO HAKMEM_TEST_SO
#define HANG_GUARD_S 240

/* Environment for both runs plus LD_PRELOAD and HAKMEM_STATS for the preloaded one. */
static const char **env_with(const char *const base[], int preload, const char *const extra[]) {
    static const char *buf[64];
    size_t k = 0;
    for (size_t i = 0; base && base[i] && k < 40; i++)
        buf[k++] = base[i];
    if (preload) {
        buf[k++] = "LD_PRELOAD=" SO;
        buf[k++] = "HAKMEM_STATS=1";
    }
    for (size_t i = 0; extra && extra[i] && k < 62; i++)
        buf[k++] = extra[i];
    buf[k] = NULL;
    return buf;
}

static int ran_ok(const hak_proc *p, const char *label) {
    char what[64];
    if (p->started && p->exited && p->exit_code == 0)
        return 1;
    hak_test_note("%s: %s; stderr: %.800s", label, hak_proc_describe(p, what, sizeof what),
                  p->err ? p->err : "");
    return 0;
}

static int same_output(const hak_proc *a, const hak_proc *b, const char *label) {
    if (a->out_len == b->out_len && memcmp(a->out, b->out, a->out_len) == 0)
        return 1;
    size_t i = 0;
    while (i < a->out_len && i < b->out_len && a->out[i] == b->out[i])
        i++;
    hak_test_note("%s: stdout differs at byte %zu (lengths %zu and %zu): plain '%.80s' vs "
                  "preload '%.80s'",
                  label, i, a->out_len, b->out_len, a->out + (i < a->out_len ? i : a->out_len),
                  b->out + (i < b->out_len ? i : b->out_len));
    return 0;
}

/* stdout length of the last plain run of compare_runs (programs that must print check it). */
static size_t last_out_len;

/* Runs argv without and with the preload (in cwd_plain / cwd_pre); asserts both exit 0 with
 * identical stdout and that hakmem's exit report is on the preloaded run's stderr. Returns 1
 * when all of that held. */
static int compare_runs(const char *label, const char *const argv[], const char *const env[],
                        const char *cwd_plain, const char *cwd_pre) {
    hak_proc plain, pre;
    int ok = 1;
    if (hak_run(argv, env_with(env, 0, NULL), cwd_plain, HANG_GUARD_S, &plain) != 0) {
        hak_test_note("%s: cannot start %s", label, argv[0]);
        HAK_EXPECT(0);
        return 0;
    }
    if (hak_run(argv, env_with(env, 1, NULL), cwd_pre, HANG_GUARD_S, &pre) != 0) {
        hak_proc_free(&plain);
        HAK_EXPECT(0);
        return 0;
    }
    char l1[160], l2[160];
    snprintf(l1, sizeof l1, "%s (plain)", label);
    snprintf(l2, sizeof l2, "%s (LD_PRELOAD)", label);
    int plain_ok = ran_ok(&plain, l1);
    int pre_ok = ran_ok(&pre, l2);
    int same = same_output(&plain, &pre, label);
    int report = strstr(pre.err, "hakmem") != NULL;
    if (!report)
        hak_test_note("%s: no hakmem report on the preloaded stderr", label);
    HAK_EXPECT(plain_ok);
    HAK_EXPECT(pre_ok);
    HAK_EXPECT(same);
    HAK_EXPECT(report);
    ok = plain_ok && pre_ok && same && report;
    last_out_len = plain.out_len;
    hak_proc_free(&plain);
    hak_proc_free(&pre);
    return ok;
}

static char *need_program(const char *name) {
    return hak_which(name);
}

static int so_exists(void) {
    return access(SO, R_OK) == 0;
}

/* ---- python ---------------------------------------------------------------------------- */

static void python_case(const char *pymalloc) {
    if (!so_exists())
        HAK_SKIP("libhakmem.so not built");
    if (access("/usr/bin/python3", X_OK) != 0)
        HAK_SKIP("/usr/bin/python3 not installed");
    const char *argv[] = {"/usr/bin/python3", "-I", HAKMEM_TEST_SRC_DIR "/alloc_heavy.py", NULL};
    char mallocvar[64];
    snprintf(mallocvar, sizeof mallocvar, "PYTHONMALLOC=%s", pymalloc);
    const char *env[] = {"PYTHONHASHSEED=0", mallocvar, NULL};
    compare_runs("python3 alloc_heavy.py", argv, env, NULL, NULL);
    HAK_EXPECT(last_out_len > 0);
}

HAK_TEST(Preload, PythonAllocHeavyScript) {
    python_case("pymalloc");
}

/* Every Python object through malloc/free, not only the big ones. */
HAK_TEST(Preload, PythonAllocHeavyScriptMallocOnly) {
    python_case("malloc");
}

HAK_TEST(Preload, PythonUnderMmapLargePolicy) {
    if (!so_exists())
        HAK_SKIP("libhakmem.so not built");
    if (access("/usr/bin/python3", X_OK) != 0)
        HAK_SKIP("/usr/bin/python3 not installed");
    const char *argv[] = {"/usr/bin/python3", "-I", HAKMEM_TEST_SRC_DIR "/alloc_heavy.py", NULL};
    const char *env[] = {"PYTHONHASHSEED=0", "PYTHONMALLOC=malloc", "HAKMEM_LARGE_POLICY=mmap",
                         NULL};
    compare_runs("python3 (large.policy=mmap)", argv, env, NULL, NULL);
}

/* ---- git ------------------------------------------------------------------------------- */

static const char *git_env_for(const char *home) {
    static char buf[1100];
    snprintf(buf, sizeof buf, "HOME=%s", home);
    return buf;
}

/* Writes the files of commit i into dir (same content in both repositories). */
static int git_write_tree(const char *dir, int i) {
    char path[4200];
    snprintf(path, sizeof path, "%s/file%d.txt", dir, i % 7);
    FILE *f = fopen(path, "a");
    if (!f)
        return -1;
    for (int k = 0; k < 200 + i * 10; k++)
        fprintf(f, "commit %d line %d %08x\n", i, k, (unsigned)(k * 2654435761u + (unsigned)i));
    fclose(f);
    if (i % 5 == 0) {
        snprintf(path, sizeof path, "%s/dir%d", dir, i);
        mkdir(path, 0755);
        snprintf(path, sizeof path, "%s/dir%d/nested.c", dir, i);
        f = fopen(path, "w");
        if (!f)
            return -1;
        fprintf(f, "int f%d(void) { return %d; }\n", i, i * i);
        fclose(f);
    }
    return 0;
}

HAK_TEST(Preload, GitCommitsLogStatus) {
    if (!so_exists())
        HAK_SKIP("libhakmem.so not built");
    char *git = need_program("git");
    if (!git)
        HAK_SKIP("git not installed");
    char *root = hak_mkdtemp("git");
    HAK_ASSERT(root != NULL);
    char plain[1024], pre[1024], home[1024];
    snprintf(plain, sizeof plain, "%s/plain", root);
    snprintf(pre, sizeof pre, "%s/pre", root);
    snprintf(home, sizeof home, "%s/home", root);
    HAK_ASSERT(mkdir(plain, 0755) == 0 && mkdir(pre, 0755) == 0 && mkdir(home, 0755) == 0);
    /* Fixed identities and dates: both repositories get the same commit ids. */
    const char *env[] = {git_env_for(home),
                         "GIT_CONFIG_NOSYSTEM=1",
                         "GIT_AUTHOR_NAME=Hak Test",
                         "GIT_AUTHOR_EMAIL=hak@example.com",
                         "GIT_COMMITTER_NAME=Hak Test",
                         "GIT_COMMITTER_EMAIL=hak@example.com",
                         "GIT_AUTHOR_DATE=2024-01-01T00:00:00Z",
                         "GIT_COMMITTER_DATE=2024-01-01T00:00:00Z",
                         "GIT_PAGER=cat",
                         "PAGER=cat",
                         "LC_ALL=C",
                         "TZ=UTC",
                         NULL};
    int ok = 1;
    /* init prints the repository's path: run it, do not compare it. */
    const char *init[] = {git, "init", "-q", "-b", "main", ".", NULL};
    hak_proc i1, i2;
    HAK_ASSERT_EQ(hak_run(init, env_with(env, 0, NULL), plain, HANG_GUARD_S, &i1), 0);
    HAK_ASSERT_EQ(hak_run(init, env_with(env, 1, NULL), pre, HANG_GUARD_S, &i2), 0);
    HAK_ASSERT(ran_ok(&i1, "git init (plain)"));
    HAK_ASSERT(ran_ok(&i2, "git init (LD_PRELOAD)"));
    hak_proc_free(&i1);
    hak_proc_free(&i2);
    for (int i = 0; i < 25 && ok; i++) {
        HAK_ASSERT_EQ(git_write_tree(plain, i), 0);
        HAK_ASSERT_EQ(git_write_tree(pre, i), 0);
        const char *add[] = {git, "add", "-A", NULL};
        hak_proc a, b;
        HAK_ASSERT_EQ(hak_run(add, env_with(env, 0, NULL), plain, HANG_GUARD_S, &a), 0);
        HAK_ASSERT_EQ(hak_run(add, env_with(env, 1, NULL), pre, HANG_GUARD_S, &b), 0);
        HAK_EXPECT(ran_ok(&a, "git add (plain)"));
        HAK_EXPECT(ran_ok(&b, "git add (LD_PRELOAD)"));
        ok &= ran_ok(&a, "git add") && ran_ok(&b, "git add");
        hak_proc_free(&a);
        hak_proc_free(&b);
        char msg[64];
        snprintf(msg, sizeof msg, "commit number %d", i);
        const char *commit[] = {git, "commit", "-m", msg, NULL};
        ok &= compare_runs("git commit", commit, env, plain, pre);
    }
    const char *log[] = {git, "log", "--oneline", "-n", "50", NULL};
    ok &= compare_runs("git log --oneline -n 50", log, env, plain, pre);
    HAK_EXPECT(last_out_len > 0);
    const char *stat[] = {git, "log", "--stat", "-n", "10", NULL};
    ok &= compare_runs("git log --stat", stat, env, plain, pre);
    const char *diff[] = {git, "diff", "HEAD~7", "HEAD", NULL};
    ok &= compare_runs("git diff", diff, env, plain, pre);
    /* An untracked and a modified file for status. */
    git_write_tree(plain, 99);
    git_write_tree(pre, 99);
    const char *status[] = {git, "status", NULL};
    ok &= compare_runs("git status", status, env, plain, pre);
    const char *porcelain[] = {git, "status", "--porcelain", NULL};
    ok &= compare_runs("git status --porcelain", porcelain, env, plain, pre);
    const char *fsck[] = {git, "fsck", "--no-progress", NULL};
    hak_proc f;
    HAK_ASSERT_EQ(hak_run(fsck, env_with(env, 1, NULL), pre, HANG_GUARD_S, &f), 0);
    HAK_EXPECT(ran_ok(&f, "git fsck (LD_PRELOAD)"));
    hak_proc_free(&f);
    HAK_EXPECT(ok);
    hak_rmtree(root);
    free(root);
    free(git);
}

/* ---- perl ------------------------------------------------------------------------------ */

HAK_TEST(Preload, PerlHashHeavyOneLiner) {
    if (!so_exists())
        HAK_SKIP("libhakmem.so not built");
    char *perl = need_program("perl");
    if (!perl)
        HAK_SKIP("perl not installed");
    const char *script =
        "my %h; for my $i (1..300000) { $h{\"key$i\"} = [$i, \"v\" x ($i % 50)]; } "
        "delete $h{\"key$_\"} for grep { $_ % 3 == 0 } 1..300000; "
        "my $s = 0; $s += $h{$_}[0] + length($h{$_}[1]) for sort keys %h; "
        "my @w = map { join '', reverse split //, $_ } sort keys %h; "
        "my %c; $c{substr($_, 0, 2)}++ for @w; "
        "print scalar(keys %h), \" $s \", join(',', map {\"$_=$c{$_}\"} sort keys %c), \"\\n\";";
    const char *argv[] = {perl, "-e", script, NULL};
    const char *env[] = {"PERL_HASH_SEED=0", "PERL_PERTURB_KEYS=0", "LC_ALL=C", NULL};
    compare_runs("perl hash one-liner", argv, env, NULL, NULL);
    HAK_EXPECT(last_out_len > 0);
    free(perl);
}

/* ---- sort ------------------------------------------------------------------------------ */

HAK_TEST(Preload, SortLargeFile) {
    if (!so_exists())
        HAK_SKIP("libhakmem.so not built");
    char *sort = need_program("sort");
    if (!sort)
        HAK_SKIP("sort not installed");
    char *dir = hak_mkdtemp("sort");
    HAK_ASSERT(dir != NULL);
    char path[4200];
    snprintf(path, sizeof path, "%s/input.txt", dir);
    FILE *f = fopen(path, "w");
    HAK_ASSERT(f != NULL);
    uint64_t rng = 2024;
    size_t bytes = 0;
    while (bytes < (6u << 20)) { /* 6 MiB of lines of random words */
        int words = 1 + (int)(hak_rand_next(&rng) % 8);
        for (int w = 0; w < words; w++) {
            int len = 1 + (int)(hak_rand_next(&rng) % 12);
            for (int c = 0; c < len; c++)
                fputc('a' + (int)(hak_rand_next(&rng) % 26), f);
            fputc(w + 1 < words ? ' ' : '\n', f);
            bytes += (size_t)len + 1;
        }
    }
    fclose(f);
    const char *env[] = {"LC_ALL=C", NULL};
    const char *argv[] = {sort, path, NULL};
    compare_runs("sort 6 MiB", argv, env, NULL, NULL);
    HAK_EXPECT(last_out_len >= bytes);
    const char *argv2[] = {sort, "-r", "-k2", "--parallel=2", "-S", "1M", path, NULL};
    compare_runs("sort -r -k2 --parallel=2 -S 1M", argv2, env, NULL, NULL);
    const char *argv3[] = {sort, "-u", "-f", path, NULL};
    compare_runs("sort -u -f", argv3, env, NULL, NULL);
    hak_rmtree(dir);
    free(dir);
    free(sort);
}

/* ---- cmake ----------------------------------------------------------------------------- */

HAK_TEST(Preload, CmakeVersionAndConfigure) {
    if (!so_exists())
        HAK_SKIP("libhakmem.so not built");
    char *cmake = need_program("cmake");
    if (!cmake)
        HAK_SKIP("cmake not installed");
    const char *ver[] = {cmake, "--version", NULL};
    compare_runs("cmake --version", ver, NULL, NULL, NULL);
    HAK_EXPECT(last_out_len > 0);

    char *dir = hak_mkdtemp("cmake");
    HAK_ASSERT(dir != NULL);
    char src[4200], b1[4200], b2[4200], path[4300];
    snprintf(src, sizeof src, "%s/src", dir);
    snprintf(b1, sizeof b1, "%s/build-plain", dir);
    snprintf(b2, sizeof b2, "%s/build-pre", dir);
    HAK_ASSERT(mkdir(src, 0755) == 0);
    const char *lists =
        "cmake_minimum_required(VERSION 3.13)\n"
        "project(haktiny NONE)\n"
        "set(items \"\")\n"
        "foreach(i RANGE 1 3000)\n"
        "  math(EXPR v \"(${i} * 7919) % 10007\")\n"
        "  list(APPEND items \"item-${v}\")\n"
        "endforeach()\n"
        "list(SORT items)\n"
        "list(REMOVE_DUPLICATES items)\n"
        "list(LENGTH items count)\n"
        "string(JOIN \",\" joined ${items})\n"
        "string(SHA256 digest \"${joined}\")\n"
        "string(REGEX REPLACE \"item-([0-9])\" \"x\\\\1\" replaced \"${joined}\")\n"
        "string(LENGTH \"${replaced}\" rlen)\n"
        "set(GREETING \"hello from hakmem\")\n"
        "configure_file(${CMAKE_SOURCE_DIR}/gen.txt.in ${CMAKE_BINARY_DIR}/gen.txt @ONLY)\n";
    const char *tmpl = "count=@count@\ndigest=@digest@\nrlen=@rlen@\ngreeting=@GREETING@\n";
    snprintf(path, sizeof path, "%s/CMakeLists.txt", src);
    HAK_ASSERT_EQ(hak_write_file(path, lists, strlen(lists)), 0);
    snprintf(path, sizeof path, "%s/gen.txt.in", src);
    HAK_ASSERT_EQ(hak_write_file(path, tmpl, strlen(tmpl)), 0);

    const char *c1[] = {cmake, "-S", src, "-B", b1, NULL};
    const char *c2[] = {cmake, "-S", src, "-B", b2, NULL};
    hak_proc a, b;
    HAK_ASSERT_EQ(hak_run(c1, env_with(NULL, 0, NULL), NULL, HANG_GUARD_S, &a), 0);
    HAK_ASSERT_EQ(hak_run(c2, env_with(NULL, 1, NULL), NULL, HANG_GUARD_S, &b), 0);
    HAK_EXPECT(ran_ok(&a, "cmake configure (plain)"));
    HAK_EXPECT(ran_ok(&b, "cmake configure (LD_PRELOAD)"));
    HAK_EXPECT(strstr(b.err, "hakmem") != NULL);
    hak_proc_free(&a);
    hak_proc_free(&b);
    size_t n1 = 0, n2 = 0;
    snprintf(path, sizeof path, "%s/gen.txt", b1);
    char *g1 = hak_read_file(path, &n1);
    snprintf(path, sizeof path, "%s/gen.txt", b2);
    char *g2 = hak_read_file(path, &n2);
    HAK_EXPECT(g1 != NULL);
    HAK_EXPECT(g2 != NULL);
    if (g1 && g2) {
        HAK_EXPECT(n1 == n2 && memcmp(g1, g2, n1) == 0);
        HAK_EXPECT(strstr(g1, "greeting=hello from hakmem") != NULL);
        HAK_EXPECT(strstr(g1, "count=") != NULL);
    }
    free(g1);
    free(g2);
    hak_rmtree(dir);
    free(dir);
    free(cmake);
}

/* ---- gcc ------------------------------------------------------------------------------- */

HAK_TEST(Preload, GccCompilesProgram) {
    if (!so_exists())
        HAK_SKIP("libhakmem.so not built");
    char *gcc = need_program("gcc");
    if (!gcc)
        HAK_SKIP("gcc not installed");
    char *dir = hak_mkdtemp("gcc");
    HAK_ASSERT(dir != NULL);
    const char *prog =
        "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n"
        "static int cmp(const void *a, const void *b) {\n"
        "  return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);\n"
        "}\n"
        "int main(void) {\n"
        "  enum { N = 100000 };\n"
        "  int *v = malloc(N * sizeof *v);\n"
        "  unsigned x = 12345; long sum = 0;\n"
        "  for (int i = 0; i < N; i++) { x = x * 1103515245u + 12345u; v[i] = (int)(x >> 8); }\n"
        "  qsort(v, N, sizeof *v, cmp);\n"
        "  for (int i = 0; i < N; i += 997) sum += v[i] % 1000;\n"
        "  char *s = strdup(\"compiled under hakmem\");\n"
        "  printf(\"%s %ld %d %d\\n\", s, sum, v[0], v[N - 1]);\n"
        "  free(s); free(v);\n"
        "  return 0;\n"
        "}\n";
    char src[4200], exe1[4200], exe2[4200], asm1[4200], asm2[4200];
    snprintf(src, sizeof src, "%s/prog.c", dir);
    snprintf(exe1, sizeof exe1, "%s/prog-plain", dir);
    snprintf(exe2, sizeof exe2, "%s/prog-pre", dir);
    snprintf(asm1, sizeof asm1, "%s/prog-plain.s", dir);
    snprintf(asm2, sizeof asm2, "%s/prog-pre.s", dir);
    HAK_ASSERT_EQ(hak_write_file(src, prog, strlen(prog)), 0);

    /* Compile and link (cc1, as, collect2, ld all run preloaded). */
    const char *cc1[] = {gcc, "-O2", "-Wall", "-o", exe1, src, NULL};
    const char *cc2[] = {gcc, "-O2", "-Wall", "-o", exe2, src, NULL};
    hak_proc a, b;
    HAK_ASSERT_EQ(hak_run(cc1, env_with(NULL, 0, NULL), dir, HANG_GUARD_S, &a), 0);
    HAK_ASSERT_EQ(hak_run(cc2, env_with(NULL, 1, NULL), dir, HANG_GUARD_S, &b), 0);
    HAK_EXPECT(ran_ok(&a, "gcc (plain)"));
    HAK_EXPECT(ran_ok(&b, "gcc (LD_PRELOAD)"));
    HAK_EXPECT(strstr(b.err, "hakmem") != NULL);
    hak_proc_free(&a);
    hak_proc_free(&b);

    /* The assembly gcc writes is the same text with and without hakmem. */
    const char *s1[] = {gcc, "-O2", "-S", "-o", asm1, src, NULL};
    const char *s2[] = {gcc, "-O2", "-S", "-o", asm2, src, NULL};
    HAK_ASSERT_EQ(hak_run(s1, env_with(NULL, 0, NULL), dir, HANG_GUARD_S, &a), 0);
    HAK_ASSERT_EQ(hak_run(s2, env_with(NULL, 1, NULL), dir, HANG_GUARD_S, &b), 0);
    HAK_EXPECT(ran_ok(&a, "gcc -S (plain)"));
    HAK_EXPECT(ran_ok(&b, "gcc -S (LD_PRELOAD)"));
    hak_proc_free(&a);
    hak_proc_free(&b);
    size_t n1 = 0, n2 = 0;
    char *t1 = hak_read_file(asm1, &n1), *t2 = hak_read_file(asm2, &n2);
    HAK_EXPECT(t1 != NULL && t2 != NULL && n1 > 0);
    if (t1 && t2)
        HAK_EXPECT(n1 == n2 && memcmp(t1, t2, n1) == 0);
    free(t1);
    free(t2);

    /* Both programs print the same, also when they run preloaded themselves. */
    hak_proc r1, r2;
    const char *run1[] = {exe1, NULL};
    const char *run2[] = {exe2, NULL};
    HAK_ASSERT_EQ(hak_run(run1, env_with(NULL, 0, NULL), dir, HANG_GUARD_S, &r1), 0);
    HAK_ASSERT_EQ(hak_run(run2, env_with(NULL, 0, NULL), dir, HANG_GUARD_S, &r2), 0);
    HAK_EXPECT(ran_ok(&r1, "compiled program (plain gcc)"));
    HAK_EXPECT(ran_ok(&r2, "compiled program (preloaded gcc)"));
    HAK_EXPECT(same_output(&r1, &r2, "compiled programs"));
    HAK_EXPECT(strstr(r1.out, "compiled under hakmem") != NULL);
    hak_proc_free(&r1);
    hak_proc_free(&r2);
    compare_runs("compiled program", run2, NULL, dir, dir);
    hak_rmtree(dir);
    free(dir);
    free(gcc);
}

/* ---- helpers built with the tests ----------------------------------------------------- */

HAK_TEST(Preload, CxxNewDelete) {
    if (!so_exists())
        HAK_SKIP("libhakmem.so not built");
    const char *argv[] = {HAKMEM_TEST_BIN_DIR "/hak_cxx_newdelete", NULL};
    compare_runs("C++ new/delete", argv, NULL, NULL, NULL);
    HAK_EXPECT(last_out_len > 0);
    const char *env[] = {"HAKMEM_LARGE_POLICY=mmap", NULL};
    compare_runs("C++ new/delete (large.policy=mmap)", argv, env, NULL, NULL);
}

HAK_TEST(Preload, MallocFamilyContracts) {
    if (!so_exists())
        HAK_SKIP("libhakmem.so not built");
    const char *argv[] = {HAKMEM_TEST_BIN_DIR "/hak_preload_contracts", NULL};
    hak_proc plain, pre;
    HAK_ASSERT_EQ(hak_run(argv, env_with(NULL, 0, NULL), NULL, HANG_GUARD_S, &plain), 0);
    HAK_ASSERT_EQ(hak_run(argv, env_with(NULL, 1, NULL), NULL, HANG_GUARD_S, &pre), 0);
    HAK_EXPECT(ran_ok(&plain, "contracts (plain)"));
    HAK_EXPECT(ran_ok(&pre, "contracts (LD_PRELOAD)"));
    HAK_EXPECT(same_output(&plain, &pre, "contracts"));
    HAK_EXPECT(strstr(plain.err, "hakmem absent") != NULL);
    HAK_EXPECT(strstr(pre.err, "hakmem active") != NULL);
    HAK_EXPECT(strstr(pre.out, "FAIL") == NULL);
    hak_proc_free(&plain);
    hak_proc_free(&pre);
    const char *env[] = {"HAKO_HAKMEM_LARGE_MMAP=1", NULL};
    compare_runs("contracts (kill switch)", argv, env, NULL, NULL);
}

/* ---- small-block misuse through the preload's free path --------------------------------- */

static size_t misuse_lines(const hak_proc *p) {
    size_t n = 0;
    for (const char *l = p->err; l && *l;) {
        if (strncmp(l, "hakmem: ", 8) == 0)
            n++;
        const char *nl = strchr(l, '\n');
        l = nl ? nl + 1 : NULL;
    }
    return n;
}

/* Under the preload, free finds a small block through the SuperSlab region and computes its
 * descriptor: a double free, an interior pointer and frees into released slabs must each
 * be reported once (core.foreign_free=ignore lets the program go on), and nothing kept or
 * allocated afterwards may be damaged or handed out twice. */
HAK_TEST(Preload, SmallBlockMisuseIsReported) {
    if (!so_exists())
        HAK_SKIP("libhakmem.so not built");
    static const char *const modes[] = {"double", "interior", "released", "decommitted",
                                        "realloc"};
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        const char *argv[] = {HAKMEM_TEST_BIN_DIR "/hak_preload_misuse", modes[m], NULL};
        /* Purge delay 0: released slabs lose their pages at once, so the second frees of
         * "released" find no free-block key and only the free descriptor can refuse them. */
        const char *env[] = {"LD_PRELOAD=" SO, "HAKMEM_CORE_FOREIGN_FREE=ignore",
                             "HAKMEM_TINY_PURGE_DELAY_MS=0", NULL};
        hak_proc p;
        HAK_ASSERT_EQ(hak_run(argv, env, NULL, HANG_GUARD_S, &p), 0);
        HAK_EXPECT(ran_ok(&p, modes[m]));
        size_t expected = 0;
        if (!p.out || sscanf(p.out, "reports %zu", &expected) != 1)
            hak_test_note("%s: stdout '%.80s'", modes[m], p.out ? p.out : "");
        HAK_EXPECT(expected > 0);
        size_t lines = misuse_lines(&p);
        if (lines != expected)
            hak_test_note("%s: %zu hakmem lines for %zu misuses; stderr: %.300s", modes[m],
                          lines, expected, p.err ? p.err : "");
        HAK_EXPECT_EQ(lines, expected);
        /* Frees into slabs given back must have met a free descriptor: the region's path
         * (a run that lost the region would meet the slab map and report foreign frees). */
        if (strcmp(modes[m], "released") == 0 || strcmp(modes[m], "decommitted") == 0)
            HAK_EXPECT(p.err && strstr(p.err, "free part of the small-block heap") != NULL);
        hak_proc_free(&p);
    }
    /* The default, core.foreign_free=abort: reported, then abort. */
    const char *argv[] = {HAKMEM_TEST_BIN_DIR "/hak_preload_misuse", "double", NULL};
    const char *env[] = {"LD_PRELOAD=" SO, NULL};
    hak_proc p;
    HAK_ASSERT_EQ(hak_run(argv, env, NULL, HANG_GUARD_S, &p), 0);
    HAK_EXPECT(p.signaled && p.signo == SIGABRT);
    HAK_EXPECT(misuse_lines(&p) == 1 && strstr(p.err, "double free") != NULL);
    hak_proc_free(&p);
}

/* Memory return under the preload (tests/system/preload_memory.c): malloc_trim is hakmem's
 * and gives large blocks back, a purge delay of 0 gives them back as they are freed, and
 * under RLIMIT_AS the memory of freed small blocks serves a large request. */
HAK_TEST(Preload, MemoryGoesBack) {
    if (!so_exists())
        HAK_SKIP("libhakmem.so not built");
    static const char *const modes[] = {"trim", "delay0", "aslimit"};
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        const char *argv[] = {HAKMEM_TEST_BIN_DIR "/hak_preload_memory", modes[m], NULL};
        const char *env[] = {"LD_PRELOAD=" SO,
                             strcmp(modes[m], "delay0") == 0 ? "HAKMEM_LARGE_PURGE_DELAY_MS=0"
                                                              : "HAKMEM_STATS=0",
                             NULL};
        hak_proc p;
        HAK_ASSERT_EQ(hak_run(argv, env, NULL, HANG_GUARD_S, &p), 0);
        hak_test_note("%s: %.200s", modes[m], p.out ? p.out : "");
        HAK_EXPECT(ran_ok(&p, modes[m]));
        hak_proc_free(&p);
    }
}

/* HAKMEM_STATS=1: the counters appear on stderr at exit, every one of them by name. */
HAK_TEST(Preload, StatsPrintsCountersAtExit) {
    if (!so_exists())
        HAK_SKIP("libhakmem.so not built");
    const char *argv[] = {HAKMEM_TEST_BIN_DIR "/hak_cxx_newdelete", NULL};
    hak_proc p;
    HAK_ASSERT_EQ(hak_run(argv, env_with(NULL, 1, NULL), NULL, HANG_GUARD_S, &p), 0);
    HAK_EXPECT(ran_ok(&p, "C++ with HAKMEM_STATS=1"));
    hak_counter_value v[256];
    size_t n = hak_counters_snapshot(v, 256);
    HAK_ASSERT(n > 0 && n <= 256);
    for (size_t i = 0; i < n; i++) {
        if (!strstr(p.err, v[i].name))
            hak_test_note("counter %s missing from the report", v[i].name);
        HAK_EXPECT(strstr(p.err, v[i].name) != NULL);
    }
    /* The program allocated large blocks: the report is not all zeros. */
    unsigned long long large = 0;
    static const char *const names[] = {"large_alloc_malloc", "large_alloc_mmap"};
    for (int i = 0; i < 2; i++) {
        const char *line = strstr(p.err, names[i]);
        HAK_EXPECT(line != NULL);
        if (!line)
            continue;
        const char *num = line + strlen(names[i]);
        while (*num == ' ' || *num == '\t' || *num == ':' || *num == '=')
            num++;
        large += strtoull(num, NULL, 10);
    }
    HAK_EXPECT(large > 0);
    hak_proc_free(&p);
}

/* A bad variable under the preload: exactly one line on stderr, output unchanged. */
HAK_TEST(Preload, BadEnvValueOneLine) {
    if (!so_exists())
        HAK_SKIP("libhakmem.so not built");
    const char *argv[] = {HAKMEM_TEST_BIN_DIR "/hak_preload_contracts", NULL};
    hak_proc plain, pre;
    const char *bad[] = {"HAKMEM_LARGE_POLICY=bogus", "LD_PRELOAD=" SO, NULL};
    HAK_ASSERT_EQ(hak_run(argv, env_with(NULL, 0, NULL), NULL, HANG_GUARD_S, &plain), 0);
    HAK_ASSERT_EQ(hak_run(argv, bad, NULL, HANG_GUARD_S, &pre), 0);
    HAK_EXPECT(ran_ok(&pre, "contracts with HAKMEM_LARGE_POLICY=bogus"));
    HAK_EXPECT(same_output(&plain, &pre, "contracts with a bad variable"));
    /* stderr: the helper's own "hakmem active" line plus exactly one line from hakmem. */
    size_t lines = hak_count_lines(pre.err, pre.err_len);
    if (lines != 2)
        hak_test_note("stderr: %s", pre.err);
    HAK_EXPECT_EQ(lines, 2);
    HAK_EXPECT(strstr(pre.err, "HAKMEM_LARGE_POLICY") != NULL);
    HAK_EXPECT(strstr(pre.err, "bogus") != NULL);
    hak_proc_free(&plain);
    hak_proc_free(&pre);
}

/* ---- the surface beyond malloc/free: glibc's extensions, C23, C++, stats, heap profile -- */

static int contains(const char *s, const char *what) {
    return s && strstr(s, what) != NULL;
}

/* A run that must abort with hakmem's report naming `what`. */
static int aborted_with(const hak_proc *p, const char *what, const char *label) {
    if (p->signaled && p->signo == SIGABRT && contains(p->err, what))
        return 1;
    char d[64];
    hak_test_note("%s: %s, stderr '%.300s' (expected an abort naming '%s')", label,
                  hak_proc_describe(p, d, sizeof d), p->err ? p->err : "", what);
    return 0;
}

/* Writes text to a temporary file and runs argv_head... on it (python3 -m json.tool FILE,
 * xmllint --noout FILE); 1 when that exits 0. */
static int tool_accepts(const char *tool, const char *arg1, const char *arg2, const char *text,
                        size_t len) {
    char path[] = "/tmp/hak_surface_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return 0;
    hak_write_all(fd, text, len);
    close(fd);
    const char *argv[] = {tool, arg1, arg2, path, NULL};
    if (!arg2) {
        argv[2] = path;
        argv[3] = NULL;
    }
    hak_proc p;
    int ok = hak_run(argv, NULL, NULL, HANG_GUARD_S, &p) == 0 && p.exited && p.exit_code == 0;
    if (!ok)
        hak_test_note("%s rejected %s: %.300s", tool, path, p.err ? p.err : "");
    else
        unlink(path);
    hak_proc_free(&p);
    return ok;
}

/* mallopt answers as glibc does, malloc_info refuses options as glibc does, mallinfo2
 * moves with large and small blocks under both; malloc_info's XML parses; free_sized and
 * free_aligned_sized (which glibc 2.36 lacks) are hakmem's. */
HAK_TEST(Preload, GlibcExtensionsAnsweredByHakmem) {
    if (!so_exists())
        HAK_SKIP("libhakmem.so not built");
    char xml[] = "/tmp/hak_malloc_info_XXXXXX";
    int fd = mkstemp(xml);
    HAK_ASSERT(fd >= 0);
    close(fd);
    const char *argv[] = {HAKMEM_TEST_BIN_DIR "/hak_preload_surface", "report", xml, NULL};
    hak_proc plain, pre;
    HAK_ASSERT_EQ(hak_run(argv, env_with(NULL, 0, NULL), NULL, HANG_GUARD_S, &plain), 0);
    HAK_ASSERT_EQ(hak_run(argv, env_with(NULL, 1, NULL), NULL, HANG_GUARD_S, &pre), 0);
    HAK_EXPECT(ran_ok(&plain, "surface (plain)") && ran_ok(&pre, "surface (LD_PRELOAD)"));
    HAK_EXPECT(same_output(&plain, &pre, "surface"));
    HAK_EXPECT(!contains(pre.out, ": no"));
    HAK_EXPECT(contains(pre.out, "mallinfo2 sees a 10 MiB block: yes"));
    HAK_EXPECT(contains(pre.err, "free_sized: called"));
    /* malloc_stats printed hakmem's counters (the preloaded run's exit report does too:
     * two reports). */
    const char *first = strstr(pre.err, "[hakmem] counters");
    HAK_EXPECT(first && strstr(first + 1, "[hakmem] counters"));
    FILE *f = fopen(xml, "r");
    HAK_ASSERT(f != NULL);
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    HAK_EXPECT(contains(text, "<malloc version=\"hakmem-"));
    HAK_EXPECT(contains(text, "<counter name=\"os_mmap\""));
    HAK_EXPECT(contains(text, "<option name=\"large.policy\""));
    if (access("/usr/bin/xmllint", X_OK) == 0)
        HAK_EXPECT(tool_accepts("xmllint", "--noout", NULL, text, n));
    HAK_EXPECT(tool_accepts("python3", "-c",
                            "import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])",
                            text, n));
    unlink(xml);
    hak_proc_free(&plain);
    hak_proc_free(&pre);
}

static void misuse_case(const char *prog, const char *mode, const char *what, int checked) {
    const char *argv[] = {prog, mode, NULL};
    const char *env[] = {"LD_PRELOAD=" SO, checked ? "HAKMEM_CORE_CHECK_FREE=1" : NULL, NULL};
    hak_proc p;
    HAK_ASSERT_EQ(hak_run(argv, env, NULL, HANG_GUARD_S, &p), 0);
    char label[160];
    snprintf(label, sizeof label, "%s %s (core.check_free=%d)", prog, mode, checked);
    if (checked)
        HAK_EXPECT(aborted_with(&p, what, label));
    else
        HAK_EXPECT(ran_ok(&p, label) && contains(p.out, "not reported"));
    hak_proc_free(&p);
}

/* free_sized with a size above the block's, free_aligned_sized with an alignment the block
 * lacks: reported under core.check_free, freed as given without it. */
HAK_TEST(Preload, SizedFreeMistakesReportedWhenChecked) {
    if (!so_exists())
        HAK_SKIP("libhakmem.so not built");
    const char *prog = HAKMEM_TEST_BIN_DIR "/hak_preload_surface";
    misuse_case(prog, "wrong-size", "(a wrong size)", 1);
    misuse_case(prog, "wrong-size", NULL, 0);
    misuse_case(prog, "wrong-align", "(a wrong alignment)", 1);
    misuse_case(prog, "wrong-align", NULL, 0);
}

/* Every operator form, bad_alloc for an impossible size, the new-handler loop: the same
 * output under glibc+libstdc++, under the preload (whose operators are libhakmem.so's) and
 * linked statically with <hakmem/new_delete.hpp>. */
HAK_TEST(Preload, CxxEveryOperatorForm) {
    if (!so_exists())
        HAK_SKIP("libhakmem.so not built");
    const char *argv[] = {HAKMEM_TEST_BIN_DIR "/hak_cxx_operators", NULL};
    const char *sargv[] = {HAKMEM_TEST_BIN_DIR "/hak_cxx_operators_static", NULL};
    hak_proc plain, pre, stat;
    HAK_ASSERT_EQ(hak_run(argv, env_with(NULL, 0, NULL), NULL, HANG_GUARD_S, &plain), 0);
    HAK_ASSERT_EQ(hak_run(argv, env_with(NULL, 1, NULL), NULL, HANG_GUARD_S, &pre), 0);
    HAK_ASSERT_EQ(hak_run(sargv, env_with(NULL, 0, NULL), NULL, HANG_GUARD_S, &stat), 0);
    HAK_EXPECT(ran_ok(&plain, "operators (plain)") && ran_ok(&pre, "operators (LD_PRELOAD)") &&
               ran_ok(&stat, "operators (static)"));
    HAK_EXPECT(same_output(&plain, &pre, "operators (LD_PRELOAD)"));
    HAK_EXPECT(same_output(&plain, &stat, "operators (static)"));
    HAK_EXPECT(contains(plain.out, "every form: ok"));
    HAK_EXPECT(contains(plain.out, "the new-handler ran 1 time(s), then bad_alloc"));
    HAK_EXPECT(contains(plain.out, "nothrow new under a throwing new-handler: nullptr"));
    HAK_EXPECT(contains(pre.err, "operator new is in") && contains(pre.err, "libhakmem"));
    HAK_EXPECT(contains(stat.err, "hak_cxx_operators_static"));
    hak_proc_free(&plain);
    hak_proc_free(&pre);
    hak_proc_free(&stat);
}

/* new[] then delete, new then free, malloc then delete, a sized delete with a wrong size:
 * reported under core.check_free for blocks above the small maximum, unseen without it. */
HAK_TEST(Preload, CxxMismatchReportedWhenChecked) {
    if (!so_exists())
        HAK_SKIP("libhakmem.so not built");
    const char *prog = HAKMEM_TEST_BIN_DIR "/hak_cxx_operators";
    misuse_case(prog, "array-scalar", "delete(", 1);
    misuse_case(prog, "array-scalar", "made by new[]", 1);
    misuse_case(prog, "new-free", "free(", 1);
    misuse_case(prog, "malloc-delete", "made by malloc", 1);
    misuse_case(prog, "wrong-size", "(a wrong size)", 1);
    misuse_case(prog, "array-scalar", NULL, 0);
    misuse_case(prog, "wrong-size", NULL, 0);
    /* Static: the header's operators carry the family too. */
    const char *argv[] = {HAKMEM_TEST_BIN_DIR "/hak_cxx_operators_static", "array-scalar", NULL};
    const char *env[] = {"HAKMEM_CORE_CHECK_FREE=1", NULL};
    hak_proc p;
    HAK_ASSERT_EQ(hak_run(argv, env, NULL, HANG_GUARD_S, &p), 0);
    HAK_EXPECT(aborted_with(&p, "made by new[]", "static array-scalar"));
    hak_proc_free(&p);
}

/* HAKMEM_STATS=json: one JSON object that python's parser accepts, naming every counter
 * and gauge of hak_counters_snapshot. */
HAK_TEST(Preload, StatsJsonNamesEveryCounter) {
    if (!so_exists())
        HAK_SKIP("libhakmem.so not built");
    char *true_prog = need_program("true");
    if (!true_prog)
        HAK_SKIP("true not installed");
    const char *argv[] = {true_prog, NULL};
    const char *env[] = {"LD_PRELOAD=" SO, "HAKMEM_STATS=json", NULL};
    hak_proc p;
    HAK_ASSERT_EQ(hak_run(argv, env, NULL, HANG_GUARD_S, &p), 0);
    HAK_EXPECT(ran_ok(&p, "true with HAKMEM_STATS=json"));
    HAK_EXPECT(tool_accepts("python3", "-m", "json.tool", p.err, p.err_len));
    hak_counter_value all[256];
    size_t n = hak_counters_snapshot(all, 256);
    HAK_ASSERT(n <= 256);
    for (size_t i = 0; i < n; i++) {
        char key[96];
        snprintf(key, sizeof key, "\"%s\": ", all[i].name);
        if (!contains(p.err, key)) {
            hak_test_note("%s missing from the JSON", all[i].name);
            HAK_EXPECT(0);
        }
    }
    HAK_EXPECT(contains(p.err, "\"rooms\"") && contains(p.err, "\"options\""));
    HAK_EXPECT(contains(p.err, "\"large.purge_delay_ms\": \"1000\""));
    hak_proc_free(&p);
    free(true_prog);
}

/* Two call sites hold 10 MiB and 1 MiB, a third allocated 32 MiB and freed it: the heap
 * profile ranks them so by bytes live (then allocated), with their function names, as
 * JSON at exit under the preload and from hak_prof_json in a static link. */
static void check_profile(const char *json, size_t len, const char *label) {
    HAK_EXPECT(tool_accepts("python3", "-m", "json.tool", json, len));
    const char *ten = strstr(json, "\"function\": \"hold_ten_mib\"");
    const char *one = strstr(json, "\"function\": \"hold_one_mib\"");
    const char *churn = strstr(json, "\"function\": \"churn_32_mib\"");
    if (!(ten && one && churn && ten < one && one < churn)) {
        hak_test_note("%s: sites out of order or missing: %.1200s", label, json);
        HAK_EXPECT(0);
    }
}

HAK_TEST(Preload, HeapProfileRanksCallSites) {
    if (!so_exists())
        HAK_SKIP("libhakmem.so not built");
    const char *argv[] = {HAKMEM_TEST_BIN_DIR "/hak_prof_sites", NULL};
    const char *env[] = {"LD_PRELOAD=" SO, "HAKMEM_PROF_SAMPLE_BYTES=32768",
                         "HAKMEM_PROF_FORMAT=json", NULL};
    hak_proc p;
    HAK_ASSERT_EQ(hak_run(argv, env, NULL, HANG_GUARD_S, &p), 0);
    HAK_EXPECT(ran_ok(&p, "profile (LD_PRELOAD)"));
    check_profile(p.err ? p.err : "", p.err_len, "LD_PRELOAD");
    hak_proc_free(&p);

    /* The text form: the allocated ranking puts the churn first. */
    const char *tenv[] = {"LD_PRELOAD=" SO, "HAKMEM_PROF_SAMPLE_BYTES=32768", NULL};
    HAK_ASSERT_EQ(hak_run(argv, tenv, NULL, HANG_GUARD_S, &p), 0);
    const char *by_alloc = p.err ? strstr(p.err, "by bytes allocated") : NULL;
    HAK_EXPECT(by_alloc != NULL);
    if (by_alloc) {
        const char *churn = strstr(by_alloc, "churn_32_mib+0x");
        const char *ten = strstr(by_alloc, "hold_ten_mib+0x");
        HAK_EXPECT(churn && ten && churn < ten);
    }
    hak_proc_free(&p);

    /* Forks while other threads hold the profile's lock now and then. */
    const char *fargv[] = {HAKMEM_TEST_BIN_DIR "/hak_prof_sites", "fork", NULL};
    HAK_ASSERT_EQ(hak_run(fargv, tenv, NULL, HANG_GUARD_S, &p), 0);
    HAK_EXPECT(ran_ok(&p, "profile across fork (LD_PRELOAD)") && contains(p.out, "forks: ok"));
    hak_proc_free(&p);

    const char *sargv[] = {HAKMEM_TEST_BIN_DIR "/hak_prof_sites_static", NULL};
    const char *senv[] = {"HAKMEM_PROF_SAMPLE_BYTES=32768", NULL};
    HAK_ASSERT_EQ(hak_run(sargv, senv, NULL, HANG_GUARD_S, &p), 0);
    HAK_EXPECT(ran_ok(&p, "profile (static)"));
    check_profile(p.out ? p.out : "", p.out_len, "static");
    hak_proc_free(&p);
}
