#ifndef LBSIM_CGSL_SHIM_H
#define LBSIM_CGSL_SHIM_H
// The slice of GSL lbsim uses: generators, continuous distributions, Student's t.
#include <gsl/gsl_rng.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_version.h>

// GSL exposes generator types as mutable globals, which Swift 6 rightly refuses to read from
// arbitrary contexts. They are written once by the library's own initialisation, so reading
// them through functions is safe.
static inline const gsl_rng_type *lbsim_rng_mt19937(void) { return gsl_rng_mt19937; }
// The GSL a run is made with (recorded beside baselines: its distributions shape outputs).
static inline const char *lbsim_gsl_version(void) { return gsl_version; }
static inline const gsl_rng_type *lbsim_rng_ranlxd2(void) { return gsl_rng_ranlxd2; }
static inline const gsl_rng_type *lbsim_rng_taus2(void) { return gsl_rng_taus2; }
// MT19937 draws without a call through the generator type: the simulator draws four words per
// request, and GSL's `mt_get`, reached through a function pointer, regenerates its state with a
// data-dependent branch per word (`MAGIC`) that the CPU mispredicts half the time. These are
// the same algorithm on GSL's own state, word for word (gsl/rng/mt.c, Matsumoto & Nishimura's
// 2002 reference): the state layout is GSL's `mt_state_t`, checked by size when the first
// stream is made, and the test suite holds every word to `gsl_rng_get` on a twin generator.
// Other generator types go through GSL's function pointers as before.
typedef struct {
    unsigned long mt[624];
    int mti;
} lbsim_mt_state;

__attribute__((noinline)) static void lbsim_mt_refill(lbsim_mt_state *s) {
    const unsigned long upper = 0x80000000UL, lower = 0x7fffffffUL, magic = 0x9908b0dfUL;
    unsigned long *mt = s->mt;
    int kk;
    // `magic & -(y & 1)` is GSL's `MAGIC(y)` without the branch.
    for (kk = 0; kk < 624 - 397; kk++) {
        unsigned long y = (mt[kk] & upper) | (mt[kk + 1] & lower);
        mt[kk] = mt[kk + 397] ^ (y >> 1) ^ (magic & -(y & 1));
    }
    for (; kk < 623; kk++) {
        unsigned long y = (mt[kk] & upper) | (mt[kk + 1] & lower);
        mt[kk] = mt[kk + (397 - 624)] ^ (y >> 1) ^ (magic & -(y & 1));
    }
    {
        unsigned long y = (mt[623] & upper) | (mt[0] & lower);
        mt[623] = mt[396] ^ (y >> 1) ^ (magic & -(y & 1));
    }
    s->mti = 0;
}

static inline unsigned long lbsim_mt_word(lbsim_mt_state *s) {
    if (__builtin_expect(s->mti >= 624, 0)) lbsim_mt_refill(s);
    unsigned long k = s->mt[s->mti++];
    k ^= (k >> 11);
    k ^= (k << 7) & 0x9d2c5680UL;
    k ^= (k << 15) & 0xefc60000UL;
    k ^= (k >> 18);
    return k;
}

/// `r`'s MT19937 state, or NULL for another generator: a caller that keeps it draws with
/// `lbsim_mt_uniform` without reading `r` itself (one cache line fewer per draw).
static inline lbsim_mt_state *lbsim_rng_mt_state(const gsl_rng *r) {
    return r->type == gsl_rng_mt19937 ? (lbsim_mt_state *)r->state : 0;
}

/// `gsl_rng_uniform` of an MT19937 given its state (see `lbsim_rng_uniform`).
static inline double lbsim_mt_uniform(lbsim_mt_state *s) {
    // Converted as a signed 64-bit number (one instruction; exact, since a word is below 2^32).
    return (double)(long)lbsim_mt_word(s) / 4294967296.0;
}

/// Whether an MT19937 state has the layout `lbsim_mt_state` assumes (checked once, at start).
static inline int lbsim_mt_layout_matches(void) {
    return gsl_rng_mt19937->size == sizeof(lbsim_mt_state);
}

/// `gsl_rng_get(r)`, inlined for MT19937.
static inline unsigned long lbsim_rng_word(const gsl_rng *r) {
    if (r->type == gsl_rng_mt19937) return lbsim_mt_word((lbsim_mt_state *)r->state);
    return r->type->get(r->state);
}

/// `gsl_rng_uniform(r)`, inlined for MT19937 (GSL's `mt_get_double`: a word / 2^32).
static inline double lbsim_rng_uniform(const gsl_rng *r) {
    if (r->type == gsl_rng_mt19937) return lbsim_mt_uniform((lbsim_mt_state *)r->state);
    return r->type->get_double(r->state);
}
#endif
