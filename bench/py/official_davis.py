"""The official DAVIS pipeline as the baseline of bench/davis-e2e.ts: SelfPatch's own
eval_video_segmentation.py (https://github.com/alinlab/SelfPatch at commit
81aef149fa984a32bdbb2cf5a98aa0e072591535, the loop of DINO's script: frame decode and resize,
features, label propagation, upsampling, PNG writing), run unmodified from a checkout on the CPU.

Usage:
  official_davis.py weights OFFICIAL_DIR ARCH OUT.pth
      The official ARCH/16 with torch.manual_seed(0) init, saved as {"teacher": {"backbone.<key>"}}
      (a DINO training checkpoint's layout), so both sides load the same file.
  official_davis.py run OFFICIAL_DIR DATA_DIR WEIGHTS.pth ARCH OUT_DIR
      Runs the script on DATA_DIR (DAVIS-2017 layout, ImageSets/2017/val.txt) and prints one JSON
      line {"s": wall seconds of the script, "frames": propagated frames, "blob": ...}.

The script is executed as written (runpy, as `python eval_video_segmentation.py ...`), with three
stand-ins that change no computation: `.cuda()` on tensors and modules returns them unchanged (the
script has no CPU switch), `torch.cuda.synchronize` is not called by it; the colour palette it
downloads from GitHub (Liusifei/UVC libs/data/palette.txt) is the PASCAL VOC palette, generated
here; and the model weights load is checked to have matched every key (the script loads with
strict=False and would silently keep a random init). Threads as bench/py/selfpatch_step.py
(BENCH_THREADS, OMP_WAIT_POLICY=PASSIVE, OPENBLAS_NUM_THREADS). Needs Debian's python3-opencv and
python3-tqdm (imported by the script).
"""
import io
import json
import os
import runpy
import sys
import time
import urllib.request

import torch

from official_forward import add_official_to_path, check_pinned
from selfpatch_step import check_blas

PINNED = {
    "eval_video_segmentation.py": "3f728429fbaa52fd1f27bf09b4f4af7be543928c",
    "selfpatch_vision_transformer.py": "a92aa20d300c5be516f210d430cc40150de5eafd",
    "utils.py": "978d79d6ae2986419422b285a464b9a599d6d84d",
}


def voc_palette_lines():
    """palette.txt of Liusifei/UVC: 256 lines "r g b" of the PASCAL VOC colour map."""
    lines = []
    for i in range(256):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        lines.append(f"{r} {g} {b}\n".encode())
    return lines


def weights(official, arch, out):
    add_official_to_path(official)
    import selfpatch_vision_transformer as svt
    torch.manual_seed(0)
    model = getattr(svt, arch)(patch_size=16, num_classes=0)
    torch.save({"teacher": {f"backbone.{k}": v for k, v in model.state_dict().items()}}, out)


def run(official, data, weights_path, arch, out_dir):
    check_blas()
    blobs = {name: check_pinned(official, name, pin) for name, pin in PINNED.items()}
    add_official_to_path(official)
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))
    torch.Tensor.cuda = lambda self, *a, **k: self
    torch.nn.Module.cuda = lambda self, *a, **k: self
    palette = voc_palette_lines()
    urllib.request.urlopen = lambda url, *a, **k: io.BytesIO(b"".join(palette))
    import utils
    load = utils.load_pretrained_weights

    def checked_load(model, path, key, name, patch):
        sd = torch.load(path, map_location="cpu")[key]
        missing = set(model.state_dict()) - {k.replace("backbone.", "") for k in sd}
        if missing:
            sys.exit(f"{path} does not cover the model: missing {sorted(missing)[:5]}")
        load(model, path, key, name, patch)
    utils.load_pretrained_weights = checked_load

    sys.argv = ["eval_video_segmentation.py", "--data_path", data, "--output_dir", out_dir, "--pretrained_weights", weights_path,
                "--arch", arch, "--patch_size", "16", "--n_last_frames", "7", "--size_mask_neighborhood", "12", "--topk", "5"]
    stdout = sys.stdout
    sys.stdout = sys.stderr  # the script's prints and tqdm bars are not the JSON answer
    t0 = time.perf_counter()
    try:
        runpy.run_path(os.path.join(official, "eval_video_segmentation.py"), run_name="__main__")
    finally:
        sys.stdout = stdout
    s = time.perf_counter() - t0
    frames = sum(len(os.listdir(os.path.join(out_dir, v))) - 1 for v in os.listdir(out_dir))
    print(json.dumps({"s": s, "frames": frames, "blob": blobs["eval_video_segmentation.py"]}))


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "weights":
        weights(*sys.argv[2:5])
    elif mode == "run":
        run(*sys.argv[2:7])
    else:
        sys.exit(__doc__)
