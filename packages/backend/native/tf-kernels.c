// The fused kernels of @selfpatch/nn's contract that pay on TensorFlow (GELU, LayerNorm, AdamW,
// EMA, the attention's scaled softmax; forward and backward where they have one) as TensorFlow
// CPU ops, for the native `tensorflow` backend (tfjs-node). Without them each of these ops runs
// as a chain of 5-15 stock TF kernels per call, each a full pass over memory: in a ViT-Ti/16
// DINO+SelfPatch step those chains took most of the time not spent in matmuls (10 558 kernels
// per step before, 4 655 with these; bench/results/latest-step.md for the step time).
//
// The arithmetic is the wasm kernels' own (../csrc, built here through include/wasm_simd128.h),
// so the native and wasm backends compute the same values. Ops and kernels are registered through
// TensorFlow's stable C API (tensorflow/c/ops.h, kernels.h; in libtensorflow_framework), which
// the libtensorflow of tfjs-node and tfjs-node-gpu both export. The file is also a Node-API
// addon: loading it (src/tf-kernels-node.ts) registers the ops in the process's TensorFlow,
// where tfjs-node's eager `executeOp` finds them by name. Built by scripts/build-tf-kernels.mjs.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ops.h and kernels.h declare their handle types as bare structs (written for C++); name them for C.
typedef struct TF_OpDefinitionBuilder TF_OpDefinitionBuilder;
typedef struct TF_ShapeInferenceContext TF_ShapeInferenceContext;
typedef struct TF_ShapeHandle TF_ShapeHandle;
typedef struct TF_DimensionHandle TF_DimensionHandle;
typedef struct TF_KernelBuilder TF_KernelBuilder;
typedef struct TF_OpKernelConstruction TF_OpKernelConstruction;
typedef struct TF_OpKernelContext TF_OpKernelContext;
#include "tensorflow/c/kernels.h"
#include "tensorflow/c/ops.h"
#include "tensorflow/c/tf_status.h"
#include "tensorflow/c/tf_tensor.h"

// The wasm sources mark their entry points for export from the module; here they are plain
// (hidden) functions.
#define export_name(name) unused
#include "../csrc/adamw.c"
#include "../csrc/ema.c"
#include "../csrc/layer-norm.c"
#include "../csrc/softmax.c"
#undef export_name
#include "parallel.h"

// Work per thread below which a call is not split (floats).
#define GRAIN (1 << 16)

// tf-gelu.c (built with wider vectors).
void sp_gelu_fwd(const float *x, float *y, int64_t n);
void sp_gelu_bwd(const float *dy, const float *x, float *dx, int64_t n);

// ---- helpers -------------------------------------------------------------------------------------

#define MAX_DIMS 8

typedef struct {
  TF_Tensor *t;
  int nd;
  int64_t dims[MAX_DIMS];
  int64_t n;
} In;

static int fail(TF_OpKernelContext *ctx, TF_Status *s, const char *msg) {
  TF_SetStatus(s, TF_INVALID_ARGUMENT, msg);
  TF_OpKernelContext_Failure(ctx, s);
  return 0;
}

// Reads float input i; 0 (with the failure set on ctx) when absent or not float32.
static int get_in(TF_OpKernelContext *ctx, TF_Status *s, int i, In *in) {
  in->t = NULL;
  TF_GetInput(ctx, i, &in->t, s);
  if (TF_GetCode(s) != TF_OK) {
    TF_OpKernelContext_Failure(ctx, s);
    return 0;
  }
  if (TF_TensorType(in->t) != TF_FLOAT) return fail(ctx, s, "selfpatch kernel: expected float32 input");
  in->nd = TF_NumDims(in->t);
  if (in->nd > MAX_DIMS) return fail(ctx, s, "selfpatch kernel: more than 8 dimensions");
  in->n = 1;
  for (int d = 0; d < in->nd; d++) {
    in->dims[d] = TF_Dim(in->t, d);
    in->n *= in->dims[d];
  }
  return 1;
}

static int same_shape(const In *a, const In *b) {
  if (a->nd != b->nd) return 0;
  for (int d = 0; d < a->nd; d++)
    if (a->dims[d] != b->dims[d]) return 0;
  return 1;
}

static float *data(const In *in) { return (float *)TF_TensorData(in->t); }

static TF_Tensor *out_like(TF_OpKernelContext *ctx, TF_Status *s, int i, const int64_t *dims, int nd, int64_t n) {
  TF_Tensor *t = TF_AllocateOutput(ctx, i, TF_FLOAT, dims, nd, (size_t)n * sizeof(float), s);
  if (TF_GetCode(s) != TF_OK) {
    TF_OpKernelContext_Failure(ctx, s);
    return NULL;
  }
  return t;
}

static void release(In *ins, int count) {
  for (int i = 0; i < count; i++)
    if (ins[i].t) TF_DeleteTensor(ins[i].t);
}

// The wasm entry points take lengths padded to a block (4 floats for AdamW and EMA);
// TF's buffers are exact, so a tail shorter than a block goes through a zero-padded copy.
#define BLOCK_MAX 4
// Copies len (< block) floats of src+off into a zero-padded block.
static const float *pad_in(float *buf, const float *src, int64_t off, int64_t len) {
  memset(buf, 0, BLOCK_MAX * sizeof(float));
  memcpy(buf, src + off, (size_t)len * sizeof(float));
  return buf;
}

// ---- elementwise ops ------------------------------------------------------------------------------

static void gelu_compute(void *k, TF_OpKernelContext *ctx) {
  (void)k;
  TF_Status *s = TF_NewStatus();
  In x;
  if (get_in(ctx, s, 0, &x)) {
    TF_Tensor *y = out_like(ctx, s, 0, x.dims, x.nd, x.n);
    if (y) {
      sp_gelu_fwd(data(&x), (float *)TF_TensorData(y), x.n);
      TF_DeleteTensor(y);
    }
  }
  release(&x, 1);
  TF_DeleteStatus(s);
}

static void gelu_grad_compute(void *k, TF_OpKernelContext *ctx) {
  (void)k;
  TF_Status *s = TF_NewStatus();
  In in[2] = {{0}};
  if (get_in(ctx, s, 0, &in[0]) && get_in(ctx, s, 1, &in[1])) {
    if (!same_shape(&in[0], &in[1])) {
      fail(ctx, s, "SelfPatchGeluGrad: dy and x differ in shape");
    } else {
      TF_Tensor *dx = out_like(ctx, s, 0, in[1].dims, in[1].nd, in[1].n);
      if (dx) {
        sp_gelu_bwd(data(&in[0]), data(&in[1]), (float *)TF_TensorData(dx), in[1].n);
        TF_DeleteTensor(dx);
      }
    }
  }
  release(in, 2);
  TF_DeleteStatus(s);
}

typedef struct {
  const float *p, *g, *m, *v;
  float *po, *mo, *vo;
  float decay, b1, c1, b2, c2, eps, bc2, step;
} AdamArgs;

// Elements [b, e) (b a multiple of 4; a tail shorter than 4 through a padded copy).
static void adamw_part(void *ctx, int64_t b, int64_t e) {
  const AdamArgs *a = (const AdamArgs *)ctx;
  int64_t bulk = b + (e - b) / 4 * 4;
  if (bulk > b)
    adamw_step(a->p + b, a->g + b, a->m + b, a->v + b, a->po + b, a->mo + b, a->vo + b, (int)(bulk - b), a->decay, a->b1, a->c1, a->b2, a->c2, a->bc2,
               a->eps, a->step);
  if (bulk < e) {
    float bp[BLOCK_MAX], bg[BLOCK_MAX], bm[BLOCK_MAX], bv[BLOCK_MAX], op[BLOCK_MAX], om[BLOCK_MAX], ov[BLOCK_MAX];
    int64_t len = e - bulk;
    pad_in(bp, a->p, bulk, len), pad_in(bg, a->g, bulk, len), pad_in(bm, a->m, bulk, len), pad_in(bv, a->v, bulk, len);
    adamw_step(bp, bg, bm, bv, op, om, ov, 4, a->decay, a->b1, a->c1, a->b2, a->c2, a->bc2, a->eps, a->step);
    memcpy(a->po + bulk, op, (size_t)len * sizeof(float));
    memcpy(a->mo + bulk, om, (size_t)len * sizeof(float));
    memcpy(a->vo + bulk, ov, (size_t)len * sizeof(float));
  }
}

// scalars: [decay, beta1, 1 - beta1, beta2, 1 - beta2, eps, bc2_sqrt, step_size] (inputs, not
// attrs: they change every step, and eager TensorFlow caches one kernel instance per distinct
// attribute set). The complements come from the caller, rounded once from double as the wasm
// kernel's and the composite's are.
static void adamw_compute(void *k, TF_OpKernelContext *ctx) {
  (void)k;
  TF_Status *s = TF_NewStatus();
  In in[5] = {{0}};
  int ok = 1;
  for (int i = 0; i < 5 && ok; i++) ok = get_in(ctx, s, i, &in[i]);
  if (ok) {
    if (!same_shape(&in[0], &in[1]) || !same_shape(&in[0], &in[2]) || !same_shape(&in[0], &in[3])) {
      fail(ctx, s, "SelfPatchAdamW: param, grad, exp_avg and exp_avg_sq differ in shape");
    } else if (in[4].n != 8) {
      fail(ctx, s, "SelfPatchAdamW: scalars must hold 8 values");
    } else {
      TF_Tensor *o[3] = {0};
      for (int i = 0; i < 3; i++) o[i] = out_like(ctx, s, i, in[0].dims, in[0].nd, in[0].n);
      if (o[0] && o[1] && o[2]) {
        const float *c = data(&in[4]);
        AdamArgs args = {data(&in[0]), data(&in[1]), data(&in[2]), data(&in[3]), (float *)TF_TensorData(o[0]), (float *)TF_TensorData(o[1]),
                         (float *)TF_TensorData(o[2]), c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]};
        sp_parallel(in[0].n, GRAIN, 4, adamw_part, &args);
      }
      for (int i = 0; i < 3; i++)
        if (o[i]) TF_DeleteTensor(o[i]);
    }
  }
  release(in, 5);
  TF_DeleteStatus(s);
}

typedef struct {
  const float *t, *s;
  float *out;
  float m, cm;
} EmaArgs;

static void ema_part(void *ctx, int64_t b, int64_t e) {
  const EmaArgs *a = (const EmaArgs *)ctx;
  int64_t bulk = b + (e - b) / 4 * 4;
  if (bulk > b) ema_step(a->t + b, a->s + b, a->out + b, (int)(bulk - b), a->m, a->cm);
  if (bulk < e) {
    float bt[BLOCK_MAX], bs[BLOCK_MAX], bo[BLOCK_MAX];
    pad_in(bt, a->t, bulk, e - bulk), pad_in(bs, a->s, bulk, e - bulk);
    ema_step(bt, bs, bo, 4, a->m, a->cm);
    memcpy(a->out + bulk, bo, (size_t)(e - bulk) * sizeof(float));
  }
}

// momentum: the input [m, 1 - m] (it follows a schedule; see adamw_compute).
static void ema_compute(void *k, TF_OpKernelContext *ctx) {
  (void)k;
  TF_Status *s = TF_NewStatus();
  In in[3] = {{0}};
  if (get_in(ctx, s, 0, &in[0]) && get_in(ctx, s, 1, &in[1]) && get_in(ctx, s, 2, &in[2])) {
    if (!same_shape(&in[0], &in[1])) {
      fail(ctx, s, "SelfPatchEma: teacher and student differ in shape");
    } else if (in[2].n != 2) {
      fail(ctx, s, "SelfPatchEma: momentum must hold [m, 1 - m]");
    } else {
      TF_Tensor *o = out_like(ctx, s, 0, in[0].dims, in[0].nd, in[0].n);
      if (o) {
        EmaArgs args = {data(&in[0]), data(&in[1]), (float *)TF_TensorData(o), data(&in[2])[0], data(&in[2])[1]};
        sp_parallel(in[0].n, GRAIN, 4, ema_part, &args);
        TF_DeleteTensor(o);
      }
    }
  }
  release(in, 3);
  TF_DeleteStatus(s);
}

// ---- row ops (last axis) ---------------------------------------------------------------------------

typedef struct {
  float value; // eps or scale
} FloatAttr;

static void *create_with(TF_OpKernelConstruction *c, const char *name) {
  FloatAttr *a = (FloatAttr *)calloc(1, sizeof(FloatAttr));
  TF_Status *s = TF_NewStatus();
  TF_OpKernelConstruction_GetAttrFloat(c, name, &a->value, s);
  if (TF_GetCode(s) != TF_OK) TF_OpKernelConstruction_Failure(c, s);
  TF_DeleteStatus(s);
  return a;
}
static void *create_eps(TF_OpKernelConstruction *c) { return create_with(c, "eps"); }
static void *create_scale(TF_OpKernelConstruction *c) { return create_with(c, "scale"); }
static void delete_attr(void *a) { free(a); }

static int64_t last_dim(const In *x) { return x->nd == 0 ? 1 : x->dims[x->nd - 1]; }

// Rows of c floats per thread below which a row op is not split.
static int64_t row_grain(int64_t c) { return c >= GRAIN ? 1 : GRAIN / c; }

typedef struct {
  const float *x, *w, *b;
  float *y;
  int64_t c;
  float k; // eps or scale
} RowArgs;

static void layer_norm_part(void *ctx, int64_t r0, int64_t r1) {
  const RowArgs *a = (const RowArgs *)ctx;
  layer_norm_fwd(a->x + r0 * a->c, a->w, a->b, a->y + r0 * a->c, (int)(r1 - r0), (int)a->c, a->k);
}

static void softmax_part(void *ctx, int64_t r0, int64_t r1) {
  const RowArgs *a = (const RowArgs *)ctx;
  scaled_softmax(a->x + r0 * a->c, a->y + r0 * a->c, (int)(r1 - r0), (int)a->c, a->k);
}

// x = p, w = dp.
static void softmax_grad_part(void *ctx, int64_t r0, int64_t r1) {
  const RowArgs *a = (const RowArgs *)ctx;
  softmax_grad(a->x + r0 * a->c, a->w + r0 * a->c, a->y + r0 * a->c, (int)(r1 - r0), (int)a->c, a->k);
}

static void layer_norm_compute(void *k, TF_OpKernelContext *ctx) {
  float eps = ((FloatAttr *)k)->value;
  TF_Status *s = TF_NewStatus();
  In in[3] = {{0}};
  if (get_in(ctx, s, 0, &in[0]) && get_in(ctx, s, 1, &in[1]) && get_in(ctx, s, 2, &in[2])) {
    int64_t c = last_dim(&in[0]);
    if (in[1].nd != 1 || in[1].n != c || in[2].nd != 1 || in[2].n != c) {
      fail(ctx, s, "SelfPatchLayerNorm: weight and bias must be vectors of the last axis' length");
    } else {
      TF_Tensor *y = out_like(ctx, s, 0, in[0].dims, in[0].nd, in[0].n);
      if (y) {
        RowArgs args = {data(&in[0]), data(&in[1]), data(&in[2]), (float *)TF_TensorData(y), c, eps};
        if (c > 0) sp_parallel(in[0].n / c, row_grain(c), 1, layer_norm_part, &args);
        TF_DeleteTensor(y);
      }
    }
  }
  release(in, 3);
  TF_DeleteStatus(s);
}

static void layer_norm_grad_compute(void *k, TF_OpKernelContext *ctx) {
  float eps = ((FloatAttr *)k)->value;
  TF_Status *s = TF_NewStatus();
  In in[3] = {{0}};
  if (get_in(ctx, s, 0, &in[0]) && get_in(ctx, s, 1, &in[1]) && get_in(ctx, s, 2, &in[2])) {
    int64_t c = last_dim(&in[1]);
    if (!same_shape(&in[0], &in[1])) {
      fail(ctx, s, "SelfPatchLayerNormGrad: dy and x differ in shape");
    } else if (in[2].nd != 1 || in[2].n != c) {
      fail(ctx, s, "SelfPatchLayerNormGrad: weight must be a vector of the last axis' length");
    } else {
      TF_Tensor *dx = out_like(ctx, s, 0, in[1].dims, in[1].nd, in[1].n);
      TF_Tensor *dw = dx ? out_like(ctx, s, 1, in[2].dims, 1, c) : NULL;
      TF_Tensor *db = dw ? out_like(ctx, s, 2, in[2].dims, 1, c) : NULL;
      if (db) {
        float *dwp = (float *)TF_TensorData(dw), *dbp = (float *)TF_TensorData(db);
        memset(dwp, 0, (size_t)c * sizeof(float));
        memset(dbp, 0, (size_t)c * sizeof(float));
        if (c > 0)
          layer_norm_bwd(data(&in[0]), data(&in[1]), data(&in[2]), (float *)TF_TensorData(dx), dwp, dbp, (int)(in[1].n / c), (int)c, eps);
      }
      if (dx) TF_DeleteTensor(dx);
      if (dw) TF_DeleteTensor(dw);
      if (db) TF_DeleteTensor(db);
    }
  }
  release(in, 3);
  TF_DeleteStatus(s);
}

static void scaled_softmax_compute(void *k, TF_OpKernelContext *ctx) {
  float scale = ((FloatAttr *)k)->value;
  TF_Status *s = TF_NewStatus();
  In x;
  if (get_in(ctx, s, 0, &x)) {
    TF_Tensor *p = out_like(ctx, s, 0, x.dims, x.nd, x.n);
    int64_t c = last_dim(&x);
    if (p) {
      RowArgs args = {data(&x), NULL, NULL, (float *)TF_TensorData(p), c, scale};
      if (c > 0) sp_parallel(x.n / c, row_grain(c), 1, softmax_part, &args);
      TF_DeleteTensor(p);
    }
  }
  release(&x, 1);
  TF_DeleteStatus(s);
}

static void softmax_grad_compute(void *k, TF_OpKernelContext *ctx) {
  float scale = ((FloatAttr *)k)->value;
  TF_Status *s = TF_NewStatus();
  In in[2] = {{0}};
  if (get_in(ctx, s, 0, &in[0]) && get_in(ctx, s, 1, &in[1])) {
    if (!same_shape(&in[0], &in[1])) {
      fail(ctx, s, "SelfPatchSoftmaxGrad: p and dp differ in shape");
    } else {
      TF_Tensor *ds = out_like(ctx, s, 0, in[0].dims, in[0].nd, in[0].n);
      int64_t c = last_dim(&in[0]);
      if (ds) {
        RowArgs args = {data(&in[0]), data(&in[1]), NULL, (float *)TF_TensorData(ds), c, scale};
        if (c > 0) sp_parallel(in[0].n / c, row_grain(c), 1, softmax_grad_part, &args);
        TF_DeleteTensor(ds);
      }
    }
  }
  release(in, 2);
  TF_DeleteStatus(s);
}

// ---- registration ---------------------------------------------------------------------------------

typedef struct {
  const char *name;
  const char *inputs[5];
  const char *outputs[3];
  const char *attr;
  void *(*create)(TF_OpKernelConstruction *);
  void (*compute)(void *, TF_OpKernelContext *);
  void (*destroy)(void *);
} OpSpec;

static const OpSpec OPS[] = {
    {"SelfPatchGelu", {"x: float"}, {"y: float"}, NULL, NULL, gelu_compute, NULL},
    {"SelfPatchGeluGrad", {"dy: float", "x: float"}, {"dx: float"}, NULL, NULL, gelu_grad_compute, NULL},
    {"SelfPatchLayerNorm", {"x: float", "weight: float", "bias: float"}, {"y: float"}, "eps: float", create_eps, layer_norm_compute, delete_attr},
    {"SelfPatchLayerNormGrad",
     {"dy: float", "x: float", "weight: float"},
     {"dx: float", "dweight: float", "dbias: float"},
     "eps: float",
     create_eps,
     layer_norm_grad_compute,
     delete_attr},
    {"SelfPatchAdamW",
     {"param: float", "grad: float", "exp_avg: float", "exp_avg_sq: float", "scalars: float"},
     {"param_out: float", "exp_avg_out: float", "exp_avg_sq_out: float"},
     NULL,
     NULL,
     adamw_compute,
     NULL},
    {"SelfPatchEma", {"teacher: float", "student: float", "momentum: float"}, {"y: float"}, NULL, NULL, ema_compute, NULL},
    {"SelfPatchScaledSoftmax", {"x: float"}, {"p: float"}, "scale: float", create_scale, scaled_softmax_compute, delete_attr},
    {"SelfPatchSoftmaxGrad", {"p: float", "dp: float"}, {"ds: float"}, "scale: float", create_scale, softmax_grad_compute, delete_attr},
};

// Only eager execution runs these ops, which needs no static shapes.
static void unknown_shape(TF_ShapeInferenceContext *ctx, TF_Status *s) { TF_ShapeInferenceContextSetUnknownShape(ctx, s); }

// Registers every op and its CPU kernel; returns an error message or NULL. Ops already registered
// (the addon loaded twice) are not an error.
static const char *register_all(char *err, size_t err_len) {
  TF_Status *s = TF_NewStatus();
  const char *result = NULL;
  for (size_t i = 0; i < sizeof OPS / sizeof OPS[0] && !result; i++) {
    const OpSpec *op = &OPS[i];
    TF_OpDefinitionBuilder *b = TF_NewOpDefinitionBuilder(op->name);
    for (int j = 0; j < 5 && op->inputs[j]; j++) TF_OpDefinitionBuilderAddInput(b, op->inputs[j]);
    for (int j = 0; j < 3 && op->outputs[j]; j++) TF_OpDefinitionBuilderAddOutput(b, op->outputs[j]);
    if (op->attr) TF_OpDefinitionBuilderAddAttr(b, op->attr);
    TF_OpDefinitionBuilderSetShapeInferenceFunction(b, unknown_shape);
    TF_RegisterOpDefinition(b, s); // takes ownership of b
    if (TF_GetCode(s) == TF_ALREADY_EXISTS) {
      TF_SetStatus(s, TF_OK, "");
      continue;
    }
    if (TF_GetCode(s) != TF_OK) {
      snprintf(err, err_len, "registering op %s: %s", op->name, TF_Message(s));
      result = err;
      break;
    }
    TF_KernelBuilder *kb = TF_NewKernelBuilder(op->name, "CPU", op->create, op->compute, op->destroy);
    TF_RegisterKernelBuilder(op->name, kb, s); // takes ownership of kb
    if (TF_GetCode(s) != TF_OK) {
      snprintf(err, err_len, "registering the CPU kernel of %s: %s", op->name, TF_Message(s));
      result = err;
    }
  }
  TF_DeleteStatus(s);
  return result;
}

// ---- Node-API entry ---------------------------------------------------------------------------------
// Declared here rather than from <node_api.h> so that building needs no Node headers; these are
// Node-API's stable C ABI.
typedef struct napi_env__ *napi_env;
typedef struct napi_value__ *napi_value;
extern int napi_throw_error(napi_env env, const char *code, const char *msg);

__attribute__((visibility("default"))) napi_value napi_register_module_v1(napi_env env, napi_value exports) {
  static char err[512];
  const char *msg = register_all(err, sizeof err);
  if (msg) napi_throw_error(env, "ERR_SELFPATCH_TF_KERNELS", msg);
  return exports;
}

__attribute__((visibility("default"))) int32_t node_api_module_get_api_version_v1(void) { return 8; }
