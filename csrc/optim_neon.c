/* optim_neon.c -- the optimizer loops of optim_loop.h compiled for aarch64, chosen by optim.c
 * when the active ISA is neon. Advanced SIMD is aarch64's base ISA, so the compiler already
 * vectorises its elementwise loops with it, 4 floats wide, in the portable build too: this translation
 * unit gives neon the same dispatch as every other ISA and is where NEON-specific code for
 * these loops would go. No FMA contraction (CMakeLists.txt), so the results stay bitwise the
 * portable ones. */
#include "optim_loop.h"

void sgd_update_neon(float *p, float *m, const float *g, int64_t n, const sgd_coefs *c)
{
    sgd_loop(p, m, g, n, c);
}

void rmsprop_update_neon(float *p, float *v, float *mom, float *avg, const float *g, int64_t n,
                         const rmsprop_coefs *c)
{
    rmsprop_loop(p, v, mom, avg, g, n, c);
}

void adam_update_neon(float *p, float *m, float *v, float *vhat, const float *g, int64_t n,
                      const adam_coefs *c)
{
    adam_loop(p, m, v, vhat, g, n, c);
}

void nadam_update_neon(float *p, float *m, float *v, const float *g, int64_t n, const nadam_coefs *c)
{
    nadam_loop(p, m, v, g, n, c);
}

void adamax_update_neon(float *p, float *m, float *u, const float *g, int64_t n, const adamax_coefs *c)
{
    adamax_loop(p, m, u, g, n, c);
}

void adagrad_update_neon(float *p, float *acc, const float *g, int64_t n, const adagrad_coefs *c)
{
    adagrad_loop(p, acc, g, n, c);
}

void adadelta_update_neon(float *p, float *ag, float *ad, const float *g, int64_t n,
                          const adadelta_coefs *c)
{
    adadelta_loop(p, ag, ad, g, n, c);
}

void lion_update_neon(float *p, float *m, const float *g, int64_t n, const lion_coefs *c)
{
    lion_loop(p, m, g, n, c);
}

void ema_update_neon(float *avg, const float *p, int64_t n, float momentum, float c)
{
    ema_loop(avg, p, n, momentum, c);
}
