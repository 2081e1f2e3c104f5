/* ELO engine: ratings, matches between consecutive epochs, epsilon-greedy choice, and the
 * dropping of arms that keep losing. Deterministic for a given seed. */
#include "policy/elo.h"

#include <string.h>

#define MIN_THRESHOLD ((size_t)512 << 10)
#define MAX_THRESHOLD ((size_t)32 << 20)

/* e^x without libm (linking libm would add its pages to every preloaded program's RSS):
 * x = k ln2 + r with |r| <= ln2/2, e^r by its Taylor series (|r|^18/18! < 1e-22), then
 * scaled by 2^k. Exact to a few ulps, which the ratings need and no more. */
static double exp_nolibm(double x) {
    if (x > 700)
        return 1e304;
    if (x < -700)
        return 0;
    const double ln2 = 0.6931471805599453;
    double kf = x / ln2;
    long k = (long)(kf < 0 ? kf - 0.5 : kf + 0.5);
    double r = x - (double)k * ln2;
    double term = 1, sum = 1;
    for (int i = 1; i < 18; i++) {
        term *= r / i;
        sum += term;
    }
    for (; k > 0; k--)
        sum *= 2;
    for (; k < 0; k++)
        sum /= 2;
    return sum;
}

static double pow_nolibm(double base_ln, double exponent) {
    return exp_nolibm(base_ln * exponent);
}

static double abs_double(double x) {
    return x < 0 ? -x : x;
}

#define LN10 2.302585092994046

double hak_elo_expected(double ra, double rb) {
    return 1.0 / (1.0 + pow_nolibm(LN10, (rb - ra) / 400.0));
}

double hak_elo_update(double rating, double k, double score, double expected) {
    return rating + k * (score - expected);
}

static uint64_t next_random(hak_elo_state *s) {
    /* splitmix64: good enough for exploration, and reproducible */
    uint64_t z = (s->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void hak_elo_init(hak_elo_state *s, const hak_elo_params *p) {
    memset(s, 0, sizeof *s);
    s->p = *p;
    if (s->p.survivors == 0)
        s->p.survivors = 1;
    s->rng = p->seed;
    /* 12 thresholds from 512 KiB to 32 MiB, each about 1.46 times the last (64^(1/11)). */
    for (unsigned t = 0; t < HAK_ELO_THRESHOLDS; t++) {
        double f = (double)t / (HAK_ELO_THRESHOLDS - 1);
        /* (32 MiB / 512 KiB)^f = 64^f = e^(f ln 64) */
        double v = (double)MIN_THRESHOLD * pow_nolibm(4.1588830833596715, f);
        size_t threshold = (size_t)v & ~(size_t)4095; /* whole pages */
        for (unsigned b = 0; b < 2; b++) {
            hak_elo_arm *a = &s->arms[2 * t + b];
            a->threshold = threshold;
            a->backend = b ? HAK_BACKEND_MMAP : HAK_BACKEND_MALLOC;
            a->rating = HAK_ELO_INITIAL;
            a->active = 1;
        }
    }
    s->active = HAK_ELO_ARMS;
    s->previous = -1;
    /* Start with a random arm: nothing is known yet. */
    s->current = (unsigned)(next_random(s) % HAK_ELO_ARMS);
}

unsigned hak_elo_leader(const hak_elo_state *s) {
    unsigned best = HAK_ELO_ARMS;
    for (unsigned i = 0; i < HAK_ELO_ARMS; i++)
        if (s->arms[i].active && (best == HAK_ELO_ARMS || s->arms[i].rating > s->arms[best].rating))
            best = i;
    return best == HAK_ELO_ARMS ? 0 : best;
}

static void play(hak_elo_state *s, unsigned a, double ca, unsigned b, double cb) {
    hak_elo_arm *A = &s->arms[a], *B = &s->arms[b];
    double scale = ca > cb ? ca : cb;
    double score; /* A's result */
    if (scale <= 0 || abs_double(ca - cb) <= s->p.draw_margin * scale) {
        score = 0.5;
        A->draws++, B->draws++;
    } else if (ca < cb) {
        score = 1.0;
        A->wins++, B->losses++;
    } else {
        score = 0.0;
        A->losses++, B->wins++;
    }
    double ea = hak_elo_expected(A->rating, B->rating);
    double eb = 1.0 - ea;
    A->rating = hak_elo_update(A->rating, s->p.k, score, ea);
    B->rating = hak_elo_update(B->rating, s->p.k, 1.0 - score, eb);
}

/* Drops the worst-rated arm that has played enough, while more than M are active. */
static void drop_loser(hak_elo_state *s) {
    if (s->active <= s->p.survivors)
        return;
    unsigned worst = HAK_ELO_ARMS;
    for (unsigned i = 0; i < HAK_ELO_ARMS; i++) {
        hak_elo_arm *a = &s->arms[i];
        /* Games, not epochs run: an arm plays when it runs and again when the next epoch's
         * arm plays it, so one bad epoch already gives two losses. Counting epochs would
         * keep a bad arm on the exploration list until it ran twice, and at epsilon 0.1
         * over 24 arms that takes hundreds of epochs, each paying its cost again. */
        if (!a->active || a->wins + a->losses + a->draws < s->p.min_games)
            continue;
        if (worst == HAK_ELO_ARMS || a->rating < s->arms[worst].rating)
            worst = i;
    }
    if (worst == HAK_ELO_ARMS || s->arms[worst].rating >= HAK_ELO_INITIAL)
        return; /* nobody has lost enough yet */
    s->arms[worst].active = 0;
    s->active--;
}

static unsigned pick_next(hak_elo_state *s) {
    if (next_random(s) % 1000 < s->p.epsilon_pm) {
        unsigned k = (unsigned)(next_random(s) % s->active);
        for (unsigned i = 0; i < HAK_ELO_ARMS; i++)
            if (s->arms[i].active && k-- == 0)
                return i;
    }
    /* Exploit, but first give every active arm one game: a rating needs a match. */
    for (unsigned i = 0; i < HAK_ELO_ARMS; i++)
        if (s->arms[i].active && s->arms[i].samples == 0)
            return i;
    return hak_elo_leader(s);
}

unsigned hak_elo_close_epoch(hak_elo_state *s, double cost) {
    hak_elo_arm *cur = &s->arms[s->current];
    cur->samples++;
    s->epochs++;
    if (s->previous >= 0 && (unsigned)s->previous != s->current)
        play(s, s->current, cost, (unsigned)s->previous, s->previous_cost);
    drop_loser(s);
    s->previous = (int)s->current;
    s->previous_cost = cost;
    s->current = pick_next(s);
    return s->current;
}
