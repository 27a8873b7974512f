/** An 8-bit RGB image, row-major HWC — the format PIL works in and the ops below keep. */
export interface RGBImage {
  width: number;
  height: number;
  /** `height·width·3` bytes. */
  data: Uint8Array;
}

export function createImage(width: number, height: number): RGBImage {
  return { width, height, data: new Uint8Array(width * height * 3) };
}
