/* BigCache's per-thread slot (bigcache/thread_slot.h says what it is for).
 *
 * A slot has one word other threads touch, `base`: the owner puts and takes with an
 * atomic exchange, and a drain (clear, or a fork child) exchanges it with NULL from any
 * thread. Whoever wins the exchange owns the block. The owner checks the fit on its own
 * thread-local copy of the record (len, site, class), which no other thread writes; a
 * drainer reads the record the owner wrote at the start of the mapping, which is safe
 * because it owns the mapping once its exchange returned it. A block taken out of a slot is
 * never put back into it (the owner's copy of the record would no longer match): the purge
 * clock takes only a block that looks due, by the free time the owner stores beside the
 * word before publishing a block, with a compare-exchange on the block it saw.
 *
 * That word lives in a node of the registry (under reg_lock) through which a drain finds
 * every slot; a thread takes a node the first time it caches a block and gives it back at
 * thread exit (a pthread key destructor, which also gives the block back). Nodes
 * come from a pool of hakmem's own pages, not from the thread's TLS: a thread whose first
 * large free happens in the last round of another library's key destructors never runs
 * ours, and its node must stay valid after its TLS is gone (the block in it is drained,
 * the node is lost: a few bytes). */
#include "bigcache/thread_slot.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "core/compiler.h"
#include "core/lock.h"
#include "core/os.h"
#include "core/purge.h"

typedef struct slot_node {
    _Atomic(char *) base;           /* the slot's block, or NULL */
    _Atomic uint64_t since;         /* when that block was freed: written before base */
    struct slot_node *prev, *next;  /* registry, or (next) the pool's free list */
} slot_node;

enum { SLOT_NEW = 0, SLOT_LINKED, SLOT_DEAD };

typedef struct thread_slot {
    slot_node *node;         /* NULL until the thread first caches a block */
    hak_bigcache_block mine; /* the owner's copy of what node->base holds */
    int state;
} thread_slot;

static HAK_TLS thread_slot slot;
static hak_lock reg_lock = HAK_LOCK_INIT;
static slot_node *reg_head, *free_nodes;
static pthread_key_t exit_key;
static int exit_key_ok;
static void (*give_back)(const hak_bigcache_block *);

/* Under reg_lock. The first nodes come from BSS (no system call for a program with a few
 * threads), the rest a page at a time. */
static slot_node *node_alloc(void) {
    static slot_node first[64];
    static size_t first_used;
    if (!free_nodes && first_used < sizeof first / sizeof first[0])
        return &first[first_used++];
    if (!free_nodes) {
        size_t page = hak_os_page_size();
        slot_node *chunk = hak_os_map(page);
        if (!chunk)
            return NULL;
        for (size_t i = 0; i < page / sizeof *chunk; i++) {
            chunk[i].next = free_nodes;
            free_nodes = &chunk[i];
        }
    }
    slot_node *n = free_nodes;
    free_nodes = n->next;
    return n;
}

static void node_free(slot_node *n) {
    n->next = free_nodes;
    free_nodes = n;
}

static void reg_link(slot_node *n) {
    n->prev = NULL;
    n->next = reg_head;
    if (reg_head)
        reg_head->prev = n;
    reg_head = n;
}

static void reg_unlink(slot_node *n) {
    if (n->prev)
        n->prev->next = n->next;
    else
        reg_head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    n->prev = n->next = NULL;
}

/* Takes n out of the registry and back to the pool. */
static void node_retire(slot_node *n) {
    hak_lock_acquire(&reg_lock);
    reg_unlink(n);
    node_free(n);
    hak_lock_release(&reg_lock);
}

/* Takes the block of n, whichever thread n belongs to: 1 and *out, or 0 if it was empty. */
static int take_any(slot_node *n, hak_bigcache_block *out) {
    char *b = atomic_exchange_explicit(&n->base, NULL, memory_order_acquire);
    if (!b)
        return 0;
    memcpy(out, b, sizeof *out);
    return 1;
}

/* Thread exit (run by the exiting thread): the block goes back to the shared cache, the
 * node to the pool, and the slot stays off (a free later in the exit path goes to the
 * shared cache directly). */
static void slot_exit(void *arg) {
    slot_node *n = arg;
    hak_bigcache_block b;
    int had = take_any(n, &b);
    node_retire(n);
    slot.node = NULL;
    slot.state = SLOT_DEAD;
    if (had)
        give_back(&b);
}

static slot_node *slot_node_of_thread(void) {
    if (hak_likely(slot.state == SLOT_LINKED))
        return slot.node;
    if (slot.state == SLOT_DEAD || !exit_key_ok)
        return NULL;
    hak_lock_acquire(&reg_lock);
    slot_node *n = node_alloc();
    if (n) {
        atomic_store_explicit(&n->base, NULL, memory_order_relaxed);
        reg_link(n);
    }
    hak_lock_release(&reg_lock);
    if (!n)
        return NULL;
    if (pthread_setspecific(exit_key, n) != 0) {
        node_retire(n);
        return NULL;
    }
    slot.node = n;
    slot.state = SLOT_LINKED;
    return n;
}

int hak_bigcache_slot_swap(const hak_bigcache_block *b, hak_bigcache_block *old) {
    slot_node *n = slot_node_of_thread();
    if (!n)
        return 0;
    memcpy(b->base, b, sizeof *b);
    /* The previous occupant's record is ours to read until the exchange below publishes the
     * new one; a drainer may empty the slot at any time, which the exchange tells. */
    hak_bigcache_block prev = slot.mine;
    slot.mine = *b;
    atomic_store_explicit(&n->since, b->since, memory_order_relaxed);
    char *was = atomic_exchange_explicit(&n->base, b->base, memory_order_acq_rel);
    if (was)
        *old = prev;
    else
        memset(old, 0, sizeof *old);
    return 1;
}

char *hak_bigcache_slot_take(size_t size, uintptr_t site, size_t cls, size_t *len) {
    slot_node *n = slot.node;
    char *b = n ? atomic_load_explicit(&n->base, memory_order_relaxed) : NULL;
    if (!b || slot.mine.site != site || slot.mine.cls != cls || slot.mine.len < size)
        return NULL;
    if (atomic_exchange_explicit(&n->base, NULL, memory_order_acquire) != b)
        return NULL; /* a drain took it a moment ago */
    *len = slot.mine.len;
    return b;
}

int hak_bigcache_slot_take_own(hak_bigcache_block *out) {
    slot_node *n = slot.node;
    if (!n || !atomic_load_explicit(&n->base, memory_order_relaxed))
        return 0;
    return take_any(n, out);
}

void hak_bigcache_slot_drain_all(void (*give)(const hak_bigcache_block *)) {
    /* Blocks are handed over after the lock is dropped (give takes BigCache's and the
     * batch's locks); a batch at a time keeps the stack small. */
    enum { BATCH = 16 };
    hak_bigcache_block taken[BATCH];
    for (;;) {
        size_t n = 0;
        hak_lock_acquire(&reg_lock);
        for (slot_node *s = reg_head; s && n < BATCH; s = s->next)
            n += (size_t)take_any(s, &taken[n]);
        hak_lock_release(&reg_lock);
        for (size_t i = 0; i < n; i++)
            give(&taken[i]);
        if (n < BATCH)
            return;
    }
}

void hak_bigcache_slot_drain_aged(uint64_t now, int64_t delay_ms,
                                  void (*give_due)(const hak_bigcache_block *),
                                  void (*give_young)(const hak_bigcache_block *)) {
    /* The free time beside the word is that of the block it holds or of one its owner is
     * about to put (the owner stores it first): a younger time only makes a due block wait.
     * The compare-exchange takes the block seen, or nothing; the same block freed again in
     * between (taken by its owner, handed out, freed) is taken with its new record, which
     * may be young: that one goes to the shared table, never back into the slot. Up to BATCH
     * blocks a call: more wait for the next pass of the clock. */
    enum { BATCH = 32 };
    hak_bigcache_block taken[BATCH];
    size_t n = 0;
    hak_lock_acquire(&reg_lock);
    for (slot_node *s = reg_head; s && n < BATCH; s = s->next) {
        char *b = atomic_load_explicit(&s->base, memory_order_acquire);
        if (!b || !hak_purge_due(now, atomic_load_explicit(&s->since, memory_order_relaxed),
                                 delay_ms))
            continue;
        if (!atomic_compare_exchange_strong_explicit(&s->base, &b, NULL, memory_order_acquire,
                                                     memory_order_relaxed))
            continue;
        memcpy(&taken[n++], b, sizeof taken[0]);
    }
    hak_lock_release(&reg_lock);
    for (size_t i = 0; i < n; i++)
        (hak_purge_due(now, taken[i].since, delay_ms) ? give_due : give_young)(&taken[i]);
}

void hak_bigcache_slot_init(void (*give)(const hak_bigcache_block *)) {
    give_back = give;
    exit_key_ok = pthread_key_create(&exit_key, slot_exit) == 0;
}

void hak_bigcache_slot_fork_prepare(void) {
    hak_lock_acquire(&reg_lock);
}

void hak_bigcache_slot_fork_parent(void) {
    hak_lock_release(&reg_lock);
}

/* Only the forking thread lives on: the other nodes' blocks (copied into the child with
 * the rest of memory) go to give, their nodes to the pool; this thread's node stays. */
void hak_bigcache_slot_fork_child(void (*give)(const hak_bigcache_block *)) {
    hak_lock_reset(&reg_lock);
    slot_node *s = reg_head;
    reg_head = NULL;
    while (s) {
        slot_node *next = s->next;
        if (s == slot.node) {
            reg_link(s);
        } else {
            hak_bigcache_block b;
            if (take_any(s, &b))
                give(&b);
            node_free(s);
        }
        s = next;
    }
}

size_t hak_bigcache_slot_own_len(void) {
    slot_node *n = slot.node;
    return n && atomic_load_explicit(&n->base, memory_order_relaxed) ? slot.mine.len : 0;
}
