"""PyTorch baseline for bench/vit-forward.ts: the same ViT forward (SelfPatch layout, eval, fp32).

Usage: vit_forward.py EMBED DEPTH HEADS BATCH HEIGHT WIDTH THREADS REPEATS
Prints one JSON line {"ms": median forward ms, "rss_mb": max RSS}.
Run with OMP_WAIT_POLICY=PASSIVE (and OPENBLAS_NUM_THREADS=THREADS): docs/tfjs-backends.md §6.
"""
import json
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.fc1 = nn.Linear(dim, 4 * dim)
        self.fc2 = nn.Linear(4 * dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = ((q @ k.transpose(-2, -1)) * (c // self.heads) ** -0.5).softmax(dim=-1)
        x = x + self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))
        return x + self.fc2(nn.functional.gelu(self.fc1(self.norm2(x))))


def main():
    embed, depth, heads, batch, h, w, threads, repeats = map(int, sys.argv[1:9])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    patch = nn.Conv2d(3, embed, 16, 16)
    blocks = nn.Sequential(*[Block(embed, heads) for _ in range(depth)])
    pos = torch.randn(1, (h // 16) * (w // 16), embed) * 0.02
    x = torch.randn(batch, 3, h, w)
    times = []
    with torch.no_grad():
        for i in range(repeats + 1):
            t0 = time.perf_counter()
            y = blocks(patch(x).flatten(2).transpose(1, 2) + pos)
            y.sum().item()
            if i > 0:
                times.append((time.perf_counter() - t0) * 1000)
    with open("/proc/self/maps") as f:
        if "openblas" not in f.read():
            sys.exit("torch is using Debian's reference BLAS (10x slower): apt-get install libopenblas0-pthread")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"ms": statistics.median(times), "rss_mb": rss}))


if __name__ == "__main__":
    main()
