// C++ new/delete under LD_PRELOAD=libhakmem.so: operator new/delete (plain, array,
// aligned, nothrow, sized) reach hakmem through malloc/free. Deterministic output only;
// the test compares it with a run without the preload.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

static uint64_t mix(uint64_t h, uint64_t v) {
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h;
}

struct alignas(64) Cacheline {
    uint64_t v[8];
};

struct alignas(4096) Page {
    unsigned char bytes[4096];
};

int main() {
    uint64_t h = 0;
    int failures = 0;

    // containers of many small objects
    std::map<std::string, std::vector<int>> m;
    for (int i = 0; i < 50000; i++) {
        std::string key = "k" + std::to_string(i * 7919 % 100003);
        m[key].push_back(i);
    }
    for (auto &kv : m)
        h = mix(h, kv.first.size() + kv.second.size());
    std::printf("map %zu %llu\n", m.size(), (unsigned long long)h);

    std::unordered_map<int, std::string> um;
    for (int i = 0; i < 100000; i++)
        um[i] = std::string(i % 40, char('a' + i % 26));
    for (int i = 0; i < 100000; i += 2)
        um.erase(i);
    size_t total = 0;
    for (auto &kv : um)
        total += kv.second.size();
    std::printf("unordered %zu %zu\n", um.size(), total);

    std::list<std::unique_ptr<int[]>> lst;
    for (int i = 0; i < 20000; i++) {
        lst.emplace_back(new int[i % 100 + 1]);
        lst.back()[0] = i;
    }
    long sum = 0;
    for (auto &p : lst)
        sum += p[0];
    std::printf("list %zu %ld\n", lst.size(), sum);

    // vector growth into large sizes and shrink
    std::vector<uint64_t> big;
    for (uint64_t i = 0; i < 3000000; i++)
        big.push_back(i * i);
    h = 0;
    for (size_t i = 0; i < big.size(); i += 1000)
        h = mix(h, big[i]);
    big.resize(10);
    big.shrink_to_fit();
    std::printf("vector %llu %zu\n", (unsigned long long)h, big.size());

    // over-aligned new: alignment honoured
    std::vector<Cacheline *> lines;
    for (int i = 0; i < 1000; i++) {
        Cacheline *c = new Cacheline();
        if (reinterpret_cast<uintptr_t>(c) % 64 != 0)
            failures++;
        c->v[7] = (uint64_t)i;
        lines.push_back(c);
    }
    for (Cacheline *c : lines)
        delete c;
    Page *pages = new Page[8];
    if (reinterpret_cast<uintptr_t>(pages) % 4096 != 0)
        failures++;
    std::memset(pages, 1, sizeof(Page) * 8);
    delete[] pages;
    void *raw = ::operator new(100000, std::align_val_t(65536));
    if (reinterpret_cast<uintptr_t>(raw) % 65536 != 0)
        failures++;
    std::memset(raw, 2, 100000);
    ::operator delete(raw, std::align_val_t(65536));
    std::printf("aligned %d\n", failures);

    // failure paths: a huge new throws, nothrow new returns nullptr
    volatile size_t huge = (size_t)1 << 50;
    bool threw = false;
    try {
        char *p = new char[huge];
        p[0] = 1;
        delete[] p;
    } catch (const std::bad_alloc &) {
        threw = true;
    }
    char *q = new (std::nothrow) char[huge];
    std::printf("bad_alloc %d nothrow_null %d\n", threw ? 1 : 0, q == nullptr ? 1 : 0);
    delete[] q;

    // threads: strings made in one thread, destroyed in another
    std::mutex mu;
    std::vector<std::string *> handoff;
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; t++) {
        ts.emplace_back([t, &mu, &handoff] {
            for (int i = 0; i < 20000; i++) {
                std::string *s = new std::string(size_t(i % 300 + 1), char('A' + t));
                std::lock_guard<std::mutex> g(mu);
                handoff.push_back(s);
                if (handoff.size() > 64) {
                    delete handoff.front();
                    handoff.erase(handoff.begin());
                }
            }
        });
    }
    for (auto &t : ts)
        t.join();
    size_t left = 0;
    for (std::string *s : handoff) {
        left += s->size();
        delete s;
    }
    std::printf("threads %zu\n", handoff.size());
    (void)left;

    // C allocations mixed in
    char *c = static_cast<char *>(std::malloc(1000));
    std::strcpy(c, "mixed");
    c = static_cast<char *>(std::realloc(c, 1 << 20));
    std::printf("c %s\n", c);
    std::free(c);

    std::printf("done %s\n", failures ? "FAIL" : "ok");
    return failures ? 1 : 0;
}
