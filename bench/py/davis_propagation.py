"""PyTorch baseline for bench/davis-propagation.ts: the official DAVIS propagation loop
(`eval_video_segmentation.py`: ViT features, label_propagation with the 12-patch neighbourhood
mask, top-5, τ 0.1, first frame + queue of 7, bilinear ×16 upsampling, norm_mask, argmax) on
random 480×832 frames, fp32, eval mode.

Usage: davis_propagation.py EMBED DEPTH HEADS FRAMES TIMED THREADS
Prints {"ms_per_frame": median over the last TIMED frames}.
"""
import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from vit_forward import Block  # noqa: E402


def restrict_neighborhood(h, w, size=12):
    mask = torch.zeros(h, w, h, w)
    for i in range(h):
        for j in range(w):
            mask[i, j, max(0, i - size):min(h, i + size + 1), max(0, j - size):min(w, j + size + 1)] = 1
    return mask.reshape(h * w, h * w)


def norm_mask(mask):
    c, _, _ = mask.size()
    for cnt in range(c):
        m = mask[cnt, :, :]
        if m.max() > 0:
            m = m - m.min()
            m = m / m.max()
            mask[cnt, :, :] = m
    return mask


def label_propagation(feat_tar, list_frame_feats, list_segs, h, w, mask_neighborhood, topk=5):
    ncontext = len(list_frame_feats)
    feat_sources = torch.stack(list_frame_feats)
    feat_tar = F.normalize(feat_tar, dim=1, p=2)
    feat_sources = F.normalize(feat_sources, dim=1, p=2)
    feat_tar = feat_tar.unsqueeze(0).repeat(ncontext, 1, 1)
    aff = torch.exp(torch.bmm(feat_tar, feat_sources) / 0.1)
    aff *= mask_neighborhood.unsqueeze(0)
    aff = aff.transpose(2, 1).reshape(-1, h * w)
    tk_val, _ = torch.topk(aff, dim=0, k=topk)
    tk_val_min, _ = torch.min(tk_val, dim=0)
    aff[aff < tk_val_min] = 0
    aff = aff / torch.sum(aff, keepdim=True, axis=0)
    list_segs = [s for s in list_segs]
    segs = torch.cat(list_segs)
    nmb_context, C, h, w = segs.shape
    segs = segs.reshape(nmb_context, C, -1).transpose(0, 1).reshape(C, -1)
    return torch.mm(segs, aff).reshape(1, C, h, w)


def main():
    embed, depth, heads, frames, timed, threads = map(int, sys.argv[1:7])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    H, W, P = 480, 832, 16
    h, w = H // P, W // P
    patch = nn.Conv2d(3, embed, P, P)
    blocks = nn.Sequential(*[Block(embed, heads) for _ in range(depth)])
    pos = torch.randn(1, h * w, embed) * 0.02
    mask_nb = restrict_neighborhood(h, w)
    times = []
    with torch.no_grad():
        def feats(x):
            return blocks(patch(x).flatten(2).transpose(1, 2) + pos)[0]  # [hw, C]
        f1 = feats(torch.randn(1, 3, H, W)).T  # [C, hw]
        first_seg = torch.zeros(1, 2, h, w)
        first_seg[:, 1, : h // 2, : w // 2] = 1
        first_seg[:, 0] = 1 - first_seg[:, 1]
        que = []
        for t in range(1, frames):
            t0 = time.perf_counter()
            ft = feats(torch.randn(1, 3, H, W))
            used_feats = [f1] + [q[0] for q in que]
            used_segs = [first_seg] + [q[1] for q in que]
            seg = label_propagation(ft, used_feats, used_segs, h, w, mask_nb)
            if len(que) == 7:
                que.pop(0)
            que.append([ft.T, seg])
            up = F.interpolate(seg, scale_factor=P, mode="bilinear", align_corners=False, recompute_scale_factor=False)[0]
            lab = torch.argmax(norm_mask(up), dim=0)
            lab.sum().item()
            if t >= frames - timed:
                times.append((time.perf_counter() - t0) * 1000)
    with open("/proc/self/maps") as f:
        if "openblas" not in f.read():
            sys.exit("torch is using Debian's reference BLAS (10x slower): apt-get install libopenblas0-pthread")
    print(json.dumps({"ms_per_frame": statistics.median(times)}))


if __name__ == "__main__":
    main()
