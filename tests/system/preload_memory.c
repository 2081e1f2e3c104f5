/* Memory return as a preloaded program sees it (run by test_preload.c under
 * LD_PRELOAD=libhakmem.so). One mode per run:
 *   trim      8 blocks of 32 MiB written, freed; malloc_trim(0) returns 1 and VmRSS drops
 *             below what one block holds;
 *   delay0    the same without malloc_trim, run with HAKMEM_LARGE_PURGE_DELAY_MS=0: VmRSS
 *             drops as the blocks are freed;
 *   aslimit   under RLIMIT_AS (VmSize + 200 MiB), 64-byte blocks until malloc returns NULL,
 *             all freed, then malloc(50 MiB) must succeed.
 * Prints what it measured; exits 0 when the property holds, 1-9 (which check) otherwise. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

#define MiB ((size_t)1 << 20)

static size_t statm_field(int which) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long v[2] = {0, 0};
    if (!f || fscanf(f, "%lu %lu", &v[0], &v[1]) != 2)
        v[0] = v[1] = 0;
    if (f)
        fclose(f);
    return v[which] * 4096ul;
}

static int large_blocks(int trim) {
    void *p[8];
    size_t before = statm_field(1);
    for (int i = 0; i < 8; i++) {
        p[i] = malloc(32 * MiB);
        if (!p[i])
            return 2;
        memset(p[i], i + 1, 32 * MiB);
    }
    size_t live = statm_field(1);
    for (int i = 0; i < 8; i++)
        free(p[i]);
    int rc = trim ? malloc_trim(0) : 1;
    size_t after = statm_field(1);
    printf("VmRSS before %zu KiB, with the blocks %zu, after free%s %zu (malloc_trim %d)\n",
           before >> 10, live >> 10, trim ? " and malloc_trim" : "", after >> 10, rc);
    if (live < before + 200 * MiB)
        return 3; /* the blocks were not resident: nothing to see */
    if (rc != 1)
        return 4;
    return after < before + 32 * MiB ? 0 : 5;
}

static int aslimit(void) {
    enum { MAXP = 1 << 23 };
    void **ptrs = mmap(NULL, MAXP * sizeof(void *), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ptrs == MAP_FAILED)
        return 2;
    free(malloc(64));
    size_t vm = statm_field(0);
    struct rlimit rl = {vm + 200 * MiB, vm + 200 * MiB};
    if (setrlimit(RLIMIT_AS, &rl) != 0)
        return 3;
    size_t n = 0;
    while (n < MAXP && (ptrs[n] = malloc(64)) != NULL)
        *(char *)ptrs[n++] = 1;
    for (size_t i = 0; i < n; i++)
        free(ptrs[i]);
    char *big = malloc(50 * MiB);
    printf("64-byte blocks before NULL: %zu; then malloc(50 MiB): %s\n", n, big ? "ok" : "NULL");
    if (n == MAXP || n < 1000)
        return 4;
    if (!big)
        return 5;
    memset(big, 1, 50 * MiB);
    free(big);
    return 0;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    int rc = 9;
    if (strcmp(mode, "trim") == 0)
        rc = large_blocks(1);
    else if (strcmp(mode, "delay0") == 0)
        rc = large_blocks(0);
    else if (strcmp(mode, "aslimit") == 0)
        rc = aslimit();
    fflush(stdout);
    return rc;
}
