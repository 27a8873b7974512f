"""Exports a ViT backbone (SelfPatch layout: no CLS token, raw last-block tokens) to ONNX with
Debian's python3-torch, from a `.pth` state dict with the official keys (as selfpatch-ts exports
them), for the onnxruntime-web baseline of bench/onnx-vit.ts.

Usage: export_vit_onnx.py WEIGHTS.pth OUT.onnx HEADS SIZE
"""
import sys

import torch

from selfpatch_step import VisionTransformer  # the same ViT as the suite's PyTorch baseline


def main():
    weights, out, heads, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    sd = torch.load(weights)
    dim, _, patch, _ = sd["patch_embed.proj.weight"].shape
    if patch != 16 or sd["pos_embed"].shape[1] != 196:
        sys.exit("export_vit_onnx.py: expects patch 16 and a 14x14 pos_embed (SelfPatch layout at 224)")
    depth = len({k.split(".")[1] for k in sd if k.startswith("blocks.")})
    model = VisionTransformer(dim, depth, heads)
    model.load_state_dict(sd, strict=True)
    model.eval()
    # Batch is a dynamic axis: the bench times batch 1 and 8 on one exported graph.
    torch.onnx.export(model, torch.zeros(1, 3, size, size), out, input_names=["image"], output_names=["tokens"], opset_version=14,
                      dynamic_axes={"image": {0: "batch"}, "tokens": {0: "batch"}})
    print(out)


if __name__ == "__main__":
    main()
