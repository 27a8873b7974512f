/**
 * Patch neighbourhoods on an h×w grid (docs/selfpatch.md §2 step 1, §9 items 2 and 9).
 *
 * The official code precomputes tables for 14×14 and 6×6 grids only; here they are built for any
 * grid, square or not. For patch `n = r·w + c` the candidates are the cells at offsets
 * `(dr, dc)` of a `kernel × kernel` window (or every other patch), the patch itself excluded:
 * - `torus` (official default): coordinates wrap around, `((r+dr) mod h, (c+dc) mod w)`;
 * - `clamp`: cells outside the grid are absent (border patches have fewer candidates).
 * The table lists each patch's candidates in ascending flat index, as the official tables do, so
 * slot numbers match the reference's top-k indices.
 */
import { ConfigError, ShapeError } from '@selfpatch/nn';

export type NeighbourhoodKind = 3 | 5 | 'all';
export type BorderMode = 'torus' | 'clamp';

export interface NeighbourhoodOptions {
  /** Window size (3 is the official k_size) or `all` patches. Default 3. */
  kernel?: NeighbourhoodKind;
  /** Wrap around the borders as the official code (default) or stop at them. */
  border?: BorderMode;
}

export interface Neighbourhood {
  h: number;
  w: number;
  /** Candidates per patch (table width). */
  size: number;
  /** `[N, size]` flat patch ids in ascending order; −1 marks an absent candidate (clamp mode). */
  table: Int32Array;
  /** `[N, size]` index into {@link offsets} of each table slot (−1 where absent). */
  slotOffset: Int32Array;
  /** Distinct `(dr, dc)` displacements, row-major; a slot's candidate is the patch at this offset. */
  offsets: Array<[number, number]>;
  /** Fewest present candidates of any patch (bounds k). */
  minCount: number;
  border: BorderMode;
}

function windowOffsets(kernel: NeighbourhoodKind, h: number, w: number): Array<[number, number]> {
  const offs: Array<[number, number]> = [];
  if (kernel === 'all') {
    for (let dr = 0; dr < h; dr++) for (let dc = 0; dc < w; dc++) if (dr !== 0 || dc !== 0) offs.push([dr, dc]);
    return offs;
  }
  const r = (kernel - 1) / 2;
  for (let dr = -r; dr <= r; dr++) for (let dc = -r; dc <= r; dc++) if (dr !== 0 || dc !== 0) offs.push([dr, dc]);
  return offs;
}

/**
 * Builds the neighbour table of an `h × w` grid.
 *
 * @example
 * ```ts
 * const nb = neighbourhood(14, 14); // the official 196×8 torus table
 * nb.table.subarray(0, 8); // [1, 13, 14, 15, 27, 182, 183, 195]
 * ```
 */
export function neighbourhood(h: number, w: number, options: NeighbourhoodOptions = {}): Neighbourhood {
  const kernel = options.kernel ?? 3;
  const border = options.border ?? 'torus';
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 1 || w < 1) throw new ShapeError(`invalid patch grid ${h}x${w}`);
  if (kernel !== 3 && kernel !== 5 && kernel !== 'all') throw new ConfigError('kernel', `expected 3, 5 or 'all', got ${String(kernel)}`);
  if (border !== 'torus' && border !== 'clamp') throw new ConfigError('border', `expected 'torus' or 'clamp', got ${String(border)}`);
  if (kernel !== 'all' && border === 'torus' && (h < kernel || w < kernel)) {
    // Smaller grids would make a patch its own neighbour or list one patch twice.
    throw new ShapeError(`a ${h}x${w} patch grid is smaller than the ${kernel}x${kernel} torus neighbourhood`);
  }
  if (h * w < 2) throw new ShapeError(`a ${h}x${w} patch grid has no neighbours`);
  // With `all`, offsets are taken modulo the grid (every other patch exactly once).
  const offsets = windowOffsets(kernel, h, w);
  const n = h * w;
  const size = offsets.length;
  const table = new Int32Array(n * size).fill(-1);
  const slotOffset = new Int32Array(n * size).fill(-1);
  let minCount = size;
  const cand: Array<[number, number]> = [];
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      cand.length = 0;
      offsets.forEach(([dr, dc], o) => {
        let rr = r + dr;
        let cc = c + dc;
        if (kernel === 'all' || border === 'torus') {
          rr = ((rr % h) + h) % h;
          cc = ((cc % w) + w) % w;
        } else if (rr < 0 || rr >= h || cc < 0 || cc >= w) {
          return;
        }
        cand.push([rr * w + cc, o]);
      });
      cand.sort((a, b) => a[0] - b[0]);
      const p = r * w + c;
      cand.forEach(([id, o], s) => {
        table[p * size + s] = id;
        slotOffset[p * size + s] = o;
      });
      minCount = Math.min(minCount, cand.length);
    }
  }
  return { h, w, size, table, slotOffset, offsets, minCount, border: kernel === 'all' ? 'torus' : border };
}
