/* kernel_check.c -- every fast C kernel against its `_ref` twin, under every ISA this build and
 * CPU have and at 1 and 2 threads, without Python: the check that runs where the Python suite
 * cannot (an aarch64 build under qemu-user, .ci/aarch64), and a cheap extra one natively.
 *
 * What it checks, on fixed edge shapes plus a few drawn from a seeded generator:
 *   - GEMM-like kernels (sgemm, dense, the three passes of conv2d, depthwise and grouped
 *     convolution): fast vs _ref within the classical bound of a float32 sum of `depth`
 *     products, |err| <= (depth + 2) * u * sum|terms|, where sum|terms| is the _ref kernel
 *     itself run on absolute values; and bitwise the same at 1 and 2 threads.
 *   - Pooling, optimizer steps, batch-norm forward, gather, the general relu, PReLU's forward
 *     and dx: bitwise their _ref (as promised in pyconv.h); batch-norm statistics and backward
 *     and PReLU's dalpha within a few roundings of their _ref; elu, selu, softplus, exp: 4 ulps;
 *     and every per-ISA loop bitwise the generic one (their promise: the same on every ISA), the
 *     depthwise convolution's too.
 * The shapes hit each ISA's tile edges (MR +- 1, NR +- 1 of 4x8, 6x16, 8x32, 12x8), KC = 320
 * +- 1, channel counts that are and are not multiples of NR (conv2d's indirect-B and scattered
 * paths need them whole), strides, dilations, paddings.
 *
 * Usage: kernel_check [--bench]. Prints one line per ISA and a summary; exits 1 on any failure
 * (printing the first few with the largest difference). --bench also times a 384^3 sgemm per
 * ISA (a sanity figure only: under qemu it measures the emulator).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "pyconv.h"
#include "gemm.h"   /* gemm_nr: the forms that read the weights in place need K a multiple */

static const double U = 1.0 / (1 << 24);   /* float32 unit roundoff */

static int n_checks, n_fails;
static char where[160];   /* the case being checked: ISA, threads, kernel, shape */

static const char *const ISA_NAME[PYCONV_ISA_COUNT] = {"generic", "avx2", "avx512", "neon"};
static int isas[PYCONV_ISA_COUNT], n_isas;

/* ---- data ------------------------------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t next_u64(void)   /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static float uniform(float lo, float hi) { return lo + (hi - lo) * (float)(next_u64() >> 40) / (float)(1 << 24); }
static int64_t draw(int64_t lo, int64_t hi) { return lo + (int64_t)(next_u64() % (uint64_t)(hi - lo + 1)); }

/* n floats in [-1, 1), or NULL-safe for n = 0 (malloc(0) may return NULL). */
static float *randn(int64_t n)
{
    float *a = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    if (!a)
        exit(2);
    for (int64_t i = 0; i < n; i++)
        a[i] = uniform(-1.0f, 1.0f);
    return a;
}

static float *zeros(int64_t n)
{
    float *a = calloc((size_t)(n > 0 ? n : 1), sizeof(float));
    if (!a)
        exit(2);
    return a;
}

static float *dup_abs(const float *a, int64_t n)
{
    float *b = zeros(n);
    for (int64_t i = 0; i < n; i++)
        b[i] = fabsf(a[i]);
    return b;
}

static float *copy(const float *a, int64_t n)
{
    float *b = zeros(n);
    memcpy(b, a, (size_t)n * sizeof(float));
    return b;
}

/* ---- comparisons -------------------------------------------------------------------------- */

/* got vs want: bitwise when tol is NULL, else |got - want| <= tol[i] (+ tiny). Reports the
 * largest excess and its index. */
static void check(const char *what, const float *got, const float *want, const float *tol, int64_t n)
{
    int64_t worst = -1;
    double excess = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double e;
        if (!tol)
            e = memcmp(&got[i], &want[i], sizeof(float)) ? 1.0 : 0.0;
        else
            e = isnan(got[i]) != isnan(want[i]) ? 1.0
                : isnan(got[i]) ? 0.0 : fabs((double)got[i] - want[i]) - tol[i] - 1e-30;
        if (e > excess) {
            excess = e;
            worst = i;
        }
    }
    n_checks++;
    if (worst < 0)
        return;
    if (n_fails++ >= 20)
        return;
    printf("FAIL %s: %s at %lld: got %.9g, want %.9g", where, what, (long long)worst, got[worst],
           want[worst]);
    if (tol)
        printf(", tolerance %.3g\n", tol[worst]);
    else
        printf(" (bitwise)\n");
}

/* The bound of a float32 sum of `depth` terms whose absolute values sum to abs[i]. */
static float *sum_bound(const float *abs, int64_t n, int64_t depth)
{
    float *t = zeros(n);
    for (int64_t i = 0; i < n; i++)
        t[i] = (float)((double)(depth + 2) * U * abs[i]);
    return t;
}

static void set_config(int isa, int threads)
{
    if (pyconv_isa_set(isa) != PYCONV_OK) {
        printf("FAIL pyconv_isa_set(%s) refused an available ISA\n", ISA_NAME[isa]);
        exit(1);
    }
    pyconv_set_num_threads(threads);
}

static void status_ok(int status, const char *what)
{
    n_checks++;
    if (status != PYCONV_OK && n_fails++ < 20)
        printf("FAIL %s: %s returned status %d\n", where, what, status);
}

/* ---- GEMM and dense ---------------------------------------------------------------------------- */

static void check_sgemm(int64_t M, int64_t N, int64_t K)
{
    float *a = randn(M * K), *b = randn(K * N), *want = zeros(M * N), *abs = zeros(M * N);
    float *aa = dup_abs(a, M * K), *ab = dup_abs(b, K * N);
    sgemm_ref(want, a, b, M, N, K);
    sgemm_ref(abs, aa, ab, M, N, K);
    float *tol = sum_bound(abs, M * N, K), *got = zeros(M * N), *first = zeros(M * N);
    for (int ii = 0; ii < n_isas; ii++)
        for (int t = 1; t <= 2; t++) {
            set_config(isas[ii], t);
            snprintf(where, sizeof where, "%s threads=%d sgemm M=%lld N=%lld K=%lld", ISA_NAME[isas[ii]],
                     t, (long long)M, (long long)N, (long long)K);
            status_ok(sgemm(got, a, b, M, N, K), "sgemm");
            check("vs sgemm_ref", got, want, tol, M * N);
            if (t == 1) {
                memcpy(first, got, (size_t)(M * N) * sizeof(float));
                for (int w = 2; w <= 3; w++) {   /* pool.c's helpers (inference): the same bits */
                    pyconv_set_pool_width(w);
                    status_ok(sgemm(got, a, b, M, N, K), "sgemm on the pool");
                    pyconv_set_pool_width(0);
                    check("pool of 2-3 vs 1 thread", got, first, NULL, M * N);
                }
            } else {
                check("2 threads vs 1", got, first, NULL, M * N);
            }
            // The spine: the same nest on one thread, so the fast driver's bits.
            status_ok(sgemm_blocked(got, a, b, M, N, K), "sgemm_blocked");
            check("sgemm_blocked vs sgemm_ref", got, want, tol, M * N);
            check("sgemm_blocked vs sgemm", got, first, NULL, M * N);
        }
    free(a), free(b), free(want), free(abs), free(aa), free(ab), free(tol), free(got), free(first);
}

static void check_dense(int64_t N, int64_t C, int64_t K, int relu)
{
    float *x = randn(N * C), *w = randn(C * K), *b = randn(K), *dout = randn(N * K);
    float *ax = dup_abs(x, N * C), *aw = dup_abs(w, C * K), *ab = dup_abs(b, K), *ad = dup_abs(dout, N * K);
    float *y_ref = zeros(N * K), *y_abs = zeros(N * K);
    float *dx_ref = zeros(N * C), *dw_ref = zeros(C * K), *db_ref = zeros(K);
    float *dx_abs = zeros(N * C), *dw_abs = zeros(C * K), *db_abs = zeros(K);
    dense_forward_ref(y_ref, x, w, b, relu, N, C, K);
    dense_forward_ref(y_abs, ax, aw, ab, 0, N, C, K);
    dense_backward_ref(dx_ref, dw_ref, db_ref, dout, x, w, N, C, K);
    dense_backward_ref(dx_abs, dw_abs, db_abs, ad, ax, aw, N, C, K);
    float *ty = sum_bound(y_abs, N * K, C + 1), *tdx = sum_bound(dx_abs, N * C, K);
    float *tdw = sum_bound(dw_abs, C * K, N), *tdb = sum_bound(db_abs, K, N);
    float *y = zeros(N * K), *dx = zeros(N * C), *dw = zeros(C * K), *db = zeros(K);
    float *y1 = zeros(N * K), *dx1 = zeros(N * C), *dw1 = zeros(C * K), *yf = zeros(N * K);
    for (int ii = 0; ii < n_isas; ii++)
        for (int t = 1; t <= 2; t++) {
            set_config(isas[ii], t);
            snprintf(where, sizeof where, "%s threads=%d dense N=%lld C=%lld K=%lld relu=%d",
                     ISA_NAME[isas[ii]], t, (long long)N, (long long)C, (long long)K, relu);
            status_ok(dense_forward(y, x, w, b, relu, N, C, K), "dense_forward");
            for (int form = 0; form <= 2 && N > DENSE_ROWS_MAX; form++)
                if (!form || K % gemm_nr() == 0) {   /* W packed, or read in place: the same bits */
                    status_ok(dense_forward_form(yf, x, w, b, relu, N, C, K, form), "dense_forward_form");
                    check(form == 2 ? "forward, W in place as panels, vs dense_forward"
                          : form ? "forward, W in place, vs dense_forward" : "forward, W packed, vs dense_forward",
                          yf, y, NULL, N * K);
                }
            status_ok(dense_backward(dx, dw, db, dout, x, w, N, C, K), "dense_backward");
            check("forward vs _ref", y, y_ref, ty, N * K);
            check("dx vs _ref", dx, dx_ref, tdx, N * C);
            check("dw vs _ref", dw, dw_ref, tdw, C * K);
            check("db vs _ref", db, db_ref, tdb, K);
            for (int form = 0; form <= 2 && t == 1; form++)   /* on pool.c's helpers: the same bits */
                if (!form || K % gemm_nr() == 0)
                    for (int pw = 2; pw <= 3; pw++) {
                        pyconv_set_pool_width(pw);
                        status_ok(N > DENSE_ROWS_MAX ? dense_forward_form(yf, x, w, b, relu, N, C, K, form)
                                                     : dense_forward(yf, x, w, b, relu, N, C, K),
                                  "dense_forward on the pool");
                        pyconv_set_pool_width(0);
                        check("forward: pool of 2-3 vs dense_forward", yf, y, NULL, N * K);
                    }
            if (t == 1) {
                memcpy(y1, y, (size_t)(N * K) * sizeof(float));
                memcpy(dx1, dx, (size_t)(N * C) * sizeof(float));
                memcpy(dw1, dw, (size_t)(C * K) * sizeof(float));
            } else {
                check("forward: 2 threads vs 1", y, y1, NULL, N * K);
                check("dx: 2 threads vs 1", dx, dx1, NULL, N * C);
                check("dw: 2 threads vs 1", dw, dw1, NULL, C * K);
            }
        }
    float *all[] = {x, w, b, dout, ax, aw, ab, ad, y_ref, y_abs, dx_ref, dw_ref, db_ref, dx_abs, dw_abs,
                    db_abs, ty, tdx, tdw, tdb, y, dx, dw, db, y1, dx1, dw1, yf};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
}

/* ---- convolution ------------------------------------------------------------------------------ */

static int64_t out_size(int64_t H, int64_t R, int64_t stride, int64_t dil, int64_t pad_before,
                        int64_t pad_after)
{
    const int64_t span = (R - 1) * dil + 1, room = H + pad_before + pad_after - span;
    return room < 0 ? 0 : room / stride + 1;
}

/* The three passes of a convolution with `groups`: 1 conv2d, 0 depthwise (filter (R,S,C,K/C)),
 * else grouped (filter (R,S,C/groups,K)); ref picks the _ref twin. */
static int conv_fwd(int ref, int64_t groups, float *y, const float *x, const float *f,
                    const float *b, int relu, const conv2d_shape *s)
{
    if (groups == 1) {
        if (!ref)
            return conv2d_forward(y, x, f, b, relu, s);
        conv2d_forward_ref(y, x, f, b, relu, s);
        return PYCONV_OK;
    }
    if (groups == 0)
        return ref ? depthwise_conv2d_forward_ref(y, x, f, b, relu, s)
                   : depthwise_conv2d_forward(y, x, f, b, relu, s);
    return ref ? conv2d_grouped_forward_ref(y, x, f, b, relu, s, groups)
               : conv2d_grouped_forward(y, x, f, b, relu, s, groups);
}

static int conv_bwi(int ref, int64_t groups, float *di, const float *g, const float *f,
                    const conv2d_shape *s)
{
    if (groups == 1) {
        if (!ref)
            return conv2d_backward_input(di, g, f, s);
        conv2d_backward_input_ref(di, g, f, s);
        return PYCONV_OK;
    }
    if (groups == 0)
        return ref ? depthwise_conv2d_backward_input_ref(di, g, f, s)
                   : depthwise_conv2d_backward_input(di, g, f, s);
    return ref ? conv2d_grouped_backward_input_ref(di, g, f, s, groups)
               : conv2d_grouped_backward_input(di, g, f, s, groups);
}

static int conv_bwf(int ref, int64_t groups, float *df, float *db, const float *g, const float *x,
                    const conv2d_shape *s)
{
    if (groups == 1) {
        if (!ref)
            return conv2d_backward_filter(df, db, g, x, s);
        conv2d_backward_filter_ref(df, db, g, x, s);
        return PYCONV_OK;
    }
    if (groups == 0)
        return ref ? depthwise_conv2d_backward_filter_ref(df, db, g, x, s)
                   : depthwise_conv2d_backward_filter(df, db, g, x, s);
    return ref ? conv2d_grouped_backward_filter_ref(df, db, g, x, s, groups)
               : conv2d_grouped_backward_filter(df, db, g, x, s, groups);
}

/* conv2d (groups 1), depthwise (0: K = C*M, every ISA bitwise the generic one, as promised) or
 * grouped convolution: fast vs _ref within the sum bound, 2 threads bitwise 1. */
static void check_conv(conv2d_shape s, int bias_relu, int64_t groups)
{
    s.P = out_size(s.H, s.R, s.stride_h, s.dil_h, s.pad_top, s.pad_top);
    s.Q = out_size(s.W, s.S, s.stride_w, s.dil_w, s.pad_left, s.pad_left);
    const int64_t cg = groups == 0 ? 1 : s.C / groups, kg = groups == 0 ? s.K / s.C : s.K / groups;
    const int64_t ni = s.N * s.H * s.W * s.C, nf = s.R * s.S * cg * s.K, no = s.N * s.P * s.Q * s.K;
    float *inp = randn(ni), *filt = randn(nf), *bias = randn(s.K), *dout = randn(no);
    float *ai = dup_abs(inp, ni), *af = dup_abs(filt, nf), *ab = dup_abs(bias, s.K), *ad = dup_abs(dout, no);
    const float *b = bias_relu ? bias : NULL;
    float *y_ref = zeros(no), *y_abs = zeros(no), *di_ref = zeros(ni), *di_abs = zeros(ni);
    float *df_ref = zeros(nf), *df_abs = zeros(nf), *db_ref = zeros(s.K), *db_abs = zeros(s.K);
    status_ok(conv_fwd(1, groups, y_ref, inp, filt, b, bias_relu, &s), "forward_ref");
    status_ok(conv_fwd(1, groups, y_abs, ai, af, bias_relu ? ab : NULL, 0, &s), "forward_ref");
    status_ok(conv_bwi(1, groups, di_ref, dout, filt, &s), "backward_input_ref");
    status_ok(conv_bwi(1, groups, di_abs, ad, af, &s), "backward_input_ref");
    status_ok(conv_bwf(1, groups, df_ref, db_ref, dout, inp, &s), "backward_filter_ref");
    status_ok(conv_bwf(1, groups, df_abs, db_abs, ad, ai, &s), "backward_filter_ref");
    float *ty = sum_bound(y_abs, no, s.R * s.S * cg + 1), *tdi = sum_bound(di_abs, ni, s.R * s.S * kg);
    float *tdf = sum_bound(df_abs, nf, s.N * s.P * s.Q), *tdb = sum_bound(db_abs, s.K, s.N * s.P * s.Q);
    float *y = zeros(no), *di = zeros(ni), *df = zeros(nf), *db = zeros(s.K);
    float *y1 = zeros(no), *di1 = zeros(ni), *df1 = zeros(nf), *yf = zeros(no), *dfn = zeros(nf);
    float *yg = zeros(no), *dig = zeros(ni), *dfg = zeros(nf);   /* the generic ISA's, depthwise */
    for (int ii = 0; ii < n_isas; ii++)
        for (int t = 1; t <= 2; t++) {
            set_config(isas[ii], t);
            snprintf(where, sizeof where,
                     "%s threads=%d %s N=%lld H=%lld W=%lld C=%lld K=%lld R=%lld S=%lld "
                     "stride=%lld,%lld dil=%lld,%lld pad=%lld,%lld bias_relu=%d",
                     ISA_NAME[isas[ii]], t, groups == 1 ? "conv2d" : groups == 0 ? "depthwise" : "grouped",
                     (long long)s.N, (long long)s.H, (long long)s.W,
                     (long long)s.C, (long long)s.K, (long long)s.R, (long long)s.S,
                     (long long)s.stride_h, (long long)s.stride_w, (long long)s.dil_h,
                     (long long)s.dil_w, (long long)s.pad_top, (long long)s.pad_left, bias_relu);
            status_ok(conv_fwd(0, groups, y, inp, filt, b, bias_relu, &s), "forward");
            for (int form = 0; form <= 2 && groups == 1; form++)
                if (!form || s.K % gemm_nr() == 0) {   /* filter packed, or in place: the same bits */
                    status_ok(conv2d_forward_form(yf, inp, filt, b, bias_relu, &s, form), "forward_form");
                    check(form == 2 ? "forward, filter in place as panels, vs conv2d_forward"
                          : form ? "forward, filter in place, vs conv2d_forward"
                                 : "forward, filter packed, vs conv2d_forward", yf, y, NULL, no);
                }
            for (int form = 0; form <= 2 && groups == 1 && t == 1; form++)   /* pool.c's helpers */
                if (!form || s.K % gemm_nr() == 0)
                    for (int pw = 2; pw <= 3; pw++) {
                        pyconv_set_pool_width(pw);
                        status_ok(conv2d_forward_form(yf, inp, filt, b, bias_relu, &s, form),
                                  "forward_form on the pool");
                        pyconv_set_pool_width(0);
                        check("forward: pool of 2-3 vs conv2d_forward", yf, y, NULL, no);
                    }
            status_ok(conv_bwi(0, groups, di, dout, filt, &s), "backward_input");
            status_ok(conv_bwf(0, groups, df, db, dout, inp, &s), "backward_filter");
            if (groups == 1) {   /* without dbias: the same dfilt, bitwise */
                status_ok(conv_bwf(0, groups, dfn, NULL, dout, inp, &s), "backward_filter");
                check("backward_filter without dbias vs with", dfn, df, NULL, nf);
            }
            check("forward vs _ref", y, y_ref, ty, no);
            check("backward_input vs _ref", di, di_ref, tdi, ni);
            check("backward_filter vs _ref", df, df_ref, tdf, nf);
            check("dbias vs _ref", db, db_ref, tdb, s.K);
            if (t == 1) {
                memcpy(y1, y, (size_t)no * sizeof(float));
                memcpy(di1, di, (size_t)ni * sizeof(float));
                memcpy(df1, df, (size_t)nf * sizeof(float));
            } else {
                check("forward: 2 threads vs 1", y, y1, NULL, no);
                check("backward_input: 2 threads vs 1", di, di1, NULL, ni);
                check("backward_filter: 2 threads vs 1", df, df1, NULL, nf);
            }
            if (groups == 0 && ii == 0) {   /* isas[0] is generic */
                memcpy(yg, y, (size_t)no * sizeof(float));
                memcpy(dig, di, (size_t)ni * sizeof(float));
                memcpy(dfg, df, (size_t)nf * sizeof(float));
            } else if (groups == 0) {
                check("forward vs generic ISA", y, yg, NULL, no);
                check("backward_input vs generic ISA", di, dig, NULL, ni);
                check("backward_filter vs generic ISA", df, dfg, NULL, nf);
            }
        }
    float *all[] = {inp, filt, bias, dout, ai, af, ab, ad, y_ref, y_abs, di_ref, di_abs, df_ref, df_abs,
                    db_ref, db_abs, ty, tdi, tdf, tdb, y, di, df, db, y1, di1, df1, yg, dig, dfg, yf,
                    dfn};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
}

/* ---- per-ISA loops: bitwise their _ref (or generic), at every ISA and thread count -------------- */

/* A kernel writing `n` floats into out from fixed inputs: run it under every configuration and
 * require the same bits as `want` each time. */
typedef struct {
    const char *name;
    void (*run)(float *out, const void *args);   /* fast kernel (status checked inside) */
    const void *args;
    int64_t n;
} bitwise_case;

static void check_bitwise_everywhere(const bitwise_case *c, const float *want)
{
    float *got = zeros(c->n);
    for (int ii = 0; ii < n_isas; ii++)
        for (int t = 1; t <= 2; t++) {
            set_config(isas[ii], t);
            snprintf(where, sizeof where, "%s threads=%d %s", ISA_NAME[isas[ii]], t, c->name);
            memset(got, 0xff, (size_t)c->n * sizeof(float));   /* NaNs: every output must be written */
            c->run(got, c->args);
            check("vs _ref", got, want, NULL, c->n);
            for (int pw = 2; pw <= 3 && t == 1; pw++) {   /* on pool.c's helpers (inference) */
                memset(got, 0xff, (size_t)c->n * sizeof(float));
                pyconv_set_pool_width(pw);
                c->run(got, c->args);
                pyconv_set_pool_width(0);
                check("on the pool of 2-3 vs _ref", got, want, NULL, c->n);
            }
        }
    free(got);
}

typedef struct { const pool2d_shape *s; const float *inp, *dout; int relu_mask; } pool_args;

static void run_maxfwd(float *o, const void *a) { const pool_args *p = a; status_ok(maxpool2d_forward(o, p->inp, p->s), "maxpool2d_forward"); }
static void run_maxbwd(float *o, const void *a) { const pool_args *p = a; status_ok(maxpool2d_backward(o, p->dout, p->inp, p->relu_mask, p->s), "maxpool2d_backward"); }
static void run_avgfwd(float *o, const void *a) { const pool_args *p = a; status_ok(avgpool2d_forward(o, p->inp, p->s), "avgpool2d_forward"); }
static void run_avgbwd(float *o, const void *a) { const pool_args *p = a; status_ok(avgpool2d_backward(o, p->dout, p->s), "avgpool2d_backward"); }
static void run_gavgfwd(float *o, const void *a) { const pool_args *p = a; const pool2d_shape *s = p->s; status_ok(global_avgpool2d_forward(o, p->inp, s->N, s->H, s->W, s->C), "global_avgpool2d_forward"); }
static void run_gavgbwd(float *o, const void *a) { const pool_args *p = a; const pool2d_shape *s = p->s; status_ok(global_avgpool2d_backward(o, p->dout, s->N, s->H, s->W, s->C), "global_avgpool2d_backward"); }
static void run_gmaxfwd(float *o, const void *a) { const pool_args *p = a; const pool2d_shape *s = p->s; status_ok(global_maxpool2d_forward(o, p->inp, s->N, s->H, s->W, s->C), "global_maxpool2d_forward"); }
static void run_gmaxbwd(float *o, const void *a) { const pool_args *p = a; const pool2d_shape *s = p->s; status_ok(global_maxpool2d_backward(o, p->dout, p->inp, s->N, s->H, s->W, s->C), "global_maxpool2d_backward"); }

static void check_pool(pool2d_shape s)
{
    s.P = (s.H + 2 * s.pad_top - s.R) / s.stride_h + 1;
    s.Q = (s.W + 2 * s.pad_left - s.S) / s.stride_w + 1;
    const int64_t ni = s.N * s.H * s.W * s.C, no = s.N * s.P * s.Q * s.C, ng = s.N * s.C;
    float *inp = randn(ni), *dout = randn(no > ni ? no : ni);
    for (int64_t i = 0; i < ni; i += 7)   /* ties: the first maximum must win on every ISA */
        inp[i] = 0.5f;
    float *want = zeros(ni > no ? ni : no);
    char name[160];
    for (int relu_mask = 0; relu_mask <= 1; relu_mask++) {
        pool_args a = {&s, inp, dout, relu_mask};
        const struct { const char *what; void (*run)(float *, const void *); int64_t n; } k[] = {
            {"maxpool2d_forward", run_maxfwd, no}, {"maxpool2d_backward", run_maxbwd, ni},
            {"avgpool2d_forward", run_avgfwd, no}, {"avgpool2d_backward", run_avgbwd, ni},
            {"global_avgpool2d_forward", run_gavgfwd, ng}, {"global_avgpool2d_backward", run_gavgbwd, ni},
            {"global_maxpool2d_forward", run_gmaxfwd, ng}, {"global_maxpool2d_backward", run_gmaxbwd, ni}};
        for (size_t j = 0; j < sizeof k / sizeof k[0]; j++) {
            if (relu_mask && j != 1)
                continue;   /* relu_mask only exists for maxpool2d_backward */
            switch (j) {
            case 0: maxpool2d_forward_ref(want, inp, &s); break;
            case 1: maxpool2d_backward_ref(want, dout, inp, relu_mask, &s); break;
            case 2: avgpool2d_forward_ref(want, inp, &s); break;
            case 3: avgpool2d_backward_ref(want, dout, &s); break;
            case 4: global_avgpool2d_forward_ref(want, inp, s.N, s.H, s.W, s.C); break;
            case 5: global_avgpool2d_backward_ref(want, dout, s.N, s.H, s.W, s.C); break;
            case 6: global_maxpool2d_forward_ref(want, inp, s.N, s.H, s.W, s.C); break;
            default: global_maxpool2d_backward_ref(want, dout, inp, s.N, s.H, s.W, s.C); break;
            }
            snprintf(name, sizeof name, "%s N=%lld H=%lld W=%lld C=%lld R=%lld S=%lld stride=%d,%d pad=%d,%d relu_mask=%d",
                     k[j].what, (long long)s.N, (long long)s.H, (long long)s.W, (long long)s.C,
                     (long long)s.R, (long long)s.S, s.stride_h, s.stride_w, s.pad_top, s.pad_left, relu_mask);
            bitwise_case c = {name, k[j].run, &a, k[j].n};
            check_bitwise_everywhere(&c, want);
        }
    }
    free(inp), free(dout), free(want);
}

/* The first layer's filter gradient from the max pooling above it: on every ISA and at 1 and
 * 2 threads, bitwise that ISA's two passes (maxpool2d_backward, conv2d_backward_filter), with
 * and without relu's mask, and within the float32 sum's bound of its _ref. s: the conv (C < 8);
 * a disjoint R x R pooling of its output, padded by pad. Ties (y rounded to 0.25). */
static void check_pooled_filter(conv2d_shape s, int64_t R, int pad)
{
    s.P = (s.H + 2 * s.pad_top - s.dil_h * (s.R - 1) - 1) / s.stride_h + 1;
    s.Q = (s.W + 2 * s.pad_left - s.dil_w * (s.S - 1) - 1) / s.stride_w + 1;
    pool2d_shape ps = {s.N, s.P, s.Q, s.K, (s.P + pad + R - 1) / R, (s.Q + pad + R - 1) / R, R, R,
                       (int)R, (int)R, pad, pad};
    const int64_t nx = s.N * s.H * s.W * s.C, ny = s.N * s.P * s.Q * s.K;
    const int64_t ng = s.N * ps.P * ps.Q * s.K, nf = s.R * s.S * s.C * s.K;
    float *x = randn(nx), *y = randn(ny), *g = randn(ng), *d = zeros(ny);
    for (int64_t i = 0; i < ny; i++)
        y[i] = roundf(y[i] * 4.0f) / 4.0f;
    float *want = zeros(nf + s.K), *got = zeros(nf + s.K), *ref = zeros(nf + s.K), *bound = zeros(nf + s.K);
    float *xa = dup_abs(x, nx), *da = zeros(ny), *ga = dup_abs(g, ng);
    for (int relu = 0; relu <= 1; relu++) {
        status_ok(conv2d_backward_filter_pooled_ref(ref, ref + nf, g, y, x, relu, &s, &ps), "pooled_ref");
        maxpool2d_backward_ref(da, ga, y, relu, &ps);
        conv2d_backward_filter_ref(bound, bound + nf, da, xa, &s);
        float *tol = sum_bound(bound, nf + s.K, s.N * s.P * s.Q);
        for (int ii = 0; ii < n_isas; ii++)
            for (int t = 1; t <= 2; t++) {
                set_config(isas[ii], t);
                snprintf(where, sizeof where, "%s threads=%d conv2d_backward_filter_pooled N=%lld H=%lld "
                         "W=%lld C=%lld K=%lld pool %lld pad %d relu=%d", ISA_NAME[isas[ii]], t,
                         (long long)s.N, (long long)s.H, (long long)s.W, (long long)s.C, (long long)s.K,
                         (long long)R, pad, relu);
                status_ok(maxpool2d_backward(d, g, y, relu, &ps), "maxpool2d_backward");
                status_ok(conv2d_backward_filter(want, want + nf, d, x, &s), "conv2d_backward_filter");
                memset(got, 0xff, (size_t)(nf + s.K) * sizeof(float));
                status_ok(conv2d_backward_filter_pooled(got, got + nf, g, y, x, relu, &s, &ps), "pooled");
                check("vs the two passes", got, want, NULL, nf + s.K);
                check("vs _ref", got, ref, tol, nf + s.K);
            }
        free(tol);
    }
    free(x), free(y), free(g), free(d), free(want), free(got), free(ref), free(bound), free(xa), free(da), free(ga);
}

typedef struct { const float *inp, *dout; int64_t N, H, W, C, D; } dmax_args;

static void run_dmaxfwd(float *o, const void *a) { const dmax_args *p = a; status_ok(depthwise_maxpool2d_forward(o, p->inp, p->N, p->H, p->W, p->C, p->D), "depthwise_maxpool2d_forward"); }
static void run_dmaxbwd(float *o, const void *a) { const dmax_args *p = a; status_ok(depthwise_maxpool2d_backward(o, p->dout, p->inp, p->N, p->H, p->W, p->C, p->D), "depthwise_maxpool2d_backward"); }

static void check_depthwise_pool(int64_t N, int64_t H, int64_t W, int64_t C, int64_t D)
{
    const int64_t ni = N * H * W * C, no = ni / D;
    float *inp = randn(ni), *dout = randn(no), *want = zeros(ni);
    dmax_args a = {inp, dout, N, H, W, C, D};
    depthwise_maxpool2d_forward_ref(want, inp, N, H, W, C, D);
    bitwise_case f = {"depthwise_maxpool2d_forward", run_dmaxfwd, &a, no};
    check_bitwise_everywhere(&f, want);
    depthwise_maxpool2d_backward_ref(want, dout, inp, N, H, W, C, D);
    bitwise_case b = {"depthwise_maxpool2d_backward", run_dmaxbwd, &a, ni};
    check_bitwise_everywhere(&b, want);
    free(inp), free(dout), free(want);
}

/* ---- optimizers: each rule's step, bitwise its _ref, on every ISA --------------------------- */

/* One step of rule `r` (0..11) on n elements, fast or _ref: p and its slots in st[0..3], in
 * place; g read. The variants cover the NULL slots (no momentum, no amsgrad, not centered). */
static void optim_step(int r, int ref, float *st[4], const float *g, int64_t n)
{
    const sgd_coefs sgd = {0.01f, r == 1 ? 0.004f : 0.0f, r == 0 ? 0.0f : 0.9f, r == 2};
    const rmsprop_coefs rms = {0.001f, 0.0f, 0.9f, 0.1f, r == 4 ? 0.5f : 0.0f, 1e-7f};
    const adam_coefs adam = {0.001f, r == 6 ? 0.004f : 0.0f, 0.0007f, 0.1f, 0.001f, 1e-7f};
    const nadam_coefs nadam = {0.002f, 0.0f, 0.1f, 0.001f, 0.95f, 0.3f, 0.05f, 0.2f, 0.01f, 1e-7f};
    const adamax_coefs adamax = {0.002f, 0.0f, 0.1f, 0.999f, 0.1f, 1e-7f};
    const adagrad_coefs adagrad = {0.01f, 0.0f, 1e-7f};
    const adadelta_coefs adadelta = {1.0f, 0.0f, 0.95f, 0.05f, 1e-7f};
    const lion_coefs lion = {0.0001f, 0.01f, 0.9f, 0.1f, 0.99f, 0.01f};
    switch (r) {
    case 0: case 1: case 2:
        (ref ? sgd_update_ref : sgd_update)(st[0], r == 0 ? NULL : st[1], g, n, &sgd); break;
    case 3: case 4:
        (ref ? rmsprop_update_ref : rmsprop_update)(st[0], st[1], r == 4 ? st[2] : NULL, r == 4 ? st[3] : NULL, g, n, &rms); break;
    case 5: case 6:
        (ref ? adam_update_ref : adam_update)(st[0], st[1], st[2], r == 6 ? st[3] : NULL, g, n, &adam); break;
    case 7: (ref ? nadam_update_ref : nadam_update)(st[0], st[1], st[2], g, n, &nadam); break;
    case 8: (ref ? adamax_update_ref : adamax_update)(st[0], st[1], st[2], g, n, &adamax); break;
    case 9: (ref ? adagrad_update_ref : adagrad_update)(st[0], st[1], g, n, &adagrad); break;
    case 10: (ref ? adadelta_update_ref : adadelta_update)(st[0], st[1], st[2], g, n, &adadelta); break;
    default:
        (ref ? lion_update_ref : lion_update)(st[0], st[1], g, n, &lion);
        (ref ? ema_update_ref : ema_update)(st[2], st[0], n, 0.99f, 0.01f);
        break;
    }
}

static void check_optim(int64_t n)
{
    static const char *const rule[12] = {"sgd", "sgd+wd", "sgd nesterov", "rmsprop", "rmsprop centered+momentum",
                                         "adam", "adamw amsgrad", "nadam", "adamax", "adagrad", "adadelta",
                                         "lion + ema"};
    float *g = randn(n), *init[4], *want[4], *got[4];
    /* Slots 1 and 2 (second moments among them) in [0.5, 1), slot 3 in [0, 0.1): RMSprop's
     * centered v - avg^2 stays positive, so no NaN (whose payload bits could differ) arises. */
    for (int k = 0; k < 4; k++) {
        init[k] = randn(n);
        for (int64_t i = 0; k > 0 && i < n; i++)
            init[k][i] = k < 3 ? 0.5f + 0.5f * fabsf(init[k][i]) : 0.1f * fabsf(init[k][i]);
    }
    g[0] = 0.0f;   /* sign(0) = 0 in Lion */
    for (int r = 0; r < 12; r++) {
        for (int k = 0; k < 4; k++)
            want[k] = copy(init[k], n);
        optim_step(r, 1, want, g, n);
        for (int ii = 0; ii < n_isas; ii++)
            for (int t = 1; t <= 2; t++) {
                set_config(isas[ii], t);
                snprintf(where, sizeof where, "%s threads=%d %s n=%lld", ISA_NAME[isas[ii]], t, rule[r], (long long)n);
                for (int k = 0; k < 4; k++)
                    got[k] = copy(init[k], n);
                optim_step(r, 0, got, g, n);
                for (int k = 0; k < 4; k++) {
                    check(k ? "a slot vs _ref" : "parameter vs _ref", got[k], want[k], NULL, n);
                    free(got[k]);
                }
            }
        for (int k = 0; k < 4; k++)
            free(want[k]);
    }
    for (int k = 0; k < 4; k++)
        free(init[k]);
    free(g);
}

/* ---- batch normalization ----------------------------------------------------------------------- */

static void check_batchnorm(int64_t M, int64_t C)
{
    float *x = randn(M * C), *dy = randn(M * C), *gamma = randn(C), *beta = randn(C);
    for (int64_t i = 0; i < M * C; i++)
        x[i] = 3.0f + 2.0f * x[i];   /* an offset mean: the statistics must not cancel */
    float *mr = zeros(C), *vr = zeros(C), *scale = zeros(C), *shift = zeros(C), *invstd = zeros(C);
    float *yr = zeros(M * C), *dxr = zeros(M * C), *dgr = zeros(C), *dbr = zeros(C);
    batchnorm_stats_ref(mr, vr, x, M, C);
    batchnorm_coefs(scale, shift, invstd, mr, vr, gamma, beta, 1e-3, C);
    batchnorm_backward_ref(dxr, dgr, dbr, dy, x, mr, invstd, gamma, NULL, NULL, M, C);
    /* Tolerances: both sides sum in double and round once; the backward's few float32
     * roundings act on terms of size |dy| and |x - mean| * invstd (tests/test_batchnorm.py
     * derives the same bounds in full). */
    float *tm = zeros(C), *tv = zeros(C), *tdg = zeros(C), *tdb = zeros(C), *tdx = zeros(M * C);
    for (int64_t c = 0; c < C; c++) {
        double ax = 0, ady = 0, adyx = 0;
        for (int64_t i = 0; i < M; i++) {
            ax += fabs(x[i * C + c]) / M;
            ady += fabs(dy[i * C + c]);
            adyx += fabs(dy[i * C + c]) * (fabs(x[i * C + c]) + fabs(mr[c])) * invstd[c];
        }
        tm[c] = (float)(4 * U * ax);
        tv[c] = (float)(8 * U * (ax + fabs(mr[c])) * (ax + fabs(mr[c])));
        tdb[c] = (float)(4 * U * ady);
        tdg[c] = (float)(8 * U * adyx);
        for (int64_t i = 0; i < M; i++)
            tdx[i * C + c] = (float)(32 * U * fabs(gamma[c] * invstd[c])
                                     * (fabs(dy[i * C + c]) + ady / M
                                        + (fabs(x[i * C + c]) + fabs(mr[c])) * invstd[c] * adyx / M));
    }
    float *m = zeros(C), *v = zeros(C), *y = zeros(M * C), *dx = zeros(M * C), *dg = zeros(C), *db = zeros(C);
    float *g_m = zeros(C), *g_v = zeros(C), *g_dx = zeros(M * C), *g_dg = zeros(C), *g_db = zeros(C);
    float *g_rdy = zeros(M * C), *g_rdx = zeros(M * C), *g_rdg = zeros(C), *g_rdb = zeros(C);
    for (int relu = 0; relu <= 1; relu++) {
        batchnorm_forward_ref(yr, x, scale, shift, M, C, relu);
        for (int ii = 0; ii < n_isas; ii++)
            for (int t = 1; t <= 2; t++) {
                set_config(isas[ii], t);
                snprintf(where, sizeof where, "%s threads=%d batchnorm M=%lld C=%lld relu=%d",
                         ISA_NAME[isas[ii]], t, (long long)M, (long long)C, relu);
                status_ok(batchnorm_forward(y, x, scale, shift, M, C, relu), "batchnorm_forward");
                check("forward vs _ref", y, yr, NULL, M * C);
                if (relu) {
                    /* the relu's mask inside the backward: bitwise relu_backward on the forward's
                     * output, then the plain backward (its sums and dx in the same order) */
                    relu_backward(g_rdy, dy, y, M * C);
                    status_ok(batchnorm_backward(dx, dg, db, g_rdy, x, mr, invstd, gamma, NULL, NULL, M, C),
                              "batchnorm_backward");
                    status_ok(batchnorm_backward(g_rdx, g_rdg, g_rdb, dy, x, mr, invstd, gamma, scale, shift,
                                                 M, C), "batchnorm_backward relu");
                    check("relu dx vs relu_backward + backward", g_rdx, dx, NULL, M * C);
                    check("relu dgamma vs relu_backward + backward", g_rdg, dg, NULL, C);
                    check("relu dbeta vs relu_backward + backward", g_rdb, db, NULL, C);
                    batchnorm_backward_ref(dx, dg, db, g_rdy, x, mr, invstd, gamma, NULL, NULL, M, C);
                    batchnorm_backward_ref(g_rdx, g_rdg, g_rdb, dy, x, mr, invstd, gamma, scale, shift, M, C);
                    check("relu _ref dx vs relu_backward + _ref", g_rdx, dx, NULL, M * C);
                    check("relu _ref dgamma vs relu_backward + _ref", g_rdg, dg, NULL, C);
                    check("relu _ref dbeta vs relu_backward + _ref", g_rdb, db, NULL, C);
                    continue;
                }
                status_ok(batchnorm_stats(m, v, x, M, C), "batchnorm_stats");
                status_ok(batchnorm_backward(dx, dg, db, dy, x, mr, invstd, gamma, NULL, NULL, M, C), "batchnorm_backward");
                check("mean vs _ref", m, mr, tm, C);
                check("var vs _ref", v, vr, tv, C);
                check("dgamma vs _ref", dg, dgr, tdg, C);
                check("dbeta vs _ref", db, dbr, tdb, C);
                check("dx vs _ref", dx, dxr, tdx, M * C);
                if (ii == 0 && t == 1) {   /* generic, 1 thread: every other run must match it */
                    memcpy(g_m, m, (size_t)C * sizeof(float));
                    memcpy(g_v, v, (size_t)C * sizeof(float));
                    memcpy(g_dg, dg, (size_t)C * sizeof(float));
                    memcpy(g_db, db, (size_t)C * sizeof(float));
                    memcpy(g_dx, dx, (size_t)(M * C) * sizeof(float));
                } else {
                    check("mean vs generic 1 thread", m, g_m, NULL, C);
                    check("var vs generic 1 thread", v, g_v, NULL, C);
                    check("dgamma vs generic 1 thread", dg, g_dg, NULL, C);
                    check("dbeta vs generic 1 thread", db, g_db, NULL, C);
                    check("dx vs generic 1 thread", dx, g_dx, NULL, M * C);
                }
            }
    }
    float *all[] = {x, dy, gamma, beta, mr, vr, scale, shift, invstd, yr, dxr, dgr, dbr, tm, tv, tdg, tdb,
                    tdx, m, v, y, dx, dg, db, g_m, g_v, g_dx, g_dg, g_db, g_rdy, g_rdx, g_rdg, g_rdb};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
}

/* ---- gather ------------------------------------------------------------------------------------- */

static void check_gather(void)
{
    const int64_t N = 50, row = 37, n = 20;
    float *x = randn(N * row), *want = zeros(n * row), *got = zeros(n * row);
    int64_t idx[20];
    for (int64_t i = 0; i < n; i++)
        idx[i] = draw(0, N - 1);
    gather_rows_ref(want, x, 0, idx, n, N, row);
    snprintf(where, sizeof where, "gather_rows n=%lld row=%lld", (long long)n, (long long)row);
    status_ok(gather_rows(got, x, 0, idx, n, N, row), "gather_rows");
    check("vs _ref", got, want, NULL, n * row);
    idx[3] = N;   /* out of range: refused, nothing written */
    n_checks++;
    if (gather_rows(got, x, 0, idx, n, N, row) != PYCONV_EINVAL && n_fails++ < 20)
        printf("FAIL %s: an index out of range was not refused\n", where);
    free(x), free(want), free(got);
}

/* ---- the run ------------------------------------------------------------------------------------ */

/* Seconds, wall clock: C11's timespec_get, or clock() where the C library lacks it (MinGW's
 * msvcrt; the bench runs one thread, so processor time is wall time there). */
static double now(void)
{
#ifdef TIME_UTC
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
#else
    return (double)clock() / CLOCKS_PER_SEC;
#endif
}

static void bench(void)
{
    const int64_t n = 384;
    float *a = randn(n * n), *b = randn(n * n), *c = zeros(n * n);
    for (int ii = 0; ii < n_isas; ii++) {
        set_config(isas[ii], 1);
        sgemm(c, a, b, n, n, n);   /* warm-up */
        int reps = 0;
        const double t0 = now();
        double t;
        do {
            sgemm(c, a, b, n, n, n);
            reps++;
        } while ((t = now() - t0) < 0.5);
        printf("bench: %-8s sgemm %lld^3, 1 thread: %.2f GFLOP/s\n", ISA_NAME[isas[ii]], (long long)n,
               2.0 * n * n * n * reps / t * 1e-9);
    }
    free(a), free(b), free(c);
}

/* ---- activations (act_more.c) ---------------------------------------------------------------- */

typedef struct { const float *x, *dout; float ns, mx, thr; int64_t n; } relu_args;
typedef struct { const float *x, *alpha; const int64_t *idx; int64_t M, A; } prelu_args;

static void run_relu_fwd(float *o, const void *a) { const relu_args *r = a; relu_general_forward(o, r->x, r->n, r->ns, r->mx, r->thr); }
static void run_relu_bwd(float *o, const void *a) { const relu_args *r = a; relu_general_backward(o, r->dout, r->x, r->n, r->ns, r->mx, r->thr); }
static void run_prelu_fwd(float *o, const void *a) { const prelu_args *p = a; prelu_forward(o, p->x, p->alpha, p->idx, p->M, p->A); }

/* The general relu and PReLU's forward: bitwise their _ref everywhere; PReLU's dx bitwise and
 * its dalpha within the bound of a sum of M*A/P terms; elu, selu, softplus and exponential
 * (polynomial exp/expm1/log1p) within 4 ulps of their _ref (the C library's). n above
 * ELEMWISE_PAR_MIN splits over threads. */
static void check_activations(int64_t n)   /* n >= 35 */
{
    float *x = randn(n), *dout = randn(n), *want = zeros(n), *got = zeros(n);
    for (int64_t i = 0; i < n; i++)
        x[i] *= 4.0f;
    x[0] = 0.0f;
    if (n > 3) {
        x[1] = NAN;
        x[2] = -INFINITY;
        x[3] = 6.0f;
    }
    static const float params[][3] = {{0.0f, INFINITY, 0.0f}, {0.2f, INFINITY, 0.0f}, {0.0f, 6.0f, 0.0f},
                                      {0.1f, 4.0f, 1.0f}, {1.5f, INFINITY, -0.5f}};
    for (size_t k = 0; k < sizeof params / sizeof params[0]; k++) {
        relu_args r = {x, dout, params[k][0], params[k][1], params[k][2], n};
        char name[80];
        snprintf(name, sizeof name, "relu_general_forward(%g, %g, %g) n=%lld", r.ns, r.mx, r.thr, (long long)n);
        relu_general_forward_ref(want, x, n, r.ns, r.mx, r.thr);
        check_bitwise_everywhere(&(bitwise_case){name, run_relu_fwd, &r, n}, want);
        snprintf(name, sizeof name, "relu_general_backward(%g, %g, %g) n=%lld", r.ns, r.mx, r.thr, (long long)n);
        relu_general_backward_ref(want, dout, x, n, r.ns, r.mx, r.thr);
        check_bitwise_everywhere(&(bitwise_case){name, run_relu_bwd, &r, n}, want);
    }

    /* PReLU over (M, A) = the first M*A <= n values, alphas shared: P = 7 of A (n >= 35). */
    const int64_t M = 5, P = 7, A = n / M / P * P;
    int64_t *idx = malloc((size_t)A * sizeof(int64_t));
    float *alpha = randn(P), *da = zeros(P), *da_ref = zeros(P), *dx_ref = zeros(M * A), *tol = zeros(P);
    for (int64_t a = 0; a < A; a++)
        idx[a] = a % P;
    prelu_args pa = {x, alpha, idx, M, A};
    char name[80];
    snprintf(name, sizeof name, "prelu_forward M=%lld A=%lld", (long long)M, (long long)A);
    prelu_forward_ref(want, x, alpha, idx, M, A);
    check_bitwise_everywhere(&(bitwise_case){name, run_prelu_fwd, &pa, M * A}, want);
    status_ok(prelu_backward_ref(dx_ref, da_ref, dout, x, alpha, idx, M, A, P), "prelu_backward_ref");
    for (int64_t p = 0; p < P; p++) {
        double s = 0.0;
        for (int64_t i = 0; i < M * A; i++)
            if (idx[i % A] == p && !(x[i] > 0.0f) && !isnan(x[i]) && !isinf(x[i]))
                s += fabs((double)dout[i] * x[i]);
        tol[p] = (float)((double)(M * A / P + 2) * U * s);
    }
    for (int ii = 0; ii < n_isas; ii++)
        for (int t = 1; t <= 2; t++) {
            set_config(isas[ii], t);
            snprintf(where, sizeof where, "%s threads=%d prelu_backward M=%lld A=%lld", ISA_NAME[isas[ii]], t,
                     (long long)M, (long long)A);
            status_ok(prelu_backward(got, da, dout, x, alpha, idx, M, A, P), "prelu_backward");
            check("dx vs _ref", got, dx_ref, NULL, M * A);
            check("dalpha vs _ref", da, da_ref, tol, P);
        }

    /* exp_k / expm1_k / log1p_k: 4 ulps of the _ref (relative; below the normals, of the
     * smallest normal), NaN where the _ref has NaN */
    float *rel = zeros(n);
    void (*fast[4])(float *, const float *, int64_t) = {selu_forward, softplus_forward, exponential_forward, NULL};
    void (*ref[4])(float *, const float *, int64_t) = {selu_forward_ref, softplus_forward_ref, exponential_forward_ref, NULL};
    static const char *const names[4] = {"selu_forward", "softplus_forward", "exponential_forward", "elu_forward"};
    for (int k = 0; k < 4; k++) {
        if (fast[k]) {
            ref[k](want, x, n);
            fast[k](got, x, n);
        } else {
            elu_forward_ref(want, x, n, 0.7f);
            elu_forward(got, x, n, 0.7f);
        }
        for (int64_t i = 0; i < n; i++)
            rel[i] = isinf(want[i]) ? 0.0f : 4.0f * 2.0f * (float)U * fmaxf(fabsf(want[i]), 1.17549435e-38f);
        snprintf(where, sizeof where, "%s n=%lld", names[k], (long long)n);
        check("vs _ref (4 ulps)", got, want, rel, n);
    }
    float *all[] = {x, dout, want, got, alpha, da, da_ref, dx_ref, tol, rel};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
    free(idx);
}

/* softmax_forward (exp_k, act.c's blocks of rows) against its _ref (expf, row by row): each
 * output e_c / sum within (C + 4) ulps of the _ref's -- exp_k's 1.3 ulps and expf's 0.5 in each
 * term, and a sum of C terms that may round differently at each of its C - 1 adds --
 * relative, and NaN where the _ref has NaN (a NaN or +inf in the row); the same bits at every
 * thread count, whatever the block a row falls in (M above ELEMWISE_PAR_MIN / C: threads). */
typedef struct { const float *x; int64_t M, C; } softmax_args;

static void run_softmax(float *o, const void *a)
{
    const softmax_args *s = a;
    softmax_forward(o, s->x, s->M, s->C);
}

static void check_softmax(int64_t M, int64_t C)
{
    const int64_t n = M * C;
    float *x = randn(n), *want = zeros(n), *got = zeros(n), *rel = zeros(n);
    for (int64_t i = 0; i < n; i++)
        x[i] *= 8.0f;   /* exp over ~60 binades, some below the normals */
    if (M > 3 && C > 2) {
        x[0 * C + 1] = NAN;
        x[1 * C + 2] = INFINITY;
        x[2 * C + 0] = -INFINITY;
        x[3 * C + 1] = -200.0f;   /* exp underflows to 0 in both */
    }
    softmax_forward_ref(want, x, M, C);
    for (int64_t i = 0; i < n; i++)
        rel[i] = (float)(C + 4) * 2.0f * (float)U * fmaxf(fabsf(want[i]), 1.17549435e-38f);
    set_config(isas[0], 1);
    softmax_forward(got, x, M, C);
    snprintf(where, sizeof where, "softmax_forward M=%lld C=%lld", (long long)M, (long long)C);
    check("vs _ref ((C + 4) ulps)", got, want, rel, n);
    char name[80];
    snprintf(name, sizeof name, "softmax_forward M=%lld C=%lld", (long long)M, (long long)C);
    softmax_args sa = {x, M, C};
    check_bitwise_everywhere(&(bitwise_case){name, run_softmax, &sa, n}, got);
    float *all[] = {x, want, got, rel};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
}

/* csrc/scratch.c's stack: every kernel above gave its workspaces back (depth 0); nested
 * workspaces are aligned and apart; a call that outgrew the kept block grows it, and the same
 * call again mallocs nothing; above SCRATCH_KEEP_MAX nothing is kept; a size that cannot be had
 * is NULL. (In a build without the arena, the same calls work as plain mallocs.) */
static void check_scratch(void)
{
    snprintf(where, sizeof where, "scratch");
    pyconv_scratch_info s0, s1, s2;
    pyconv_scratch_stats(&s0);
    n_checks++;
    if (s0.depth != 0 && n_fails++ < 20)
        printf("FAIL %s: %lld workspaces not freed by the kernels\n", where, (long long)s0.depth);
    for (int round = 0; round < 2; round++) {   /* the second round: no new block */
        pyconv_scratch_stats(&s1);
        const size_t big = (size_t)(s0.kept > 0 ? s0.kept : 0) + ((size_t)1 << 20);
        float *a = pyconv_scratch_alloc(100), *b = pyconv_scratch_alloc(big), *c = pyconv_scratch_alloc(0);
        if (!a || !b || !c)
            exit(2);
        for (int i = 0; i < 25; i++)
            a[i] = 1.0f;
        memset(b, 0, big);
        n_checks++;
        if ((((uintptr_t)a | (uintptr_t)b | (uintptr_t)c) % 64 || a[24] != 1.0f) && n_fails++ < 20)
            printf("FAIL %s: workspaces misaligned or overlapping\n", where);
        pyconv_scratch_free(c), pyconv_scratch_free(b), pyconv_scratch_free(a);
        pyconv_scratch_free(NULL);
        pyconv_scratch_stats(&s2);
        n_checks++;
        if (s2.arena && (s2.depth != 0 || s2.kept < (int64_t)big + 128
                         || (round == 1 && s2.blocks != s1.blocks)) && n_fails++ < 20)
            printf("FAIL %s round %d: depth %lld, kept %lld, blocks %lld -> %lld\n", where, round,
                   (long long)s2.depth, (long long)s2.kept, (long long)s1.blocks, (long long)s2.blocks);
    }
    if (s2.arena) {   /* past the cap: a block of its own each time, none kept */
        for (int i = 0; i < 2; i++) {
            pyconv_scratch_stats(&s1);
            void *p = pyconv_scratch_alloc((size_t)s1.keep_max + 64);
            pyconv_scratch_free(p);
            pyconv_scratch_stats(&s2);
            n_checks++;
            if (p && (s2.blocks != s1.blocks + 1 || s2.kept != s1.kept || s2.kept > s2.keep_max)
                && n_fails++ < 20)
                printf("FAIL %s: past the cap, blocks %lld -> %lld, kept %lld\n", where,
                       (long long)s1.blocks, (long long)s2.blocks, (long long)s2.kept);
        }
    }
    n_checks++;
    if ((pyconv_scratch_alloc(SIZE_MAX - 8) || pyconv_scratch_alloc((size_t)1 << 62)) && n_fails++ < 20)
        printf("FAIL %s: an impossible size was served\n", where);
}

int main(int argc, char **argv)
{
    for (int i = 0; i < PYCONV_ISA_COUNT; i++)
        if (pyconv_isa_available(i))
            isas[n_isas++] = i;
    printf("kernel_check: ISAs %s", ISA_NAME[isas[0]]);
    for (int i = 1; i < n_isas; i++)
        printf(", %s", ISA_NAME[isas[i]]);
    printf(" (detected: %s); OpenMP %s\n", ISA_NAME[pyconv_isa_detected()], pyconv_has_openmp() ? "on" : "off");

    /* GEMM: tile edges of every ISA, KC = 320 +- 1, several depth blocks. */
    static const int64_t gemm_shapes[][3] = {
        {1, 1, 1}, {3, 7, 5}, {11, 9, 320}, {12, 8, 321}, {13, 17, 33}, {25, 15, 700},
        {5, 33, 9}, {24, 16, 64}, {37, 31, 257}, {145, 40, 20}, {3, 0, 5}, {0, 4, 4}, {4, 4, 0}};
    for (size_t i = 0; i < sizeof gemm_shapes / sizeof gemm_shapes[0]; i++)
        check_sgemm(gemm_shapes[i][0], gemm_shapes[i][1], gemm_shapes[i][2]);
    for (int i = 0; i < 4; i++)
        check_sgemm(draw(1, 60), draw(1, 70), draw(1, 400));
    check_sgemm(9, 64, 576);      /* from POOL_MIN_FLOPS: on the pool, fewer tiles than 4 a thread */
    check_sgemm(121, 64, 288);    /* the tutorial's conv2 at batch 1 */
    check_sgemm(5, 100, 600);     /* one MR tile: the pool splits N */

    /* N <= DENSE_ROWS_MAX: dense_forward_rows, one column block, a tail block, and blocks
     * split over threads (2 N C K >= DENSE_ROWS_PAR_MIN). */
    static const int64_t dense_shapes[][3] = {{1, 1, 1}, {13, 33, 9}, {32, 100, 24}, {7, 330, 17},
                                              {1, 784, 128}, {3, 50, 65}, {4, 1000, 130}, {2, 7, 64},
                                              {16, 576, 64}, {9, 330, 96},    /* W read in place */
                                              {256, 784, 128}, {70, 300, 10}};  /* on the pool */
    for (size_t i = 0; i < sizeof dense_shapes / sizeof dense_shapes[0]; i++)
        check_dense(dense_shapes[i][0], dense_shapes[i][1], dense_shapes[i][2], (int)(i % 2));

    /* Convolutions: N H W C K R S stride_h stride_w dil_h dil_w pad_top pad_left. */
    static const conv2d_shape convs[] = {
        {2, 7, 7, 3, 5, 3, 3, 0, 0, 1, 1, 1, 1, 1, 1},      /* odd channels: packed paths */
        {2, 9, 9, 8, 16, 3, 3, 0, 0, 2, 2, 1, 1, 0, 0},     /* C, K multiples of 8: indirect B, scatter */
        {1, 6, 5, 16, 32, 2, 3, 0, 0, 1, 1, 2, 2, 1, 2},    /* dilation, uneven padding */
        {3, 12, 12, 1, 32, 5, 5, 0, 0, 1, 1, 1, 1, 2, 2},   /* the first layer: one input channel */
        {2, 8, 8, 64, 64, 3, 3, 0, 0, 1, 1, 1, 1, 1, 1},    /* 9 x 64 = 576 deep: several KC blocks */
        {2, 5, 5, 24, 40, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0},    /* 1x1 */
        {1, 4, 4, 330, 8, 2, 2, 0, 0, 1, 1, 1, 1, 0, 0},    /* C > KC: blocks inside one tap */
        {1, 3, 3, 4, 6, 3, 3, 0, 0, 1, 1, 1, 1, 0, 0},      /* kernel = input: one output pixel */
        {1, 5, 5, 64, 64, 3, 3, 0, 0, 1, 1, 1, 1, 0, 0},    /* conv3 at batch 1: the filter in place */
        /* C < SMALL_C: the filter gradient's direct loop nest (conv2d_smallc_loops.h) */
        {2, 28, 28, 1, 32, 3, 3, 0, 0, 1, 1, 1, 1, 0, 0},   /* the tutorial's conv1: 4 chunks */
        {2, 11, 9, 3, 21, 3, 3, 0, 0, 2, 1, 1, 2, 1, 2},    /* K tail past 16, 8 and 4; borders */
        {1, 9, 9, 4, 37, 4, 4, 0, 0, 1, 1, 1, 1, 2, 1},     /* R*S*C = 64: several tiles */
        {40, 6, 6, 2, 7, 3, 3, 0, 0, 1, 1, 1, 1, 1, 1},     /* K < every vector; 4 chunks */
        {1, 5, 40, 1, 3, 1, 7, 0, 0, 1, 3, 1, 1, 0, 3},     /* column stride 3, 1x7 */
    };
    for (size_t i = 0; i < sizeof convs / sizeof convs[0]; i++)
        check_conv(convs[i], (int)(i % 2), 1);
    for (int i = 0; i < 4; i++) {
        conv2d_shape s = {draw(1, 3), draw(3, 10), draw(3, 10), draw(1, 20), draw(1, 20), draw(1, 3),
                          draw(1, 3), 0, 0, draw(1, 2), draw(1, 2), draw(1, 2), draw(1, 2), draw(0, 1),
                          draw(0, 1)};
        check_conv(s, i % 2, 1);
    }
    /* Depthwise (K = C * M) and grouped convolutions: channel tails past every vector width
     * (4, 8, 16) and register block, M > 1, interior and border pixels, strides, dilations. */
    static const conv2d_shape dws[] = {
        {2, 9, 9, 67, 67, 3, 3, 0, 0, 1, 1, 1, 1, 1, 1},    /* full blocks and a tail of 3 */
        {1, 7, 10, 5, 15, 3, 2, 0, 0, 2, 1, 1, 2, 1, 0},    /* M = 3, stride, dilation */
        {3, 30, 30, 24, 24, 3, 3, 0, 0, 1, 1, 1, 1, 1, 1},  /* several filter-gradient chunks */
        {1, 4, 4, 8, 8, 4, 4, 0, 0, 1, 1, 1, 1, 0, 0},      /* kernel = input */
    };
    for (size_t i = 0; i < sizeof dws / sizeof dws[0]; i++)
        check_conv(dws[i], (int)(i % 2), 0);
    static const conv2d_shape grouped[] = {
        {2, 7, 7, 6, 9, 3, 3, 0, 0, 1, 1, 1, 1, 1, 1},      /* 3 groups of 2 -> 3 */
        {1, 6, 6, 32, 16, 2, 2, 0, 0, 2, 2, 1, 1, 0, 0},    /* 4 groups of 8 -> 4 */
    };
    check_conv(grouped[0], 1, 3);
    check_conv(grouped[1], 0, 4);

    static const pool2d_shape pools[] = {
        {2, 8, 8, 5, 0, 0, 2, 2, 2, 2, 0, 0},
        {1, 9, 7, 33, 0, 0, 3, 3, 2, 2, 1, 1},
        {2, 6, 6, 130, 0, 0, 3, 2, 1, 2, 0, 1},   /* C > POOL_CB: several channel blocks */
        {1, 26, 26, 32, 0, 0, 2, 2, 2, 2, 0, 0},  /* the tutorial's first pooling at batch 1 */
    };
    for (size_t i = 0; i < sizeof pools / sizeof pools[0]; i++)
        check_pool(pools[i]);
    check_depthwise_pool(2, 3, 4, 12, 3);
    check_pooled_filter((conv2d_shape){2, 28, 28, 1, 32, 3, 3, 0, 0, 1, 1, 1, 1, 0, 0}, 2, 0);   /* the tutorial */
    check_pooled_filter((conv2d_shape){1, 11, 9, 3, 21, 3, 3, 0, 0, 1, 1, 1, 1, 1, 1}, 3, 1);    /* K tail, padded */
    check_pooled_filter((conv2d_shape){3, 9, 9, 2, 40, 2, 2, 0, 0, 2, 2, 1, 1, 0, 0}, 2, 0);     /* strides, a 2x2 filter */

    check_optim(1000);
    check_optim(40000);   /* above OPTIM_PAR_MIN: split over threads */
    check_batchnorm(1, 3);
    check_batchnorm(129, 17);
    check_batchnorm(700, 64);
    check_gather();
    check_activations(40);
    check_activations(40000);   /* above ELEMWISE_PAR_MIN: split over threads */
    check_softmax(1, 10);       /* the tutorial's batch-1 output */
    check_softmax(257, 10);     /* 102 rows a block: three blocks, the last of 53 */
    check_softmax(5, 1500);     /* rows longer than a block */
    check_softmax(4000, 10);    /* above ELEMWISE_PAR_MIN: blocks split over threads */
    check_scratch();

    if (argc > 1 && strcmp(argv[1], "--bench") == 0)
        bench();
    printf("kernel_check: %d checks, %d failed\n", n_checks, n_fails);
    return n_fails ? 1 : 0;
}
