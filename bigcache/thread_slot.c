/* BigCache's per-thread slot (bigcache/thread_slot.h says what it is for).
 *
 * Each thread's slot is a thread-local record whose `base` word is the only thing other
 * threads touch: the owner puts and takes with an atomic exchange, and a drain (clear, or a
 * fork child) exchanges it with NULL from any thread. Whoever wins the exchange owns the
 * block. The owner checks the fit on its own copy of the record (len, site, class), which
 * no other thread writes; a drainer reads the record the owner wrote at the start of the
 * mapping, which is safe because it owns the mapping once its exchange returned it.
 *
 * Slots are linked in a registry (under reg_lock) so that a drain can find them; a slot
 * joins it the first time its thread caches a block and leaves it at thread exit (a
 * pthread key destructor, which also gives the block back). */
#include "bigcache/thread_slot.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "core/compiler.h"
#include "core/lock.h"

enum { SLOT_NEW = 0, SLOT_LINKED, SLOT_DEAD };

typedef struct thread_slot {
    _Atomic(char *) base;
    hak_bigcache_block mine; /* the owner's copy of what base holds */
    struct thread_slot *prev, *next;
    int state;
} thread_slot;

static HAK_TLS thread_slot slot;
static hak_lock reg_lock = HAK_LOCK_INIT;
static thread_slot *reg_head;
static pthread_key_t exit_key;
static int exit_key_ok;
static void (*give_back)(const hak_bigcache_block *);

static void reg_link(thread_slot *s) {
    s->prev = NULL;
    s->next = reg_head;
    if (reg_head)
        reg_head->prev = s;
    reg_head = s;
}

static void reg_unlink(thread_slot *s) {
    if (s->prev)
        s->prev->next = s->next;
    else
        reg_head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
}

/* Takes the block of s, whichever thread s belongs to: 1 and *out, or 0 if it was empty. */
static int take_any(thread_slot *s, hak_bigcache_block *out) {
    char *b = atomic_exchange_explicit(&s->base, NULL, memory_order_acquire);
    if (!b)
        return 0;
    memcpy(out, b, sizeof *out);
    return 1;
}

/* Thread exit: the block goes back to the shared cache, the slot leaves the registry and
 * stays off (a free later in the exit path goes to the shared cache directly). */
static void slot_exit(void *arg) {
    thread_slot *s = arg;
    hak_bigcache_block b;
    hak_lock_acquire(&reg_lock);
    s->state = SLOT_DEAD;
    reg_unlink(s);
    hak_lock_release(&reg_lock);
    if (take_any(s, &b))
        give_back(&b);
}

static int slot_usable(void) {
    if (hak_likely(slot.state == SLOT_LINKED))
        return 1;
    if (slot.state == SLOT_DEAD || !exit_key_ok)
        return 0;
    if (pthread_setspecific(exit_key, &slot) != 0)
        return 0;
    hak_lock_acquire(&reg_lock);
    reg_link(&slot);
    slot.state = SLOT_LINKED;
    hak_lock_release(&reg_lock);
    return 1;
}

int hak_bigcache_slot_swap(const hak_bigcache_block *b, hak_bigcache_block *old) {
    if (!slot_usable())
        return 0;
    memcpy(b->base, b, sizeof *b);
    /* The previous occupant's record is ours to read until the exchange below publishes the
     * new one; a drainer may empty the slot at any time, which the exchange tells. */
    hak_bigcache_block prev = slot.mine;
    slot.mine = *b;
    char *was = atomic_exchange_explicit(&slot.base, b->base, memory_order_acq_rel);
    if (was) {
        *old = prev;
    } else {
        memset(old, 0, sizeof *old);
    }
    return 1;
}

char *hak_bigcache_slot_take(size_t size, uintptr_t site, size_t cls, size_t *len) {
    char *b = atomic_load_explicit(&slot.base, memory_order_relaxed);
    if (!b || slot.mine.site != site || slot.mine.cls != cls || slot.mine.len < size)
        return NULL;
    if (atomic_exchange_explicit(&slot.base, NULL, memory_order_acquire) != b)
        return NULL; /* a drain took it a moment ago */
    *len = slot.mine.len;
    return b;
}

int hak_bigcache_slot_take_own(hak_bigcache_block *out) {
    if (!atomic_load_explicit(&slot.base, memory_order_relaxed))
        return 0;
    return take_any(&slot, out);
}

void hak_bigcache_slot_drain_all(void (*give)(const hak_bigcache_block *)) {
    /* Blocks are handed over after the lock is dropped (give takes BigCache's and the
     * batch's locks); a batch at a time keeps the stack small. */
    enum { BATCH = 16 };
    hak_bigcache_block taken[BATCH];
    for (;;) {
        size_t n = 0;
        hak_lock_acquire(&reg_lock);
        for (thread_slot *s = reg_head; s && n < BATCH; s = s->next)
            n += (size_t)take_any(s, &taken[n]);
        hak_lock_release(&reg_lock);
        for (size_t i = 0; i < n; i++)
            give(&taken[i]);
        if (n < BATCH)
            return;
    }
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

/* Only the forking thread lives on: the other slots' blocks (copied into the child with
 * the rest of memory) go to give, and the registry keeps this thread's slot. */
void hak_bigcache_slot_fork_child(void (*give)(const hak_bigcache_block *)) {
    hak_lock_reset(&reg_lock);
    thread_slot *s = reg_head;
    reg_head = NULL;
    while (s) {
        thread_slot *next = s->next;
        hak_bigcache_block b;
        if (s != &slot && take_any(s, &b))
            give(&b);
        s = next;
    }
    if (slot.state == SLOT_LINKED)
        reg_link(&slot);
}

size_t hak_bigcache_slot_own_len(void) {
    return atomic_load_explicit(&slot.base, memory_order_relaxed) ? slot.mine.len : 0;
}
