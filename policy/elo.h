/* The ELO-armed large policy (interface inside the policy room).
 *
 * Arms: backend {malloc, mmap} x HAK_ELO_THRESHOLDS size thresholds, geometric from 512 KiB
 * to 32 MiB. Arm (B, T) serves requests of T bytes or more with backend B and smaller ones
 * with the other backend.
 *
 * The engine below is pure arithmetic over a state struct (no clock, no allocation, no
 * globals): the policy feeds it one cost per epoch, tests feed it a synthetic cost model. */
#ifndef HAKMEM_POLICY_ELO_H
#define HAKMEM_POLICY_ELO_H

#include <stddef.h>
#include <stdint.h>

#include "hakmem/hakmem.h"

#define HAK_ELO_THRESHOLDS 12
#define HAK_ELO_ARMS       (2 * HAK_ELO_THRESHOLDS)
#define HAK_ELO_INITIAL    1500.0

typedef struct hak_elo_params {
    double k;            /* update step (32) */
    unsigned epsilon_pm; /* exploration, per mille (100 = 0.1) */
    unsigned survivors;  /* arms kept once the losers drop out (M) */
    unsigned min_games;  /* games an arm plays before it may drop out */
    double draw_margin;  /* relative cost difference that counts as a draw (0.02) */
    uint64_t seed;
} hak_elo_params;

typedef struct hak_elo_arm {
    size_t threshold;
    hak_large_backend backend; /* for requests >= threshold */
    double rating;
    unsigned wins, losses, draws;
    unsigned samples;          /* epochs run */
    int active;
} hak_elo_arm;

typedef struct hak_elo_state {
    hak_elo_params p;
    hak_elo_arm arms[HAK_ELO_ARMS];
    unsigned current;   /* arm being run */
    int previous;       /* arm of the previous epoch, -1 at start */
    double previous_cost;
    uint64_t rng;
    unsigned epochs;
    unsigned active;
} hak_elo_state;

/* Expected score of a player rated ra against one rated rb: 1 / (1 + 10^((rb - ra)/400)). */
double hak_elo_expected(double ra, double rb);
/* New rating after scoring `score` (1 win, 0.5 draw, 0 loss) with expectation `expected`. */
double hak_elo_update(double rating, double k, double score, double expected);

void     hak_elo_init(hak_elo_state *s, const hak_elo_params *p);
/* Closes the epoch of the current arm with its cost (lower is better): plays it against the
 * arm of the epoch just before, when that was another arm (two consecutive epochs see the
 * same phase of the program: a fair match), drops a loser when due, and picks the next arm
 * (epsilon-greedy). Returns the next arm. */
unsigned hak_elo_close_epoch(hak_elo_state *s, double cost);
/* Best-rated active arm. */
unsigned hak_elo_leader(const hak_elo_state *s);
/* Which backend arm a gives a request of size bytes. */
static inline hak_large_backend hak_elo_route(const hak_elo_arm *a, size_t size) {
    if (size >= a->threshold)
        return a->backend;
    return a->backend == HAK_BACKEND_MMAP ? HAK_BACKEND_MALLOC : HAK_BACKEND_MMAP;
}

/* The live policy (policy/elo_policy.c). */
void hak_elo_policy_register(void);
void hak_elo_fork_child(void);

#endif
