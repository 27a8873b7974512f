// Splits a kernel's range over threads, as TensorFlow's own CPU kernels split theirs over its
// intra-op pool (which the C API does not expose): TF_NUM_INTRAOP_THREADS threads when set, else
// one per online core, as TensorFlow's default. Only for work whose parts are independent (rows,
// elements), so results do not depend on the thread count. Plain pthreads, created per call:
// calls are split only above `grain` items per thread (a few hundred microseconds of work), where
// thread start-up (~20 us) is small.
#pragma once
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

typedef void (*sp_range_fn)(void *ctx, int64_t begin, int64_t end);

#define SP_MAX_THREADS 64

static int sp_threads(void) {
  static int cached = 0;
  if (cached == 0) {
    const char *env = getenv("TF_NUM_INTRAOP_THREADS");
    long n = env ? strtol(env, NULL, 10) : 0;
    if (n <= 0) n = sysconf(_SC_NPROCESSORS_ONLN);
    cached = (int)(n < 1 ? 1 : n > SP_MAX_THREADS ? SP_MAX_THREADS : n);
  }
  return cached;
}

typedef struct {
  sp_range_fn fn;
  void *ctx;
  int64_t begin, end;
} SpPart;

static void *sp_run_part(void *arg) {
  SpPart *p = (SpPart *)arg;
  p->fn(p->ctx, p->begin, p->end);
  return NULL;
}

// Runs fn over [0, n) in parts whose boundaries are multiples of `align`.
static void sp_parallel(int64_t n, int64_t grain, int64_t align, sp_range_fn fn, void *ctx) {
  int64_t parts = n / (grain > 0 ? grain : 1);
  if (parts > sp_threads()) parts = sp_threads();
  if (parts < 2) {
    fn(ctx, 0, n);
    return;
  }
  SpPart part[SP_MAX_THREADS];
  pthread_t tid[SP_MAX_THREADS];
  int started[SP_MAX_THREADS] = {0};
  int64_t step = (n + parts - 1) / parts;
  step = (step + align - 1) / align * align;
  int64_t begin = 0;
  int count = 0;
  for (; count < parts && begin < n; count++, begin += step) {
    part[count] = (SpPart){fn, ctx, begin, begin + step < n ? begin + step : n};
  }
  for (int i = 1; i < count; i++) started[i] = pthread_create(&tid[i], NULL, sp_run_part, &part[i]) == 0;
  // A part whose thread could not start runs here.
  for (int i = 0; i < count; i++)
    if (i == 0 || !started[i]) sp_run_part(&part[i]);
  for (int i = 1; i < count; i++)
    if (started[i]) pthread_join(tid[i], NULL);
}
