"""Official-format checkpoints from a golden fixture's weights (Debian python3-torch).

make FIXTURE.safetensors OUT.pth
    torch.save a SelfPatch/DINO training checkpoint in the official nesting:
    {'student': {'module.'+k: t}, 'teacher': {k: t}, 'optimizer': ..., 'epoch', 'args' (Namespace),
     'dino_loss': {...}} where k are the fixture's weight keys (backbone.*, ca_head.*, ... or the
    bare DINO keys, which the official DINO checkpoints also nest under 'backbone.').

check-export IN.pth FIXTURE.safetensors KEY
    Load IN.pth as the official evaluation scripts do (torch.load, take checkpoint[KEY], strip
    'module.' and 'backbone.'), and compare every backbone tensor with the fixture's weights.
"""
import argparse
import collections
import json
import struct
import sys

import torch

DTYPES = {"F32": torch.float32, "I32": torch.int32, "F16": torch.float16, "I64": torch.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    base = 8 + n
    out = collections.OrderedDict()
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[base + a : base + b]), dtype=DTYPES[info["dtype"]])
        out[name] = t.reshape(info["shape"]).clone()
    return out


def fixture_weights(path):
    manifest = json.load(open(path.replace(".safetensors", ".json")))
    tensors = read_safetensors(path)
    kinds = manifest["tensors"]
    return collections.OrderedDict((k, v) for k, v in tensors.items() if kinds.get(k, {}).get("kind") == "weight")


def strip(sd):
    out = collections.OrderedDict()
    for k, v in sd.items():
        k = k.replace("module.", "", 1) if k.startswith("module.") else k
        k = k.replace("backbone.", "", 1) if k.startswith("backbone.") else k
        out[k] = v
    return out


def main():
    mode = sys.argv[1]
    if mode == "make":
        fixture, out = sys.argv[2:4]
        w = fixture_weights(fixture)
        if not any(k.startswith("backbone.") for k in w):
            w = collections.OrderedDict(("backbone." + k, v) for k, v in w.items())
        teacher = collections.OrderedDict((k, v.clone()) for k, v in w.items())
        student = collections.OrderedDict(("module." + k, v.clone()) for k, v in w.items())
        params = [p for p in student.values() if p.is_floating_point()]
        opt = torch.optim.AdamW([torch.nn.Parameter(p.clone()) for p in params], lr=1e-3)
        ckpt = {
            "student": student,
            "teacher": teacher,
            "optimizer": opt.state_dict(),
            "epoch": 1,
            "args": argparse.Namespace(arch="vit_small", patch_size=16, out_dim=65536, lr=0.0005, local_crops_number=8),
            "dino_loss": {"center": torch.zeros(1, 1, 8), "patch_center": torch.zeros(1, 8)},
        }
        torch.save(ckpt, out)
        print("OK", len(w), "tensors")
    elif mode == "check-export":
        path, fixture, key = sys.argv[2:5]
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        got = strip(ckpt[key])
        want = strip(fixture_weights(fixture))
        want = collections.OrderedDict((k, v) for k, v in want.items() if not k.split(".")[0] in ("ca_head", "c_head", "p_head", "head"))
        if sorted(got) != sorted(want):
            print("KEYS DIFFER", sorted(set(got) ^ set(want))[:10])
            sys.exit(1)
        for k in want:
            if got[k].shape != want[k].shape or not torch.equal(got[k], want[k]):
                print("MISMATCH", k, tuple(got[k].shape), tuple(want[k].shape))
                sys.exit(1)
        print("OK", len(want), "tensors equal")
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
