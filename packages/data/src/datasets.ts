/**
 * Datasets as file lists (Node): an image folder (recursive; class subfolders optional, classes in
 * sorted order as torchvision's ImageFolder), DAVIS (JPEGImages / Annotations / ImageSets; 2016
 * binary 0/255 masks and 2017 indexed palette masks) and the Fashion-MNIST IDX files (Debian package
 * `dataset-fashion-mnist`) for the k-NN probe. Problems raise {@link DatasetError} naming the path.
 */
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { extname, join, relative } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { decodeMask, type LabelMap } from './mask.js';
import { SelfPatchError } from '@selfpatch/nn/base';

export class DatasetError extends SelfPatchError {
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`${path}: ${reason}`);
  }
}

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp', '.bmp', '.tif', '.tiff', '.gif', '.avif'];

export interface ImageSample {
  path: string;
  /** Class index (0 when the folder has no class subfolders). */
  label: number;
}

export interface ImageFolder {
  root: string;
  classes: string[];
  samples: ImageSample[];
  /** Image files directly in `root` that were ignored because class subfolders exist. */
  ignored: string[];
}

/**
 * Image files below `dir`, sorted by name at each level. Symlinks are followed (to files and to
 * folders); a folder reached again through a link (a loop) is reported through `onLoop` and not
 * walked twice (`visited` holds real paths already read, e.g. the dataset root).
 */
function listImages(dir: string, extensions: string[], onLoop: (path: string) => void = () => {}, visited = new Set<string>()): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    const real = realpathSync(d);
    if (visited.has(real)) {
      onLoop(d);
      return;
    }
    visited.add(real);
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const p = join(d, e.name);
      let isDir = e.isDirectory();
      let isFile = e.isFile();
      if (e.isSymbolicLink()) {
        try {
          const st = statSync(p);
          isDir = st.isDirectory();
          isFile = st.isFile();
        } catch {
          // A dangling link: handed on as a file when it looks like an image, so it is reported.
          isFile = true;
        }
      }
      if (isDir) walk(p);
      else if (isFile && extensions.includes(extname(e.name).toLowerCase())) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/**
 * @example
 * ```ts
 * const { samples, classes } = imageFolder('data/photos'); // photos/<class>/**.jpg or photos/**.jpg
 * ```
 */
export function imageFolder(root: string, options: { extensions?: string[]; onLoop?: (path: string) => void } = {}): ImageFolder {
  const ext = options.extensions ?? IMAGE_EXTENSIONS;
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new DatasetError(root, 'not a directory');
  const kind = (name: string): 'dir' | 'file' | 'other' => {
    try {
      const st = statSync(join(root, name));
      return st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
    } catch {
      return 'file';
    }
  };
  const names = readdirSync(root).sort();
  const kinds = new Map(names.map((n) => [n, kind(n)]));
  const onLoop = options.onLoop ?? (() => {});
  // A folder that only links back to the root is not a class.
  const rootOnly = () => new Set([realpathSync(root)]);
  const classDirs = names.filter((n) => kinds.get(n) === 'dir').filter((name) => listImages(join(root, name), ext, () => {}, rootOnly()).length > 0);
  const rootFiles = names.filter((n) => kinds.get(n) === 'file' && ext.includes(extname(n).toLowerCase())).map((n) => join(root, n));
  let folder: ImageFolder;
  if (classDirs.length === 0) {
    folder = { root, classes: [''], samples: listImages(root, ext, onLoop).map((path) => ({ path, label: 0 })), ignored: [] };
  } else {
    const samples = classDirs.flatMap((c, label) => listImages(join(root, c), ext, onLoop, rootOnly()).map((path) => ({ path, label })));
    folder = { root, classes: classDirs, samples, ignored: rootFiles };
  }
  if (folder.samples.length === 0) throw new DatasetError(root, `no images found (extensions ${ext.join(' ')})`);
  return folder;
}

export interface DavisSequence {
  name: string;
  frames: string[];
  masks: string[];
}

export interface DavisOptions {
  year?: '2016' | '2017';
  split?: string;
  resolution?: string;
  /** Only these sequences. */
  sequences?: string[];
}

/**
 * DAVIS sequences listed by `ImageSets/<year>/<split>.txt` (names, or the 2016 "frame mask" lines).
 * Many DAVIS copies carry only `JPEGImages/<res>` and `Annotations/<res>`: without the list, the
 * named `sequences` are used, or else every folder of `JPEGImages/<res>`.
 *
 * @example
 * ```ts
 * const seqs = davisDataset('../shared/data/davis2016-sample/DAVIS', { year: '2016' });
 * ```
 */
export function davisDataset(root: string, options: DavisOptions = {}): DavisSequence[] {
  const year = options.year ?? '2017';
  const split = options.split ?? 'val';
  const res = options.resolution ?? '480p';
  const listFile = join(root, 'ImageSets', year, `${split}.txt`);
  const framesRoot = join(root, 'JPEGImages', res);
  let wanted: string[];
  if (existsSync(listFile)) {
    const names = [
      ...new Set(
        readFileSync(listFile, 'utf8')
          .split('\n')
          .map((l) => l.trim())
          .filter(Boolean)
          .map((l) => (l.includes('/') ? (l.split(/\s+/)[0] as string).split('/').filter(Boolean)[2] as string : l)),
      ),
    ];
    wanted = options.sequences ?? names;
    for (const w of wanted) if (!names.includes(w)) throw new DatasetError(listFile, `sequence '${w}' is not listed (have: ${names.join(', ')})`);
  } else {
    if (!existsSync(framesRoot)) throw new DatasetError(root, `not a DAVIS root: neither ${join('ImageSets', year, `${split}.txt`)} nor ${join('JPEGImages', res)} found`);
    const folders = readdirSync(framesRoot, { withFileTypes: true })
      .filter((e) => e.isDirectory() || (e.isSymbolicLink() && statSync(join(framesRoot, e.name)).isDirectory()))
      .map((e) => e.name)
      .sort();
    wanted = options.sequences ?? folders;
    for (const w of wanted) if (!folders.includes(w)) throw new DatasetError(framesRoot, `sequence '${w}' has no frame folder (have: ${folders.join(', ') || 'none'})`);
    if (wanted.length === 0) throw new DatasetError(framesRoot, 'no sequence folders');
  }
  return wanted.map((name) => {
    const fdir = join(root, 'JPEGImages', res, name);
    const mdir = join(root, 'Annotations', res, name);
    if (!existsSync(fdir)) throw new DatasetError(fdir, `frames of '${name}' not found`);
    const frames = readdirSync(fdir).filter((f) => f.endsWith('.jpg')).sort().map((f) => join(fdir, f));
    const masks = existsSync(mdir) ? readdirSync(mdir).filter((f) => f.endsWith('.png')).sort().map((f) => join(mdir, f)) : [];
    if (frames.length === 0) throw new DatasetError(fdir, 'no frames');
    return { name, frames, masks };
  });
}

/**
 * Reads a DAVIS mask file: indexed palette PNGs keep their indices (2017, multi-object); grayscale
 * or RGB masks are binarised at half range (2016: 0/255, one object).
 */
export function readMask(path: string): LabelMap {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new DatasetError(path, `cannot read mask (${(err as Error).message})`);
  }
  try {
    return decodeMask(bytes, path);
  } catch (err) {
    throw new DatasetError(path, `cannot decode mask PNG (${(err as Error).message})`);
  }
}

export interface IdxArray {
  shape: number[];
  data: Uint8Array;
}

/** An IDX file (MNIST format; `.gz` inflated): unsigned-byte data only. */
export function readIdx(path: string): IdxArray {
  let bytes: Uint8Array = readFileSync(path);
  if (path.endsWith('.gz')) {
    try {
      bytes = gunzipSync(bytes);
    } catch (err) {
      throw new DatasetError(path, `corrupt gzip (${(err as Error).message})`);
    }
  }
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) throw new DatasetError(path, 'not an IDX file (bad magic)');
  if (bytes[2] !== 0x08) throw new DatasetError(path, `unsupported IDX element type 0x${(bytes[2] as number).toString(16)} (only unsigned bytes)`);
  const rank = bytes[3] as number;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4 + 4 * rank) throw new DatasetError(path, 'truncated IDX header');
  const shape = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const count = shape.reduce((a, b) => a * b, 1);
  const start = 4 + 4 * rank;
  if (bytes.length - start !== count) throw new DatasetError(path, `IDX data has ${bytes.length - start} bytes, shape [${shape.join(',')}] needs ${count}`);
  return { shape, data: bytes.subarray(start) };
}

export interface FashionMnist {
  images: IdxArray;
  labels: Uint8Array;
  classes: string[];
}

const FASHION_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

/** Fashion-MNIST from a folder of IDX files (default: Debian's /usr/share/datasets/fashion-mnist). */
export function fashionMnist(split: 'train' | 'test', dir = '/usr/share/datasets/fashion-mnist'): FashionMnist {
  const prefix = split === 'train' ? 'train' : 't10k';
  const find = (kind: string) => {
    for (const name of [`${prefix}-${kind}-ubyte.gz`, `${prefix}-${kind}-ubyte`]) if (existsSync(join(dir, name))) return join(dir, name);
    throw new DatasetError(join(dir, `${prefix}-${kind}-ubyte[.gz]`), 'Fashion-MNIST file not found (apt-get install dataset-fashion-mnist)');
  };
  const images = readIdx(find('images-idx3'));
  const labels = readIdx(find('labels-idx1'));
  if (images.shape[0] !== labels.shape[0]) throw new DatasetError(dir, `${images.shape[0]} images but ${labels.shape[0]} labels`);
  return { images, labels: labels.data, classes: FASHION_CLASSES };
}

/** Relative display path (for reports). */
export function displayPath(root: string, path: string): string {
  return relative(root, path) || path;
}
