/**
 * The C entry points of csrc/ by name, with their parameters in declaration order, so every call
 * from TypeScript passes named fields (checked here) instead of a positional `number[]`. A test
 * reads csrc/*.c and fails when this table and the C declarations disagree.
 *
 * Pointers are byte addresses in the kernel module's memory; counts are float32 elements.
 */
import { ConfigError } from '@selfpatch/nn';

export const ENTRY_POINTS = {
  gelu_fwd: ['x', 'y', 'n'],
  gelu_bwd: ['dy', 'x', 'dx', 'n'],
  exp_fwd: ['x', 'y', 'n'],
  layer_norm_fwd: ['x', 'w', 'b', 'y', 'rows', 'c', 'eps'],
  layer_norm_bwd: ['dy', 'x', 'w', 'dx', 'dw', 'db', 'rows', 'c', 'eps'],
  ema_step: ['t', 's', 'out', 'n', 'm', 'one_minus_m'],
  column_sum: ['x', 'out', 'rows', 'cols'],
  transpose_rows: ['src', 'dst', 'rows', 'cols', 'r0', 'r1'],
  scaled_softmax: ['s', 'p', 'rows', 'cols', 'scale'],
  softmax_grad: ['p', 'dp', 'ds', 'rows', 'cols', 'scale'],
  attention_fwd: ['q', 'k', 'v', 'bias', 'out', 'p', 'keep_p', 'scratch', 'first', 'slices', 'groups', 'nq', 'nk', 'd', 'e', 'scale'],
  attention_bwd: ['q', 'k', 'v', 'p', 'dout', 'dq', 'dk', 'dv', 'scratch', 'first', 'slices', 'groups', 'nq', 'nk', 'd', 'e', 'scale'],
  attention_qkv_fwd: ['qkv', 'out', 'scratch', 'first', 'slices', 'heads', 'n', 'd', 'rows', 'scale'],
  linear_fwd: ['x', 'bp', 'bias', 'y', 'm', 'n', 'k', 'p0', 'p1', 'gelu'],
  pack_cols: ['b', 'bp', 'k', 'n'],
  pack_grid_panels: ['fs', 'fsp', 'c', 'ctx', 'h', 'w', 'u0', 'u1', 'nan_flag'],
  neighborhood_propagate: ['t', 'fsp', 'segs', 'out', 'scratch', 'h', 'w', 'ctx', 'c', 'k_cls', 'radius', 'topk', 'tau', 'r0', 'r1'],
  add_fwd: ['a', 'b', 'out', 'n'],
  adamw_step: ['p', 'g', 'm', 'v', 'po', 'mo', 'vo', 'n', 'decay', 'b1', 'one_minus_b1', 'b2', 'one_minus_b2', 'bc2_sqrt', 'eps', 'step_size'],
} as const;

export type EntryPoint = keyof typeof ENTRY_POINTS;

/** The named arguments of entry point `K`. */
export type EntryArgs<K extends EntryPoint> = { [P in (typeof ENTRY_POINTS)[K][number]]: number };

/** Entry points a worker thread may be asked to run (its mailbox carries the index into this list). */
export const POOL_KERNELS: readonly EntryPoint[] = Object.keys(ENTRY_POINTS) as EntryPoint[];

/**
 * `args` in the C declaration order. Throws a ConfigError naming the entry point and field when a
 * field is missing or not a finite number (a NaN pointer would silently address byte 0).
 */
export function positional<K extends EntryPoint>(name: K, args: EntryArgs<K>): number[] {
  const fields = ENTRY_POINTS[name] as readonly string[];
  const values = args as unknown as Record<string, number>;
  return fields.map((field) => {
    const v = values[field];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(`${name}.${field}`, `kernel argument must be a finite number, got ${v}`);
    return v;
  });
}
