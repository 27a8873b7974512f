"""torchvision+PIL baseline for bench/data-multicrop.ts: the SelfPatch multi-crop (2 × 224 + 8 × 96,
official utils' GaussianBlur/Solarization, ColorJitter, grayscale, flip, normalise) on the given
files, decode included, one process, after one untimed pass. Prints {"images_per_s": ...}."""
import json
import random
import sys
import time

from PIL import Image, ImageFilter, ImageOps
import torch
from torchvision import transforms


class GaussianBlur:
    def __init__(self, p):
        self.p = p

    def __call__(self, img):
        if random.random() <= self.p:
            return img.filter(ImageFilter.GaussianBlur(radius=random.uniform(0.1, 2.0)))
        return img


class Solarization:
    def __init__(self, p):
        self.p = p

    def __call__(self, img):
        return ImageOps.solarize(img) if random.random() < self.p else img


def main():
    repeats = int(sys.argv[1])
    files = sys.argv[2:]
    torch.set_num_threads(1)
    # Seeded, so every round draws the same crops and does the same work (as the tfjs side, which
    # starts each round from Rng(0)): the run-to-run spread then measures the machine, not the draws.
    random.seed(0)
    torch.manual_seed(0)
    flip_color = transforms.Compose([
        transforms.RandomHorizontalFlip(p=0.5),
        transforms.RandomApply([transforms.ColorJitter(0.4, 0.4, 0.2, 0.1)], p=0.8),
        transforms.RandomGrayscale(p=0.2),
    ])
    norm = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
    bic = transforms.InterpolationMode.BICUBIC
    g1 = transforms.Compose([transforms.RandomResizedCrop(224, scale=(0.25, 1), interpolation=bic), flip_color, GaussianBlur(1.0), norm])
    g2 = transforms.Compose([transforms.RandomResizedCrop(224, scale=(0.25, 1), interpolation=bic), flip_color, GaussianBlur(0.1), Solarization(0.2), norm])
    loc = transforms.Compose([transforms.RandomResizedCrop(96, scale=(0.05, 0.25), interpolation=bic), flip_color, GaussianBlur(0.5), norm])
    # One untimed pass first, as the tfjs side has (its JIT warms up there): steady-state throughput,
    # what a training run's loader sees.
    for f in files:
        img = Image.open(f).convert("RGB")
        [g1(img), g2(img)] + [loc(img) for _ in range(8)]
    t0 = time.perf_counter()
    n = 0
    for _ in range(repeats):
        for f in files:
            img = Image.open(f).convert("RGB")
            crops = [g1(img), g2(img)] + [loc(img) for _ in range(8)]
            assert len(crops) == 10
            n += 1
    dt = time.perf_counter() - t0
    print(json.dumps({"images_per_s": n / dt}))


if __name__ == "__main__":
    main()
