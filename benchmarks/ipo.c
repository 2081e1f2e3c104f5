/* Instructions per operation, for callgrind (benchmarks/callgrind.sh runs it under each
 * allocator with LD_PRELOAD).
 *   pair N: N malloc/free pairs of random sizes 8..1024 B;
 *   live N: 1000 blocks kept live; each of N steps frees a random one and allocates anew.
 * Plain malloc/free, pointers kept observable, sizes precomputed so the loop itself costs
 * the same under every allocator. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t state = 88172645463325252ull;
static inline uint64_t next_random(void) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

void *volatile sink;

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "pair";
    long n = argc > 2 ? atol(argv[2]) : 1000000;
    static uint16_t sizes[1 << 16];
    for (int i = 0; i < 1 << 16; i++)
        sizes[i] = (uint16_t)(8 + next_random() % 1017);
    if (strcmp(mode, "pair") == 0) {
        for (long i = 0; i < n; i++) {
            void *p = malloc(sizes[i & 0xffff]);
            sink = p;
            free(p);
        }
        return 0;
    }
    static void *live[1000];
    for (int i = 0; i < 1000; i++)
        live[i] = malloc(sizes[i]);
    for (long i = 0; i < n; i++) {
        unsigned k = (unsigned)(next_random() % 1000);
        free(live[k]);
        live[k] = malloc(sizes[i & 0xffff]);
        sink = live[k];
    }
    for (int i = 0; i < 1000; i++)
        free(live[i]);
    return 0;
}
