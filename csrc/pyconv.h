/* pyconv.h -- the whole C API of pyconv's kernels.
 *
 * Layout rules (fixed for every kernel):
 *   tensors  NHWC float32, C-contiguous: inp (N,H,W,C), out (N,P,Q,K)
 *   filters  HWIO: filt (R,S,C,K)
 *   dense    x (N,I), weights (I,O), out (N,O)
 *
 * Size names, fixed once and never reused for something else:
 *   N batch   H,W input height/width   C input channels
 *   K output channels   R,S filter (or pool window) height/width   P,Q output height/width
 *   stride_h/stride_w, dil_h/dil_w, pad_top/pad_left (padding before the first row/column;
 *   padding after is implied by P and Q).
 *
 * Argument order: outputs first, then inputs, then sizes. Backward: gradients out, then dout,
 * then the tensors saved from forward. Every kernel OVERWRITES its outputs (never accumulates).
 *
 * Return codes: every kernel that can fail returns an int status; nothing here prints, exits or
 * aborts. The Cython boundary (pyconv/_kernels.pyx) turns a status into a Python exception.
 */
#ifndef PYCONV_H
#define PYCONV_H

#include <stddef.h>
#include <stdint.h>

enum {
    PYCONV_OK = 0,
    PYCONV_ENOMEM = 1,   /* a workspace allocation failed */
    PYCONV_EINVAL = 2,   /* sizes the kernel cannot take (caught in Python first) */
    PYCONV_EISA = 3,     /* the requested ISA is not supported by this CPU */
};

/* ---- configuration: config.c ---------------------------------------------------------- */
enum { PYCONV_ISA_GENERIC = 0, PYCONV_ISA_AVX2 = 1, PYCONV_ISA_AVX512 = 2 };

int pyconv_isa_detected(void);          /* best ISA this CPU supports */
int pyconv_isa_active(void);            /* the ISA the kernels use now */
int pyconv_isa_set(int isa);            /* PYCONV_EISA if the CPU lacks it */
int pyconv_num_threads(void);           /* threads a kernel may use */
void pyconv_set_num_threads(int n);     /* n >= 1, checked by the caller */
int pyconv_has_openmp(void);
const char *pyconv_compiler(void);

/* ---- elementwise: act.c ------------------------------------------------------------------ */
/* x, out, dx, dout: n floats. out may alias x; dx may alias dout. */
void relu_forward(float *out, const float *x, int64_t n);
void relu_backward(float *dx, const float *dout, const float *out, int64_t n); /* out: forward's */
void sigmoid_forward(float *out, const float *x, int64_t n);
void sigmoid_backward(float *dx, const float *dout, const float *out, int64_t n);
void tanh_forward(float *out, const float *x, int64_t n);
void tanh_backward(float *dx, const float *dout, const float *out, int64_t n);
/* Rows of C: softmax over the last axis. x, out (M,C). */
void softmax_forward(float *out, const float *x, int64_t M, int64_t C);
void softmax_backward(float *dx, const float *dout, const float *out, int64_t M, int64_t C);
/* Fused sparse softmax cross-entropy: loss (M) per row, dlogits (M,C) = softmax - onehot
 * (unscaled; NULL to skip). labels (M) int32 in [0,C). Stable: subtracts the row max. */
void softmax_xent_forward_backward(float *loss, float *dlogits, const float *logits,
                                   const int32_t *labels, int64_t M, int64_t C);
/* bias: out (M,C) = x + b (broadcast over rows); db (C) = column sums of dout. */
void bias_add_forward(float *out, const float *x, const float *b, int64_t M, int64_t C);
void bias_add_backward(float *db, const float *dout, int64_t M, int64_t C);

#endif /* PYCONV_H */
