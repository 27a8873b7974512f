"""PyTorch side of the .pth interop tests (Debian python3-torch).

write OUT.pth OUT.json  -- torch.save a checkpoint exercising views, dtypes and nesting; OUT.json
                           holds the expected values (computed by torch, not by the code under test)
read IN.pth EXPECTED.json -- torch.load(IN, weights_only=True) and compare with EXPECTED.json
"""
import argparse
import collections
import json
import math
import sys

import torch


def tensor_json(t):
    t = t.detach()
    if t.dtype in (torch.float16, torch.bfloat16):
        vals = t.float().flatten().tolist()
    elif t.dtype == torch.int64:
        vals = [str(v) for v in t.flatten().tolist()]
    elif t.dtype == torch.bool:
        vals = [int(v) for v in t.flatten().tolist()]
    else:
        vals = t.flatten().tolist()
    return {"__tensor__": str(t.dtype).replace("torch.", ""), "shape": list(t.shape), "values": vals}


def to_json(v):
    if isinstance(v, torch.Tensor):
        return tensor_json(v)
    if isinstance(v, dict):
        return {str(k): to_json(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [to_json(x) for x in v]
    if isinstance(v, argparse.Namespace):
        return to_json(vars(v))
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) > 2**53:
        return {"__bigint__": str(v)}
    return v


def build():
    torch.manual_seed(0)
    base = torch.randn(6, 4)
    sd = collections.OrderedDict()
    sd["backbone.blocks.0.attn.qkv.weight"] = torch.randn(12, 4)
    sd["backbone.pos_embed"] = torch.randn(1, 5, 4)
    sd["view.base"] = base
    sd["view.transposed"] = base.t()
    sd["view.rows"] = base[2:5]
    sd["view.strided"] = base[::2, 1::2]
    sd["half"] = torch.randn(3, 3).half()
    sd["bf16"] = torch.randn(3, 3).bfloat16()
    sd["f64"] = torch.randn(2, 2, dtype=torch.float64)
    sd["i64"] = torch.tensor([0, -1, 2**40, -(2**40)])
    sd["i32"] = torch.tensor([1, -2, 3], dtype=torch.int32)
    sd["u8"] = torch.tensor([0, 255, 7], dtype=torch.uint8)
    sd["bool"] = torch.tensor([True, False, True])
    sd["scalar"] = torch.tensor(3.5)
    sd["empty"] = torch.zeros(0, 3)
    student = collections.OrderedDict(("module." + k, v) for k, v in sd.items())
    return {
        "student": student,
        "teacher": sd,
        "epoch": 7,
        "args": argparse.Namespace(arch="vit_small", lr=0.0005, crops=[0.25, 1.0], name="run"),
        "param": torch.nn.Parameter(torch.randn(2, 3)),
        "nested": {"list": [1, 2.5, "a", None, True], "tuple": (1, 2), "big": 2**70, "neg": -5},
        "optimizer": {"state": {0: {"step": 3, "exp_avg": torch.ones(2)}}, "param_groups": [{"lr": 0.1, "params": [0, 1]}]},
    }


def same(expected, actual, path="$"):
    if isinstance(expected, dict) and "__tensor__" in expected:
        if not isinstance(actual, torch.Tensor):
            return f"{path}: expected a tensor, got {type(actual).__name__}"
        want_dtype = expected["__tensor__"]
        if str(actual.dtype).replace("torch.", "") != want_dtype:
            return f"{path}: dtype {actual.dtype} != {want_dtype}"
        if list(actual.shape) != expected["shape"]:
            return f"{path}: shape {list(actual.shape)} != {expected['shape']}"
        got = tensor_json(actual)["values"]
        for a, b in zip(got, expected["values"]):
            if isinstance(b, str):
                if str(a) != b:
                    return f"{path}: {a} != {b}"
            elif not (a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b))):
                return f"{path}: value {a} != {b}"
        return None
    if isinstance(expected, dict) and "__bigint__" in expected:
        return None if str(actual) == expected["__bigint__"] else f"{path}: {actual} != {expected['__bigint__']}"
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{path}: expected dict, got {type(actual).__name__}"
        if sorted(map(str, actual.keys())) != sorted(expected.keys()):
            return f"{path}: keys {sorted(map(str, actual.keys()))} != {sorted(expected.keys())}"
        for k, v in actual.items():
            err = same(expected[str(k)], v, f"{path}.{k}")
            if err:
                return err
        return None
    if isinstance(expected, list):
        if not isinstance(actual, (list, tuple)) or len(actual) != len(expected):
            return f"{path}: expected list of {len(expected)}, got {actual!r}"
        for i, (e, a) in enumerate(zip(expected, actual)):
            err = same(e, a, f"{path}[{i}]")
            if err:
                return err
        return None
    if expected != actual or type(expected) is bool and type(actual) is not bool:
        return f"{path}: {actual!r} != {expected!r}"
    return None


def main():
    mode, path, ref = sys.argv[1:4]
    if mode == "write":
        obj = build()
        torch.save(obj, path)
        with open(ref, "w") as f:
            json.dump(to_json(obj), f)
    elif mode in ("read", "read-full"):
        # read: the restricted loader; read-full: also Python floats, which torch < 2's restricted
        # loader cannot represent (it has no BINFLOAT opcode).
        obj = torch.load(path, weights_only=(mode == "read"))
        with open(ref) as f:
            expected = json.load(f)
        err = same(expected, obj)
        if err:
            print("MISMATCH", err)
            sys.exit(1)
        print("OK", torch.__version__)
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
