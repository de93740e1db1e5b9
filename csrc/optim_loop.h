/* optim_loop.h -- the optimizer steps' loops, written once and compiled once per ISA (optim.c
 * for the portable build, optim_avx2.c, optim_avx512.c, optim_neon.c with their own flags), so the compiler
 * vectorises the square roots, divisions and selects as wide as the CPU allows. Every build
 * runs the same float32 operations in the same order, with FMA contraction off, and sqrt and
 * division are correctly rounded: the result is bitwise the same on every ISA, and bitwise
 * the NumPy rule of pyconv/optimizers.py (each rule is written out in pyconv.h).
 *
 * Every loop is elementwise: element i of each output depends only on element i of the inputs,
 * so splitting the elements over threads cannot change a bit.
 * Threads: over elements, each written by one thread; one thread below OPTIM_PAR_MIN.
 * A loop-invariant choice (a NULL slot, nesterov) is tested inside the loop body: GCC's -O3
 * unswitches it out of the loop (checked with -fopt-info-vec: every loop here vectorises). */
#ifndef PYCONV_OPTIM_LOOP_H
#define PYCONV_OPTIM_LOOP_H

#include <math.h>
#include <stdint.h>
#include "pyconv.h"

/* Below this many elements one thread is faster (a parallel region costs a few microseconds). */
#define OPTIM_PAR_MIN 16384

/* Keras 3's weight decay, the first thing every rule does: p - (p*wd)*lr. */
static inline float decayed(float p, float wd, float lr)
{
    return wd != 0.0f ? p - p * wd * lr : p;
}

/* NumPy's maximum(a, b): a NaN in either argument wins (fmaxf would drop it). */
static inline float max_np(float a, float b)
{
    return (a >= b || a != a) ? a : b;
}

/* NumPy's sign: +1, -1, +0 for either zero, NaN for NaN. Three selects, not a nested
 * conditional: GCC if-converts these into vector blends (it left the nested form a branch). */
static inline float sign_np(float x)
{
    float s = x > 0.0f ? 1.0f : 0.0f;
    s = x < 0.0f ? -1.0f : s;
    return x != x ? x : s;
}

// p, g (n); m (n) or NULL. See pyconv.h.
static inline void sgd_loop(float *p, float *m, const float *g, int64_t n, const sgd_coefs *c)
{
    const float lr = c->lr, wd = c->wd, mu = c->momentum;
    const int nesterov = c->nesterov;
    if (!m) {
        #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > OPTIM_PAR_MIN)
        for (int64_t i = 0; i < n; i++)
            p[i] = decayed(p[i], wd, lr) - g[i] * lr;
        return;
    }
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > OPTIM_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        const float step = g[i] * lr;
        m[i] = m[i] * mu - step;
        p[i] = decayed(p[i], wd, lr) + (nesterov ? m[i] * mu - step : m[i]);
    }
}

// p, v, g (n); mom (n) or NULL; avg (n) or NULL (centered).
static inline void rmsprop_loop(float *p, float *v, float *mom, float *avg, const float *g,
                                int64_t n, const rmsprop_coefs *c)
{
    const float lr = c->lr, wd = c->wd, rho = c->rho, c_rho = c->c_rho, mu = c->momentum,
                eps = c->epsilon;
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > OPTIM_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        v[i] = rho * v[i] + c_rho * (g[i] * g[i]);
        float den;
        if (avg) {
            avg[i] = rho * avg[i] + c_rho * g[i];
            den = (v[i] - avg[i] * avg[i]) + eps;
        } else {
            den = v[i] + eps;
        }
        const float inc = (lr * g[i]) / sqrtf(den);
        const float pi = decayed(p[i], wd, lr);
        if (mom) {
            mom[i] = mu * mom[i] + inc;
            p[i] = pi - mom[i];
        } else {
            p[i] = pi - inc;
        }
    }
}

// p, m, v, g (n); vhat (n) or NULL (amsgrad).
static inline void adam_loop(float *p, float *m, float *v, float *vhat, const float *g, int64_t n,
                             const adam_coefs *c)
{
    const float lr = c->lr, wd = c->wd, alpha = c->alpha, c1 = c->c1, c2 = c->c2, eps = c->epsilon;
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > OPTIM_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        m[i] += (g[i] - m[i]) * c1;
        v[i] += (g[i] * g[i] - v[i]) * c2;
        float vi = v[i];
        if (vhat) {
            vhat[i] = max_np(vhat[i], vi);
            vi = vhat[i];
        }
        p[i] = decayed(p[i], wd, lr) - (m[i] * alpha) / (sqrtf(vi) + eps);
    }
}

// p, m, v, g (n).
static inline void nadam_loop(float *p, float *m, float *v, const float *g, int64_t n,
                              const nadam_coefs *c)
{
    const float lr = c->lr, wd = c->wd, c1 = c->c1, c2 = c->c2, u_next = c->u_next,
                d_next = c->d_next, c_u = c->c_u, d_now = c->d_now, d_v = c->d_v, eps = c->epsilon;
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > OPTIM_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        m[i] += (g[i] - m[i]) * c1;
        v[i] += (g[i] * g[i] - v[i]) * c2;
        const float m_hat = (u_next * m[i]) / d_next + (c_u * g[i]) / d_now;
        const float v_hat = v[i] / d_v;
        p[i] = decayed(p[i], wd, lr) - (m_hat * lr) / (sqrtf(v_hat) + eps);
    }
}

// p, m, u, g (n).
static inline void adamax_loop(float *p, float *m, float *u, const float *g, int64_t n,
                               const adamax_coefs *c)
{
    const float lr = c->lr, wd = c->wd, c1 = c->c1, b2 = c->beta_2, d = c->d, eps = c->epsilon;
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > OPTIM_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        m[i] += (g[i] - m[i]) * c1;
        u[i] = max_np(b2 * u[i], fabsf(g[i]));
        p[i] = decayed(p[i], wd, lr) - (lr * m[i]) / (d * (u[i] + eps));
    }
}

// p, acc, g (n).
static inline void adagrad_loop(float *p, float *acc, const float *g, int64_t n,
                                const adagrad_coefs *c)
{
    const float lr = c->lr, wd = c->wd, eps = c->epsilon;
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > OPTIM_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        acc[i] += g[i] * g[i];
        p[i] = decayed(p[i], wd, lr) - (lr * g[i]) / sqrtf(acc[i] + eps);
    }
}

// p, ag, ad, g (n).
static inline void adadelta_loop(float *p, float *ag, float *ad, const float *g, int64_t n,
                                 const adadelta_coefs *c)
{
    const float lr = c->lr, wd = c->wd, rho = c->rho, c_rho = c->c_rho, eps = c->epsilon;
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > OPTIM_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        ag[i] = rho * ag[i] + c_rho * (g[i] * g[i]);
        const float d = -((sqrtf(ad[i] + eps) * g[i]) / sqrtf(ag[i] + eps));
        ad[i] = rho * ad[i] + c_rho * (d * d);
        p[i] = decayed(p[i], wd, lr) + lr * d;
    }
}

// p, m, g (n).
static inline void lion_loop(float *p, float *m, const float *g, int64_t n, const lion_coefs *c)
{
    const float lr = c->lr, wd = c->wd, b1 = c->beta_1, c1 = c->c1, b2 = c->beta_2, c2 = c->c2;
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > OPTIM_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        const float s = sign_np(m[i] * b1 + g[i] * c1);
        p[i] = decayed(p[i], wd, lr) - lr * s;
        m[i] = m[i] * b2 + g[i] * c2;
    }
}

// avg, p (n).
static inline void ema_loop(float *avg, const float *p, int64_t n, float momentum, float c)
{
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > OPTIM_PAR_MIN)
    for (int64_t i = 0; i < n; i++)
        avg[i] = momentum * avg[i] + c * p[i];
}

/* The per-ISA builds (optim_avx2.c, optim_avx512.c), chosen in optim.c. */
void sgd_update_avx2(float *p, float *m, const float *g, int64_t n, const sgd_coefs *c);
void sgd_update_avx512(float *p, float *m, const float *g, int64_t n, const sgd_coefs *c);
void rmsprop_update_avx2(float *p, float *v, float *mom, float *avg, const float *g, int64_t n,
                         const rmsprop_coefs *c);
void rmsprop_update_avx512(float *p, float *v, float *mom, float *avg, const float *g, int64_t n,
                           const rmsprop_coefs *c);
void adam_update_avx2(float *p, float *m, float *v, float *vhat, const float *g, int64_t n,
                      const adam_coefs *c);
void adam_update_avx512(float *p, float *m, float *v, float *vhat, const float *g, int64_t n,
                        const adam_coefs *c);
void nadam_update_avx2(float *p, float *m, float *v, const float *g, int64_t n, const nadam_coefs *c);
void nadam_update_avx512(float *p, float *m, float *v, const float *g, int64_t n, const nadam_coefs *c);
void adamax_update_avx2(float *p, float *m, float *u, const float *g, int64_t n, const adamax_coefs *c);
void adamax_update_avx512(float *p, float *m, float *u, const float *g, int64_t n, const adamax_coefs *c);
void adagrad_update_avx2(float *p, float *acc, const float *g, int64_t n, const adagrad_coefs *c);
void adagrad_update_avx512(float *p, float *acc, const float *g, int64_t n, const adagrad_coefs *c);
void adadelta_update_avx2(float *p, float *ag, float *ad, const float *g, int64_t n,
                          const adadelta_coefs *c);
void adadelta_update_avx512(float *p, float *ag, float *ad, const float *g, int64_t n,
                            const adadelta_coefs *c);
void lion_update_avx2(float *p, float *m, const float *g, int64_t n, const lion_coefs *c);
void lion_update_avx512(float *p, float *m, const float *g, int64_t n, const lion_coefs *c);
void ema_update_avx2(float *avg, const float *p, int64_t n, float momentum, float c);
void ema_update_avx512(float *avg, const float *p, int64_t n, float momentum, float c);
/* ... and for aarch64 (optim_neon.c). */
void sgd_update_neon(float *p, float *m, const float *g, int64_t n, const sgd_coefs *c);
void rmsprop_update_neon(float *p, float *v, float *mom, float *avg, const float *g, int64_t n,
                         const rmsprop_coefs *c);
void adam_update_neon(float *p, float *m, float *v, float *vhat, const float *g, int64_t n,
                      const adam_coefs *c);
void nadam_update_neon(float *p, float *m, float *v, const float *g, int64_t n, const nadam_coefs *c);
void adamax_update_neon(float *p, float *m, float *u, const float *g, int64_t n, const adamax_coefs *c);
void adagrad_update_neon(float *p, float *acc, const float *g, int64_t n, const adagrad_coefs *c);
void adadelta_update_neon(float *p, float *ag, float *ad, const float *g, int64_t n,
                          const adadelta_coefs *c);
void lion_update_neon(float *p, float *m, const float *g, int64_t n, const lion_coefs *c);
void ema_update_neon(float *avg, const float *p, int64_t n, float momentum, float c);

#endif /* PYCONV_OPTIM_LOOP_H */
