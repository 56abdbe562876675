#ifndef LBSIM_CGSL_SHIM_H
#define LBSIM_CGSL_SHIM_H
// The slice of GSL lbsim uses: generators, continuous distributions, Student's t.
#include <gsl/gsl_rng.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>

// GSL exposes generator types as mutable globals, which Swift 6 rightly refuses to read from
// arbitrary contexts. They are written once by the library's own initialisation, so reading
// them through functions is safe.
static inline const gsl_rng_type *lbsim_rng_mt19937(void) { return gsl_rng_mt19937; }
static inline const gsl_rng_type *lbsim_rng_ranlxd2(void) { return gsl_rng_ranlxd2; }
static inline const gsl_rng_type *lbsim_rng_taus2(void) { return gsl_rng_taus2; }
#endif
