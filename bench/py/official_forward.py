"""PyTorch baseline that is the official code: SelfPatch's own ViT (selfpatch_vision_transformer.py
of https://github.com/alinlab/SelfPatch at commit 81aef149fa984a32bdbb2cf5a98aa0e072591535),
imported from a checkout, eval mode, fp32, no grad.

Usage: official_forward.py OFFICIAL_DIR ARCH BATCH SIZE REPEATS   (ARCH: vit_tiny | vit_small)
Prints one JSON line {"ms": median forward ms over REPEATS after one warm-up, "rss_mb", "blob"}.
Refuses a checkout whose model file is not the pinned one (git blob hash), so the baseline is
known code. Threads as bench/py/selfpatch_step.py (BENCH_THREADS, OMP_WAIT_POLICY=PASSIVE,
OPENBLAS_NUM_THREADS).
"""
import hashlib
import json
import os
import sys

import torch

from selfpatch_step import check_blas, median_ms, rss_mb

PINNED_BLOB = "a92aa20d300c5be516f210d430cc40150de5eafd"  # git rev-parse 81aef14:selfpatch_vision_transformer.py


def check_pinned(official, name, pinned):
    """The git blob hash of OFFICIAL/NAME, or exit when it is not the pinned file."""
    path = os.path.join(official, name)
    with open(path, "rb") as f:
        data = f.read()
    blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    if blob != pinned:
        sys.exit(f"{path} is not SelfPatch@81aef14's (blob {blob}, expected {pinned})")
    return blob


def add_official_to_path(official):
    """Makes the checkout importable; stands in for the two timm constants its model file imports."""
    sys.path.insert(0, official)
    try:
        import timm.data.constants  # noqa: F401
    except ImportError:
        # The model file imports two ImageNet constants from timm and nothing else of it; Debian has
        # no timm package, so the constants (timm/data/constants.py) stand in. No compute changes.
        import types
        constants = types.ModuleType("timm.data.constants")
        constants.IMAGENET_DEFAULT_MEAN = (0.485, 0.456, 0.406)
        constants.IMAGENET_DEFAULT_STD = (0.229, 0.224, 0.225)
        for name, mod in (("timm", types.ModuleType("timm")), ("timm.data", types.ModuleType("timm.data")), ("timm.data.constants", constants)):
            sys.modules.setdefault(name, mod)


def main():
    official, arch, batch, size, repeats = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
    blob = check_pinned(official, "selfpatch_vision_transformer.py", PINNED_BLOB)
    add_official_to_path(official)
    import selfpatch_vision_transformer as svt

    check_blas()
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))
    torch.manual_seed(0)
    model = getattr(svt, arch)(patch_size=16).eval()
    x = torch.randn(batch, 3, size, size)
    with torch.no_grad():
        ms = median_ms(lambda: model(x).sum().item(), repeats)
    print(json.dumps({"ms": ms, "rss_mb": rss_mb(), "blob": blob}))


if __name__ == "__main__":
    main()
