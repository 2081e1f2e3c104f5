/* Helpers shared by the hakmem tests (library hak_test_util, built in tests/core/):
 * running programs and forked children with captured output and a hang guard, fill
 * patterns for integrity checks, counter and RSS readers.
 *
 * The test binaries link hakmem statically and call hak_*; their own malloc is the C
 * library's, so these helpers may use it freely. */
#ifndef HAKMEM_TESTS_CORE_TEST_UTIL_H
#define HAKMEM_TESTS_CORE_TEST_UTIL_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hakmem/hakmem.h"
#include "shim/hak_test.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Forks n children one after the other; each runs child() and exits with its result.
 * Returns how many did not exit 0 (each is noted). Header-only: room tests that link only
 * their room and core can use it without hak_test_util. */
static inline int hak_fork_children(int n, int (*child)(void)) {
    int bad = 0;
    for (int k = 0; k < n; k++) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(child());
        int status = 0;
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0) {
            hak_test_note("child %d: status %#x", k, status);
            bad++;
        }
    }
    return bad;
}

/* What a child process did. out/err are NUL-terminated (may hold NULs before). */
typedef struct hak_proc {
    int started;   /* 0: fork/exec failed (exec failure exits 127) */
    int exited;    /* exited normally: code in exit_code */
    int exit_code;
    int signaled;  /* killed by a signal: number in signo */
    int signo;
    int timed_out; /* the hang guard killed it */
    char *out;
    size_t out_len;
    char *err;
    size_t err_len;
} hak_proc;

/* Runs argv[0] (an absolute path or a name looked up in PATH) with posix_spawn (no atfork
 * handlers run in the test binary), with the test's environment minus every HAKMEM_*,
 * HAKO_HAKMEM_* and LD_PRELOAD variable, plus env_add ("K=V" strings, NULL-terminated, may
 * be NULL). cwd may be NULL. stdin is /dev/null. The hang guard kills the child after
 * timeout_s seconds (not a timing assertion: a hang is a failure).
 * Returns 0 when the child ran (see *p), -1 if it could not be started. */
int hak_run(const char *const argv[], const char *const env_add[], const char *cwd,
            int timeout_s, hak_proc *p);

/* Forks; the child redirects stdout/stderr into pipes, runs fn(arg) and _exit()s with its
 * return value (exit_after_fn=1 calls exit() instead, so atexit/destructors run). */
int hak_fork_run(int (*fn)(void *), void *arg, int exit_after_fn, int timeout_s, hak_proc *p);

void hak_proc_free(hak_proc *p);

/* Describes *p in buf for failure notes ("exit 0", "signal 6", "timeout"). */
const char *hak_proc_describe(const hak_proc *p, char *buf, size_t len);

/* Number of '\n'-terminated lines (plus a last unterminated one) in s. */
size_t hak_count_lines(const char *s, size_t len);

/* Full path of an executable found in PATH, or NULL. The result is malloc'ed: free it. */
char *hak_which(const char *name);

/* Pattern fill / check: every byte depends on seed and its offset. check returns 1 when
 * intact. */
void hak_fill(void *p, size_t n, uint64_t seed);
int  hak_check(const void *p, size_t n, uint64_t seed);
/* 1 when all n bytes equal c. */
int  hak_all_bytes(const void *p, size_t n, unsigned char c);

/* hak_counter_get or UINT64_MAX when the counter does not exist. Header-only, like
 * hak_range_mapped, for the room tests that do not link this library. */
static inline uint64_t hak_ctr(const char *name) {
    uint64_t v = 0;
    if (hak_counter_get(name, &v) != 0)
        return UINT64_MAX;
    return v;
}

/* A purge delay no test outlives, for hak_option_override (which restores the default for
 * a value below 0, so it cannot set -1, "never"). */
#define HAK_TEST_NEVER ((int64_t)1 << 40)

/* Resident bytes of this process (/proc/self/statm), 0 on error. */
size_t hak_rss_bytes(void);
/* Rss and LazyFree of the whole process from /proc/self/smaps_rollup, in bytes (MADV_FREE
 * pages stay in Rss until the kernel needs them: Rss - LazyFree is what is really held).
 * 1 when both were read, 0 otherwise. */
int    hak_read_rollup(size_t *rss, size_t *lazy);

/* Makes a fresh directory under TMPDIR (or /tmp); malloc'ed path. rm -rf with hak_rmtree. */
char *hak_mkdtemp(const char *tag);
void  hak_rmtree(const char *path);

/* Writes len bytes to path; 0 ok. */
int hak_write_file(const char *path, const void *data, size_t len);
/* Reads a whole file (malloc'ed, NUL-terminated) or NULL. */
char *hak_read_file(const char *path, size_t *len);

/* 1: every page of [p, p+len) is mapped; 0: some page is not (mincore fails with ENOMEM
 * for an unmapped page); -1: mincore failed otherwise. Header-only, for the room tests
 * that do not link this library. */
static inline int hak_range_mapped(const void *p, size_t len) {
    static unsigned char vec[4096];
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t start = (uintptr_t)p & ~(uintptr_t)(page - 1);
    len += (uintptr_t)p - start;
    for (size_t off = 0; off < len; off += sizeof vec * page) {
        size_t chunk = len - off < sizeof vec * page ? len - off : sizeof vec * page;
        if (mincore((void *)(start + off), chunk, vec) != 0)
            return errno == ENOMEM ? 0 : -1;
    }
    return 1;
}

/* A small deterministic PRNG for tests. */
static inline uint64_t hak_rand_next(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

#ifdef __cplusplus
}
#endif

#endif
