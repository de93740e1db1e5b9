/* optim.c -- optimizer updates, in place, one pass over each parameter array.
 *
 * The Python optimizers (pyconv/optimizers.py) would need five to fifteen NumPy calls per array
 * for a step; each rule here is one loop (optim_loop.h), with the same float32 operations in
 * the same order as the NumPy rule, which follows Keras 3's, so the result is bitwise that of
 * the NumPy transcription. The loops are compiled once per ISA and chosen here like the GEMM's
 * micro-kernel. Below them, the `_ref` twins: plain serial loops that spell each rule out one
 * operation per line, as the NumPy rule does -- the specification, and the tests' oracle.
 */
#include "optim_loop.h"
#include "target.h"

/* ---- dispatch: the loop built for the active ISA ------------------------------------------ */

void sgd_update(float *p, float *m, const float *g, int64_t n, const sgd_coefs *c)
{
    switch (pyconv_isa_active()) {
    PYCONV_ON_AVX512(sgd_update_avx512(p, m, g, n, c); break;)
    PYCONV_ON_AVX2(sgd_update_avx2(p, m, g, n, c); break;)
    PYCONV_ON_NEON(sgd_update_neon(p, m, g, n, c); break;)
    default: sgd_loop(p, m, g, n, c); break;
    }
}

void rmsprop_update(float *p, float *v, float *mom, float *avg, const float *g, int64_t n,
                    const rmsprop_coefs *c)
{
    switch (pyconv_isa_active()) {
    PYCONV_ON_AVX512(rmsprop_update_avx512(p, v, mom, avg, g, n, c); break;)
    PYCONV_ON_AVX2(rmsprop_update_avx2(p, v, mom, avg, g, n, c); break;)
    PYCONV_ON_NEON(rmsprop_update_neon(p, v, mom, avg, g, n, c); break;)
    default: rmsprop_loop(p, v, mom, avg, g, n, c); break;
    }
}

void adam_update(float *p, float *m, float *v, float *vhat, const float *g, int64_t n,
                 const adam_coefs *c)
{
    switch (pyconv_isa_active()) {
    PYCONV_ON_AVX512(adam_update_avx512(p, m, v, vhat, g, n, c); break;)
    PYCONV_ON_AVX2(adam_update_avx2(p, m, v, vhat, g, n, c); break;)
    PYCONV_ON_NEON(adam_update_neon(p, m, v, vhat, g, n, c); break;)
    default: adam_loop(p, m, v, vhat, g, n, c); break;
    }
}

void nadam_update(float *p, float *m, float *v, const float *g, int64_t n, const nadam_coefs *c)
{
    switch (pyconv_isa_active()) {
    PYCONV_ON_AVX512(nadam_update_avx512(p, m, v, g, n, c); break;)
    PYCONV_ON_AVX2(nadam_update_avx2(p, m, v, g, n, c); break;)
    PYCONV_ON_NEON(nadam_update_neon(p, m, v, g, n, c); break;)
    default: nadam_loop(p, m, v, g, n, c); break;
    }
}

void adamax_update(float *p, float *m, float *u, const float *g, int64_t n, const adamax_coefs *c)
{
    switch (pyconv_isa_active()) {
    PYCONV_ON_AVX512(adamax_update_avx512(p, m, u, g, n, c); break;)
    PYCONV_ON_AVX2(adamax_update_avx2(p, m, u, g, n, c); break;)
    PYCONV_ON_NEON(adamax_update_neon(p, m, u, g, n, c); break;)
    default: adamax_loop(p, m, u, g, n, c); break;
    }
}

void adagrad_update(float *p, float *acc, const float *g, int64_t n, const adagrad_coefs *c)
{
    switch (pyconv_isa_active()) {
    PYCONV_ON_AVX512(adagrad_update_avx512(p, acc, g, n, c); break;)
    PYCONV_ON_AVX2(adagrad_update_avx2(p, acc, g, n, c); break;)
    PYCONV_ON_NEON(adagrad_update_neon(p, acc, g, n, c); break;)
    default: adagrad_loop(p, acc, g, n, c); break;
    }
}

void adadelta_update(float *p, float *ag, float *ad, const float *g, int64_t n,
                     const adadelta_coefs *c)
{
    switch (pyconv_isa_active()) {
    PYCONV_ON_AVX512(adadelta_update_avx512(p, ag, ad, g, n, c); break;)
    PYCONV_ON_AVX2(adadelta_update_avx2(p, ag, ad, g, n, c); break;)
    PYCONV_ON_NEON(adadelta_update_neon(p, ag, ad, g, n, c); break;)
    default: adadelta_loop(p, ag, ad, g, n, c); break;
    }
}

void lion_update(float *p, float *m, const float *g, int64_t n, const lion_coefs *c)
{
    switch (pyconv_isa_active()) {
    PYCONV_ON_AVX512(lion_update_avx512(p, m, g, n, c); break;)
    PYCONV_ON_AVX2(lion_update_avx2(p, m, g, n, c); break;)
    PYCONV_ON_NEON(lion_update_neon(p, m, g, n, c); break;)
    default: lion_loop(p, m, g, n, c); break;
    }
}

void ema_update(float *avg, const float *p, int64_t n, float momentum, float c)
{
    switch (pyconv_isa_active()) {
    PYCONV_ON_AVX512(ema_update_avx512(avg, p, n, momentum, c); break;)
    PYCONV_ON_AVX2(ema_update_avx2(avg, p, n, momentum, c); break;)
    PYCONV_ON_NEON(ema_update_neon(avg, p, n, momentum, c); break;)
    default: ema_loop(avg, p, n, momentum, c); break;
    }
}

/* ---- the _ref twins: one float32 operation per line, in the NumPy rule's order ------------ */

/* Weight decay, as every rule starts: p - (p*wd)*lr. */
static float decay_ref(float p, float wd, float lr)
{
    if (wd == 0.0f)
        return p;
    float t = p * wd;
    t = t * lr;
    return p - t;
}

void sgd_update_ref(float *p, float *m, const float *g, int64_t n, const sgd_coefs *c)
{
    for (int64_t i = 0; i < n; i++) {
        float pi = decay_ref(p[i], c->wd, c->lr);
        float step = g[i] * c->lr;                  /* t = g * lr */
        if (!m) {
            p[i] = pi - step;                       /* p -= t */
            continue;
        }
        m[i] = m[i] * c->momentum;                  /* m *= momentum */
        m[i] = m[i] - step;                         /* m -= t */
        if (c->nesterov) {
            float u = m[i] * c->momentum;           /* u = m * momentum */
            u = u - step;                           /* u -= t */
            p[i] = pi + u;                          /* p += u */
        } else {
            p[i] = pi + m[i];                       /* p += m */
        }
    }
}

void rmsprop_update_ref(float *p, float *v, float *mom, float *avg, const float *g, int64_t n,
                        const rmsprop_coefs *c)
{
    for (int64_t i = 0; i < n; i++) {
        float pi = decay_ref(p[i], c->wd, c->lr);
        float t = g[i] * g[i];
        t = t * c->c_rho;
        v[i] = v[i] * c->rho;
        v[i] = v[i] + t;                            /* v = rho*v + (1-rho)*g*g */
        if (avg) {
            avg[i] = avg[i] * c->rho;
            t = g[i] * c->c_rho;
            avg[i] = avg[i] + t;                    /* avg = rho*avg + (1-rho)*g */
            t = avg[i] * avg[i];
            t = v[i] - t;
            t = t + c->epsilon;                     /* den = v - avg*avg + epsilon */
        } else {
            t = v[i] + c->epsilon;                  /* den = v + epsilon */
        }
        t = sqrtf(t);
        float inc = g[i] * c->lr;
        inc = inc / t;                              /* inc = lr*g / sqrt(den) */
        if (mom) {
            mom[i] = mom[i] * c->momentum;
            mom[i] = mom[i] + inc;
            p[i] = pi - mom[i];
        } else {
            p[i] = pi - inc;
        }
    }
}

void adam_update_ref(float *p, float *m, float *v, float *vhat, const float *g, int64_t n,
                     const adam_coefs *c)
{
    for (int64_t i = 0; i < n; i++) {
        float pi = decay_ref(p[i], c->wd, c->lr);
        float t = g[i] - m[i];
        t = t * c->c1;
        m[i] = m[i] + t;                            /* m += (g - m)*(1 - beta_1) */
        t = g[i] * g[i];
        t = t - v[i];
        t = t * c->c2;
        v[i] = v[i] + t;                            /* v += (g*g - v)*(1 - beta_2) */
        float vi = v[i];
        if (vhat) {
            vhat[i] = max_np(vhat[i], vi);          /* amsgrad: the largest v so far */
            vi = vhat[i];
        }
        t = m[i] * c->alpha;
        float u = sqrtf(vi);
        u = u + c->epsilon;
        t = t / u;
        p[i] = pi - t;                              /* p -= m*alpha / (sqrt(v) + eps) */
    }
}

void nadam_update_ref(float *p, float *m, float *v, const float *g, int64_t n,
                      const nadam_coefs *c)
{
    for (int64_t i = 0; i < n; i++) {
        float pi = decay_ref(p[i], c->wd, c->lr);
        float t = g[i] - m[i];
        t = t * c->c1;
        m[i] = m[i] + t;
        t = g[i] * g[i];
        t = t - v[i];
        t = t * c->c2;
        v[i] = v[i] + t;
        t = m[i] * c->u_next;
        t = t / c->d_next;
        float u = g[i] * c->c_u;
        u = u / c->d_now;
        t = t + u;                                  /* m_hat */
        t = t * c->lr;
        u = v[i] / c->d_v;                          /* v_hat */
        u = sqrtf(u);
        u = u + c->epsilon;
        t = t / u;
        p[i] = pi - t;                              /* p -= m_hat*lr / (sqrt(v_hat) + eps) */
    }
}

void adamax_update_ref(float *p, float *m, float *u, const float *g, int64_t n,
                       const adamax_coefs *c)
{
    for (int64_t i = 0; i < n; i++) {
        float pi = decay_ref(p[i], c->wd, c->lr);
        float t = g[i] - m[i];
        t = t * c->c1;
        m[i] = m[i] + t;
        u[i] = u[i] * c->beta_2;
        u[i] = max_np(u[i], fabsf(g[i]));           /* u = max(beta_2*u, |g|) */
        t = m[i] * c->lr;
        float s = u[i] + c->epsilon;
        s = s * c->d;
        t = t / s;
        p[i] = pi - t;                              /* p -= lr*m / ((1 - beta_1^t)*(u + eps)) */
    }
}

void adagrad_update_ref(float *p, float *acc, const float *g, int64_t n, const adagrad_coefs *c)
{
    for (int64_t i = 0; i < n; i++) {
        float pi = decay_ref(p[i], c->wd, c->lr);
        float t = g[i] * g[i];
        acc[i] = acc[i] + t;
        t = acc[i] + c->epsilon;
        t = sqrtf(t);
        float u = g[i] * c->lr;
        u = u / t;
        p[i] = pi - u;                              /* p -= lr*g / sqrt(acc + eps) */
    }
}

void adadelta_update_ref(float *p, float *ag, float *ad, const float *g, int64_t n,
                         const adadelta_coefs *c)
{
    for (int64_t i = 0; i < n; i++) {
        float pi = decay_ref(p[i], c->wd, c->lr);
        ag[i] = ag[i] * c->rho;
        float t = g[i] * g[i];
        t = t * c->c_rho;
        ag[i] = ag[i] + t;                          /* ag = rho*ag + (1-rho)*g*g */
        t = ad[i] + c->epsilon;
        t = sqrtf(t);
        t = t * g[i];
        float u = ag[i] + c->epsilon;
        u = sqrtf(u);
        t = t / u;
        t = -t;                                     /* d = -rms(ad)*g / rms(ag) */
        ad[i] = ad[i] * c->rho;
        u = t * t;
        u = u * c->c_rho;
        ad[i] = ad[i] + u;                          /* ad = rho*ad + (1-rho)*d*d */
        t = t * c->lr;
        p[i] = pi + t;                              /* p += lr*d */
    }
}

void lion_update_ref(float *p, float *m, const float *g, int64_t n, const lion_coefs *c)
{
    for (int64_t i = 0; i < n; i++) {
        float pi = decay_ref(p[i], c->wd, c->lr);
        float t = m[i] * c->beta_1;
        float u = g[i] * c->c1;
        t = t + u;
        t = sign_np(t);
        t = t * c->lr;
        p[i] = pi - t;                              /* p -= lr * sign(beta_1*m + (1-beta_1)*g) */
        m[i] = m[i] * c->beta_2;
        t = g[i] * c->c2;
        m[i] = m[i] + t;                            /* m = beta_2*m + (1-beta_2)*g */
    }
}

void ema_update_ref(float *avg, const float *p, int64_t n, float momentum, float c)
{
    for (int64_t i = 0; i < n; i++) {
        avg[i] = avg[i] * momentum;
        float t = p[i] * c;
        avg[i] = avg[i] + t;                        /* avg = momentum*avg + (1-momentum)*p */
    }
}
