// bench_micro: Google Benchmark micro benchmarks of the malloc family, each run twice:
// through hakmem's own API (hak_*, hakmem::hakmem linked statically) and through the C
// library's allocator (glibc's __libc_* entry points, which stay glibc's even when another
// allocator is preloaded). Names are BM_<Family>/<hakmem|system>/<args>.
//
//   BM_Pair          malloc + free of one block, per size            1 op = one pair
//   BM_RandomFree    N blocks (seeded sizes 8-512 B), then freed in a seeded random order
//                                                                    1 op = one block
//   BM_CrossThread   producer (the benchmark thread) allocates into a lock-free SPSC ring,
//                    a consumer thread frees; wall-clock time        1 op = one block
//   BM_Realloc       16 B grown by doubling to 1 MiB                 1 op = one realloc
//   BM_Calloc        calloc + free, per size                         1 op = one pair
//   BM_Aligned       aligned allocation + free, per alignment/size   1 op = one pair
//   BM_Large         malloc, one write per 4 KiB page, free          1 op = one cycle
//
// Every benchmark sets items (ops) and bytes processed, and two user counters:
// minflt_per_op (minor page faults of the process per op, measured around the timed loop)
// and maxrss_kb (the process peak RSS when the benchmark ends; meaningful when a process
// runs one benchmark, as benchmarks/report.sh does).
//
// `bench_micro --quick` is `bench_micro --benchmark_min_time=0.05`. The exit status is 1 if
// a benchmark reported an error (allocation failed, misaligned or non-zero calloc memory).
// Benchmarks measure; they assert nothing about time.

#include <benchmark/benchmark.h>
#include <hakmem/hakmem.h>

#include <sys/resource.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

extern "C" {
// glibc's allocator under its own names (exported by libc.so.6 since GLIBC_2.2.5).
void *__libc_malloc(size_t size);
void __libc_free(void *ptr);
void *__libc_calloc(size_t count, size_t size);
void *__libc_realloc(void *ptr, size_t size);
void *__libc_memalign(size_t alignment, size_t size);
}

namespace {

// ---- the two allocators --------------------------------------------------------------
struct Hakmem {
    static constexpr const char *name = "hakmem";
    static void *malloc(size_t n) { return hak_malloc(n); }
    static void free(void *p) { hak_free(p); }
    static void *calloc(size_t c, size_t n) { return hak_calloc(c, n); }
    static void *realloc(void *p, size_t n) { return hak_realloc(p, n); }
    static void *aligned(size_t a, size_t n) { return hak_aligned_alloc(a, n); }
};

struct System {
    static constexpr const char *name = "system";
    static void *malloc(size_t n) { return __libc_malloc(n); }
    static void free(void *p) { __libc_free(p); }
    static void *calloc(size_t c, size_t n) { return __libc_calloc(c, n); }
    static void *realloc(void *p, size_t n) { return __libc_realloc(p, n); }
    static void *aligned(size_t a, size_t n) { return __libc_memalign(a, n); }
};

std::atomic<int> g_errors{0};

void fail(benchmark::State &state, const std::string &what) {
    g_errors.fetch_add(1, std::memory_order_relaxed);
    state.SkipWithError(what.c_str()); // copied
}

// ---- process usage around the timed loop ---------------------------------------------
struct Usage {
    long minflt;
    long maxrss_kb;
};

Usage usage_now() {
    struct rusage ru;
    std::memset(&ru, 0, sizeof ru);
    getrusage(RUSAGE_SELF, &ru);
    return Usage{ru.ru_minflt, ru.ru_maxrss};
}

// Sets items/bytes processed and the two user counters. ops_per_iter and bytes_per_iter
// describe one iteration of the timed loop.
void finish(benchmark::State &state, const Usage &before, double ops_per_iter,
            double bytes_per_iter) {
    const Usage after = usage_now();
    const auto iters = static_cast<double>(state.iterations());
    state.SetItemsProcessed(static_cast<int64_t>(iters * ops_per_iter));
    state.SetBytesProcessed(static_cast<int64_t>(iters * bytes_per_iter));
    state.counters["minflt_per_op"] = benchmark::Counter(
        static_cast<double>(after.minflt - before.minflt) / ops_per_iter,
        benchmark::Counter::kAvgIterations);
    state.counters["maxrss_kb"] = static_cast<double>(after.maxrss_kb);
}

// ---- a seeded PRNG (splitmix64): the same sequence for both allocators ----------------
struct SplitMix {
    uint64_t s;
    uint64_t next() {
        uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    size_t below(size_t n) { return static_cast<size_t>(next() % n); }
};

// ---- a lock-free single-producer single-consumer ring of pointers ----------------------
// The producer owns tail_, the consumer head_; each keeps a cached copy of the other's
// index so that the shared line is read only when the ring looks full (or empty).
class SpscRing {
public:
    explicit SpscRing(size_t capacity_pow2)
        : mask_(capacity_pow2 - 1), slots_(new void *[capacity_pow2]) {}

    bool push(void *p) { // producer only
        const size_t t = tail_.load(std::memory_order_relaxed);
        if (t - head_cache_ > mask_) {
            head_cache_ = head_.load(std::memory_order_acquire);
            if (t - head_cache_ > mask_) return false; // full
        }
        slots_[t & mask_] = p;
        tail_.store(t + 1, std::memory_order_release);
        return true;
    }

    bool pop(void **out) { // consumer only
        const size_t h = head_.load(std::memory_order_relaxed);
        if (h == tail_cache_) {
            tail_cache_ = tail_.load(std::memory_order_acquire);
            if (h == tail_cache_) return false; // empty
        }
        *out = slots_[h & mask_];
        head_.store(h + 1, std::memory_order_release);
        return true;
    }

private:
    const size_t mask_;
    std::unique_ptr<void *[]> slots_;
    alignas(64) std::atomic<size_t> head_{0}; // next slot to pop (consumer writes)
    alignas(64) size_t tail_cache_ = 0;       // consumer's copy of tail_
    alignas(64) std::atomic<size_t> tail_{0}; // next slot to push (producer writes)
    alignas(64) size_t head_cache_ = 0;       // producer's copy of head_
};

// Spin a little, then yield: two shared cores, the other side may not be running.
inline void backoff(unsigned &spins) {
    if (++spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    } else {
        spins = 0;
        std::this_thread::yield();
    }
}

constexpr size_t kPage = 4096;

// ---- the benchmarks --------------------------------------------------------------------
template <class A>
void BM_Pair(benchmark::State &state) {
    const size_t size = static_cast<size_t>(state.range(0));
    const Usage before = usage_now();
    for (auto _ : state) {
        void *p = A::malloc(size);
        benchmark::DoNotOptimize(p);
        if (p == nullptr) { fail(state, "malloc returned NULL"); break; }
        A::free(p);
    }
    finish(state, before, 1, static_cast<double>(size));
}

template <class A>
void BM_RandomFree(benchmark::State &state) {
    const size_t n = static_cast<size_t>(state.range(0));
    std::vector<size_t> sizes(n), order(n);
    std::vector<void *> ptrs(n, nullptr);
    SplitMix rng{42};
    double bytes = 0;
    for (size_t i = 0; i < n; i++) {
        sizes[i] = 8 + rng.below(505); // 8..512 bytes
        bytes += static_cast<double>(sizes[i]);
        order[i] = i;
    }
    for (size_t i = n - 1; i > 0; i--) std::swap(order[i], order[rng.below(i + 1)]);

    const Usage before = usage_now();
    for (auto _ : state) {
        bool ok = true;
        for (size_t i = 0; i < n; i++) {
            void *p = A::malloc(sizes[i]);
            if (p == nullptr) { ok = false; break; }
            static_cast<unsigned char *>(p)[0] = static_cast<unsigned char>(i);
            ptrs[i] = p;
        }
        benchmark::DoNotOptimize(ptrs.data());
        benchmark::ClobberMemory();
        for (size_t i = 0; i < n; i++) {
            A::free(ptrs[order[i]]); // free(NULL) is fine after a failure
            ptrs[order[i]] = nullptr;
        }
        if (!ok) { fail(state, "malloc returned NULL"); break; }
    }
    finish(state, before, static_cast<double>(n), bytes);
}

template <class A>
void BM_CrossThread(benchmark::State &state) {
    const size_t size = static_cast<size_t>(state.range(0));
    SpscRing ring(1024);
    std::atomic<bool> done{false};
    std::thread consumer([&ring, &done] {
        unsigned spins = 0;
        for (;;) {
            void *p;
            if (ring.pop(&p)) {
                benchmark::DoNotOptimize(static_cast<unsigned char *>(p)[0]);
                A::free(p);
                spins = 0;
            } else if (done.load(std::memory_order_acquire)) {
                while (ring.pop(&p)) A::free(p); // what came after the last look
                return;
            } else {
                backoff(spins);
            }
        }
    });

    const Usage before = usage_now();
    for (auto _ : state) {
        void *p = A::malloc(size);
        if (p == nullptr) { fail(state, "malloc returned NULL"); break; }
        static_cast<unsigned char *>(p)[0] = 1;
        unsigned spins = 0;
        while (!ring.push(p)) backoff(spins);
    }
    done.store(true, std::memory_order_release);
    consumer.join();
    finish(state, before, 1, static_cast<double>(size));
}

template <class A>
void BM_Realloc(benchmark::State &state) {
    constexpr size_t kFirst = 16, kLast = size_t{1} << 20;
    double steps = 0, bytes = 0;
    for (size_t s = kFirst * 2; s <= kLast; s *= 2) { steps += 1; bytes += static_cast<double>(s); }

    const Usage before = usage_now();
    uint64_t round = 0;
    for (auto _ : state) {
        round++;
        auto *p = static_cast<unsigned char *>(A::malloc(kFirst));
        if (p == nullptr) { fail(state, "malloc returned NULL"); break; }
        p[0] = 0x5a;
        size_t s = kFirst * 2;
        int err = 0;
        for (; s <= kLast; s *= 2) {
            auto *q = static_cast<unsigned char *>(A::realloc(p, s));
            if (q == nullptr) { err = errno; break; }
            p = q;
            p[s - 1] = 1; // the new tail is used
        }
        benchmark::DoNotOptimize(p);
        const bool kept = p[0] == 0x5a;
        A::free(p);
        if (s <= kLast) {
            fail(state, "realloc(" + std::to_string(s / 2) + " B block, " + std::to_string(s) +
                            ") returned NULL: " + std::strerror(err) + " (iteration " +
                            std::to_string(round) + ")");
            break;
        }
        if (!kept) { fail(state, "realloc lost the contents"); break; }
    }
    finish(state, before, steps, bytes);
}

template <class A>
void BM_Calloc(benchmark::State &state) {
    const size_t size = static_cast<size_t>(state.range(0));
    const Usage before = usage_now();
    for (auto _ : state) {
        auto *p = static_cast<unsigned char *>(A::calloc(1, size));
        benchmark::DoNotOptimize(p);
        if (p == nullptr) { fail(state, "calloc returned NULL"); break; }
        // The last byte and one byte per page are checked, and dirtied, so that a block
        // handed out again must be zeroed again.
        bool zero = p[size - 1] == 0;
        p[size - 1] = 1;
        for (size_t off = 0; off < size - 1; off += kPage) { zero &= p[off] == 0; p[off] = 1; }
        A::free(p);
        if (!zero) { fail(state, "calloc memory was not zero"); break; }
    }
    finish(state, before, 1, static_cast<double>(size));
}

template <class A>
void BM_Aligned(benchmark::State &state) {
    const size_t align = static_cast<size_t>(state.range(0));
    const size_t size = static_cast<size_t>(state.range(1));
    const Usage before = usage_now();
    for (auto _ : state) {
        void *p = A::aligned(align, size);
        benchmark::DoNotOptimize(p);
        if (p == nullptr) { fail(state, "aligned allocation returned NULL"); break; }
        const bool misaligned = (reinterpret_cast<uintptr_t>(p) & (align - 1)) != 0;
        A::free(p);
        if (misaligned) { fail(state, "misaligned block"); break; }
    }
    finish(state, before, 1, static_cast<double>(size));
}

template <class A>
void BM_Large(benchmark::State &state) {
    const size_t size = static_cast<size_t>(state.range(0));
    const Usage before = usage_now();
    for (auto _ : state) {
        auto *p = static_cast<unsigned char *>(A::malloc(size));
        if (p == nullptr) { fail(state, "malloc returned NULL"); break; }
        for (size_t off = 0; off < size; off += kPage) p[off] = 1; // first use of each page
        p[size - 1] = 1;
        benchmark::DoNotOptimize(p);
        benchmark::ClobberMemory();
        A::free(p);
    }
    finish(state, before, 1, static_cast<double>(size));
}

// One family: its benchmark for each allocator, and the arguments both get.
using Fn = void (*)(benchmark::State &);
using Bench = benchmark::internal::Benchmark;
struct Family {
    const char *name;
    Fn hakmem, system;
    void (*configure)(Bench *);
};

#define HAK_FAMILY(fn, ...) {#fn, fn<Hakmem>, fn<System>, __VA_ARGS__}
const Family kFamilies[] = {
    HAK_FAMILY(BM_Pair, [](Bench *b) {
        b->ArgName("size")->Arg(16)->Arg(64)->Arg(256)->Arg(1024)->Arg(4096)->Arg(32768);
    }),
    HAK_FAMILY(BM_RandomFree, [](Bench *b) { b->ArgName("n")->Arg(1024)->Arg(65536); }),
    HAK_FAMILY(BM_CrossThread, [](Bench *b) {
        b->ArgName("size")->Arg(64)->Arg(1024)->UseRealTime();
    }),
    HAK_FAMILY(BM_Realloc, [](Bench *b) { b->Unit(benchmark::kMicrosecond); }),
    HAK_FAMILY(BM_Calloc, [](Bench *b) {
        b->ArgName("size")->Arg(64)->Arg(4096)->Arg(65536)->Arg(1 << 20);
    }),
    HAK_FAMILY(BM_Aligned, [](Bench *b) {
        b->ArgNames({"align", "size"})
            ->Args({64, 256})->Args({64, 8192})->Args({4096, 256})->Args({4096, 8192});
    }),
    HAK_FAMILY(BM_Large, [](Bench *b) {
        b->ArgName("size")->Unit(benchmark::kMicrosecond)
            ->Arg(1 << 20)->Arg(4 << 20)->Arg(16 << 20);
    }),
};
#undef HAK_FAMILY

// Family by family, hakmem then system: BM_Pair/hakmem/size:16.., BM_Pair/system/...
void register_all() {
    for (const Family &f : kFamilies) {
        const std::string name = f.name;
        f.configure(benchmark::RegisterBenchmark((name + "/" + Hakmem::name).c_str(), f.hakmem));
        f.configure(benchmark::RegisterBenchmark((name + "/" + System::name).c_str(), f.system));
    }
}

} // namespace

int main(int argc, char **argv) {
    // --quick: the short form of --benchmark_min_time=0.05 (seconds, GBench 1.7 syntax).
    static char quick[] = "--benchmark_min_time=0.05";
    std::vector<char *> args;
    for (int i = 0; i < argc; i++)
        args.push_back(std::strcmp(argv[i], "--quick") == 0 ? quick : argv[i]);
    int n = static_cast<int>(args.size());
    args.push_back(nullptr);

    register_all();

    char policy[64] = "?";
    hak_config_get("large.policy", policy, sizeof policy);
    benchmark::AddCustomContext("hakmem_version",
                                std::to_string(HAKMEM_VERSION_MAJOR) + "." +
                                    std::to_string(HAKMEM_VERSION_MINOR) + "." +
                                    std::to_string(HAKMEM_VERSION_PATCH));
    benchmark::AddCustomContext("hakmem_large_policy", policy);

    benchmark::Initialize(&n, args.data());
    if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 2;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    if (g_errors.load() != 0) {
        std::fprintf(stderr, "bench_micro: %d benchmark(s) reported an error\n", g_errors.load());
        return 1;
    }
    return 0;
}
