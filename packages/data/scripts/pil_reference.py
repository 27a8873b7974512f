"""Reference outputs of PIL/torchvision ops for the data package's parity tests (Debian
python3-pil, python3-torchvision). Usage: pil_reference.py OUTDIR IMAGE [IMAGE ...]

For each image it writes PIL's decoded RGB (`input`) and each op's output as raw RGB bytes
(OUTDIR/<i>.<name>.bin) plus OUTDIR/index.json with sizes and the op parameters, so the TS ops are
compared on identical input bytes (JPEG decoders may differ; that is measured separately).
"""
import json
import os
import sys

from PIL import Image, ImageFilter, ImageOps
import torchvision.transforms.functional as F
from torchvision.transforms import InterpolationMode

OPS = {
    "resize_224_bicubic": lambda im: im.resize((224, 224), Image.BICUBIC),
    "resize_96_bicubic": lambda im: im.resize((96, 96), Image.BICUBIC),
    "resize_up_bicubic": lambda im: im.crop((100, 50, 140, 80)).resize((96, 96), Image.BICUBIC),
    "resize_224_bilinear": lambda im: im.resize((224, 224), Image.BILINEAR),
    # One pass only, a tiny source, a fractional box: the edges of the two-pass resampler.
    "resize_width_only": lambda im: im.resize((301, im.height), Image.BICUBIC),
    "resize_height_only": lambda im: im.resize((im.width, 157), Image.BICUBIC),
    "resize_tiny": lambda im: im.crop((10, 20, 13, 22)).resize((7, 5), Image.BICUBIC),
    "resize_box": lambda im: im.resize((96, 80), Image.BICUBIC, box=(12.25, 7.5, 400.75, 333.125)),
    "blur_tiny_1.5": lambda im: im.crop((10, 20, 13, 22)).filter(ImageFilter.GaussianBlur(radius=1.5)),
    "resized_crop": lambda im: F.resized_crop(im, 37, 101, 301, 377, [224, 224], InterpolationMode.BICUBIC),
    "brightness_0.6": lambda im: F.adjust_brightness(im, 0.6),
    "brightness_1.4": lambda im: F.adjust_brightness(im, 1.4),
    "contrast_0.6": lambda im: F.adjust_contrast(im, 0.6),
    "contrast_1.4": lambda im: F.adjust_contrast(im, 1.4),
    "saturation_0.8": lambda im: F.adjust_saturation(im, 0.8),
    "saturation_1.2": lambda im: F.adjust_saturation(im, 1.2),
    "hue_0.1": lambda im: F.adjust_hue(im, 0.1),
    "hue_-0.1": lambda im: F.adjust_hue(im, -0.1),
    "hue_0.037": lambda im: F.adjust_hue(im, 0.037),
    "grayscale": lambda im: F.rgb_to_grayscale(im, num_output_channels=3),
    "solarize": lambda im: ImageOps.solarize(im, 128),
    "hflip": lambda im: F.hflip(im),
    "blur_0.1": lambda im: im.filter(ImageFilter.GaussianBlur(radius=0.1)),
    "blur_0.73": lambda im: im.filter(ImageFilter.GaussianBlur(radius=0.73)),
    "blur_1.37": lambda im: im.filter(ImageFilter.GaussianBlur(radius=1.37)),
    "blur_2.0": lambda im: im.filter(ImageFilter.GaussianBlur(radius=2.0)),
}


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    index = []
    for i, path in enumerate(sys.argv[2:]):
        im = Image.open(path).convert("RGB")
        entry = {"file": path, "outputs": {}}
        for name, fn in [("input", lambda x: x)] + list(OPS.items()):
            res = fn(im).convert("RGB")
            with open(os.path.join(out, f"{i}.{name}.bin"), "wb") as f:
                f.write(res.tobytes())
            entry["outputs"][name] = [res.width, res.height]
        index.append(entry)
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump(index, f)


if __name__ == "__main__":
    main()
