/* optim_avx512.c -- the optimizer loops of optim_loop.h compiled with the AVX-512 flags (and
 * no FMA contraction, so the result stays bitwise the portable one). Chosen by optim.c.
 *
 * With 256-bit vectors (AVX-512VL), not 512: these loops stream memory, and a 512-bit store
 * that is not 64-byte aligned (NumPy's arrays seldom are: the DNN's weights and Adam slots sit
 * at 16, 32 or 48 bytes past a cache line) is split across two lines. Measured on the DNN's
 * 784x128 weights with Adam, one thread: 512-bit vectors 31 us aligned but 87 us at a 16-byte
 * offset; 256-bit vectors 32-39 us either way, as the AVX2 build. The width is a compile flag
 * of this file (-mprefer-vector-width=256, CMakeLists.txt), which GCC and Clang both take: Clang
 * ignores GCC's `#pragma GCC target` spelling of it. */
#include "optim_loop.h"

void sgd_update_avx512(float *p, float *m, const float *g, int64_t n, const sgd_coefs *c)
{
    sgd_loop(p, m, g, n, c);
}

void rmsprop_update_avx512(float *p, float *v, float *mom, float *avg, const float *g, int64_t n,
                           const rmsprop_coefs *c)
{
    rmsprop_loop(p, v, mom, avg, g, n, c);
}

void adam_update_avx512(float *p, float *m, float *v, float *vhat, const float *g, int64_t n,
                        const adam_coefs *c)
{
    adam_loop(p, m, v, vhat, g, n, c);
}

void nadam_update_avx512(float *p, float *m, float *v, const float *g, int64_t n, const nadam_coefs *c)
{
    nadam_loop(p, m, v, g, n, c);
}

void adamax_update_avx512(float *p, float *m, float *u, const float *g, int64_t n, const adamax_coefs *c)
{
    adamax_loop(p, m, u, g, n, c);
}

void adagrad_update_avx512(float *p, float *acc, const float *g, int64_t n, const adagrad_coefs *c)
{
    adagrad_loop(p, acc, g, n, c);
}

void adadelta_update_avx512(float *p, float *ag, float *ad, const float *g, int64_t n,
                            const adadelta_coefs *c)
{
    adadelta_loop(p, ag, ad, g, n, c);
}

void lion_update_avx512(float *p, float *m, const float *g, int64_t n, const lion_coefs *c)
{
    lion_loop(p, m, g, n, c);
}

void ema_update_avx512(float *avg, const float *p, int64_t n, float momentum, float c)
{
    ema_loop(avg, p, n, momentum, c);
}
