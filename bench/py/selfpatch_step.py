"""PyTorch baselines for bench/suite.ts, written from docs/selfpatch.md §1-§5 (the official
main_selfpatch.train_one_epoch body, fp32): the same networks with the same state-dict keys as
@selfpatch/ssl's SelfPatchDINO, so the suite can load one set of weights on both sides.

Usage:
  selfpatch_step.py matmul N REPEATS
  selfpatch_step.py forward EMBED DEPTH HEADS BATCH SIZE REPEATS
  selfpatch_step.py step EMBED DEPTH HEADS BATCH LOCAL STEPS [OUT_DIM PATCH_OUT_DIM]
  selfpatch_step.py check WEIGHTS.pth INPUTS.pth      (one step from given weights, drop-path 0)
Prints one JSON line. Threads: torch.set_num_threads(THREADS) from env BENCH_THREADS (default 1);
run with OMP_WAIT_POLICY=PASSIVE and OPENBLAS_NUM_THREADS=THREADS (docs/tfjs-backends.md §6).
"""
import json
import math
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def ln(dim):
    return nn.LayerNorm(dim, eps=1e-6)


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = ((q @ k.transpose(-2, -1)) * (c // self.heads) ** -0.5).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


def drop_path(x, rate, training):
    if rate == 0.0 or not training:
        return x
    keep = 1 - rate
    mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
    return x * mask / keep


class Block(nn.Module):
    def __init__(self, dim, heads, dpr):
        super().__init__()
        self.norm1, self.attn, self.norm2, self.mlp = ln(dim), Attention(dim, heads), ln(dim), Mlp(dim, 4 * dim)
        self.dpr = dpr

    def forward(self, x):
        x = x + drop_path(self.attn(self.norm1(x)), self.dpr, self.training)
        return x + drop_path(self.mlp(self.norm2(x)), self.dpr, self.training)


class PatchEmbed(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, 16, 16)


class VisionTransformer(nn.Module):
    """SelfPatch ViT: no CLS token, no final norm (SPEC §1)."""

    def __init__(self, dim, depth, heads, drop_path_rate=0.0):
        super().__init__()
        self.patch_embed = PatchEmbed(dim)
        self.pos_embed = nn.Parameter(torch.randn(1, 196, dim) * 0.02)
        rates = [drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]
        self.blocks = nn.ModuleList([Block(dim, heads, r) for r in rates])

    def forward(self, x):
        b, _, hh, ww = x.shape
        t = self.patch_embed.proj(x).flatten(2).transpose(1, 2)
        h, w = hh // 16, ww // 16
        pe = self.pos_embed
        if h * w != 196 or h != w:
            g = 14
            pe = pe.reshape(1, g, g, -1).permute(0, 3, 1, 2)
            pe = F.interpolate(pe, scale_factor=((h + 0.1) / g, (w + 0.1) / g), mode="bicubic", align_corners=False)
            pe = pe.permute(0, 2, 3, 1).reshape(1, h * w, -1)
        t = t + pe
        for blk in self.blocks:
            t = blk(t)
        return t


class ClassAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v, self.proj = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, u):
        b, n, c = u.shape
        d = c // self.heads
        q = self.q(u[:, 0]).reshape(b, 1, self.heads, d).transpose(1, 2) * d ** -0.5
        k = self.k(u).reshape(b, n, self.heads, d).transpose(1, 2)
        v = self.v(u).reshape(b, n, self.heads, d).transpose(1, 2)
        a = (q @ k.transpose(-2, -1)).softmax(dim=-1)
        return self.proj((a @ v).transpose(1, 2).reshape(b, 1, c))


class CABlock(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.norm1, self.attn, self.norm2, self.mlp = ln(dim), ClassAttention(dim, heads), ln(dim), Mlp(dim, 4 * dim)

    def forward(self, x, t):
        t = t + self.attn(self.norm1(torch.cat([t, x], 1)))
        return t + self.mlp(self.norm2(t))


def neighbour_table(s):
    rows = []
    for r in range(s):
        for c in range(s):
            n = r * s + c
            cells = sorted({((r + dr) % s) * s + (c + dc) % s for dr in (-1, 0, 1) for dc in (-1, 0, 1)} - {n})
            rows.append(cells)
    return torch.tensor(rows)


class SelfPatchHead(nn.Module):
    def __init__(self, dim, heads, k_num=4):
        super().__init__()
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.cls_blocks = nn.ModuleList([CABlock(dim, heads) for _ in range(2)])
        self.norm = ln(dim)
        self.k_num = k_num
        self.tables = {}

    def agg(self, x):
        t = self.cls_token.expand(x.shape[0], -1, -1)
        for blk in self.cls_blocks:
            t = blk(x, t)
        return t

    def forward(self, x, loc):
        b, n, c = x.shape
        g = self.agg(x)
        if not loc:
            return self.norm(torch.cat([g, x], 1))
        s = int(round(math.sqrt(n)))
        nb = self.tables.setdefault(s, neighbour_table(s))
        xn = F.normalize(x, dim=-1)
        sim = (xn.unsqueeze(2) * xn[:, nb]).sum(-1)  # [B, N, 8]
        top = sim.topk(self.k_num, dim=-1).indices
        idx = torch.gather(nb.unsqueeze(0).expand(b, -1, -1), 2, top)  # [B, N, k]
        y = x[torch.arange(b)[:, None, None], idx].reshape(b * n, self.k_num, c)
        z = self.agg(y).reshape(b, n, c)
        return self.norm(torch.cat([g, z], 1))


class DINOHead(nn.Module):
    def __init__(self, in_dim, out_dim, hidden=2048, bottleneck=256):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, bottleneck))
        self.last_layer = nn.utils.weight_norm(nn.Linear(bottleneck, out_dim, bias=False))
        self.last_layer.weight_g.data.fill_(1)
        self.last_layer.weight_g.requires_grad = False

    def forward(self, x):
        return self.last_layer(F.normalize(self.mlp(x), dim=-1, p=2))


class SelfPatchDINO(nn.Module):
    def __init__(self, dim, depth, heads, out_dim, patch_out_dim, drop_path_rate=0.0):
        super().__init__()
        self.backbone = VisionTransformer(dim, depth, heads, drop_path_rate)
        self.ca_head = SelfPatchHead(dim, heads)
        self.c_head = DINOHead(dim, out_dim)
        self.p_head = DINOHead(dim, patch_out_dim)

    def forward(self, x, loc):
        h = self.ca_head(self.backbone(x), loc)
        return self.c_head(h[:, :1]), self.p_head(h[:, 1:])


class DINOLoss:
    def __init__(self, out_dim, patch_out_dim, ncrops):
        self.center = torch.zeros(1, 1, out_dim)
        self.patch_center = torch.zeros(1, patch_out_dim)
        self.ncrops = ncrops

    def __call__(self, s_cls, s_patch, t_cls, t_patch, b, t_temp=0.04):
        sc, sp = s_cls.chunk(self.ncrops), s_patch
        q = [F.softmax((t - self.center) / t_temp, dim=-1).detach() for t in t_cls.chunk(self.ncrops)[:2]]
        cls_terms = []
        for i in range(2):
            for v in range(self.ncrops):
                if v != i:
                    cls_terms.append(torch.sum(-q[i] * F.log_softmax(sc[v] / 0.1, dim=-1), dim=-1).mean())
        patch_terms = []
        for i, (s, t) in enumerate(zip(sp, t_patch)):
            qq = F.softmax((t - self.patch_center) / t_temp, dim=-1).detach()
            patch_terms.append(torch.sum(-qq * F.log_softmax(s / 0.1, dim=-1), dim=-1).mean())
        l_cls = sum(cls_terms) / len(cls_terms)
        l_patch = sum(patch_terms) / len(patch_terms)
        with torch.no_grad():
            self.center = self.center * 0.9 + 0.1 * t_cls.mean(0, keepdim=True)
            tot = sum(t.sum(dim=(0, 1)) for t in t_patch)
            cnt = sum(t.shape[0] * t.shape[1] for t in t_patch)
            self.patch_center = self.patch_center * 0.9 + 0.1 * (tot / cnt)[None]
        return l_cls + 0.1 * l_patch, l_cls, l_patch


def param_groups(model):
    reg, notreg = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (notreg if name.endswith(".bias") or p.ndim == 1 else reg).append(p)
    return [{"params": reg}, {"params": notreg, "weight_decay": 0.0}]


def cosine(base, final, n):
    return [final + 0.5 * (base - final) * (1 + math.cos(math.pi * i / n)) for i in range(n)]


class Step:
    """One official training iteration (SPEC §5) over `crops` = 2 global (+ local) views."""

    def __init__(self, student, teacher, ncrops, total):
        self.student, self.teacher = student, teacher
        self.loss = DINOLoss(student.c_head.last_layer.weight_v.shape[0], student.p_head.last_layer.weight_v.shape[0], ncrops)
        self.opt = torch.optim.AdamW(param_groups(student))
        self.lr = cosine(5e-4, 1e-6, total)
        self.wd = cosine(0.04, 0.4, total)
        self.mom = cosine(0.996, 1.0, total)

    def __call__(self, crops, it, epoch):
        for i, g in enumerate(self.opt.param_groups):
            g["lr"] = self.lr[it]
            if i == 0:
                g["weight_decay"] = self.wd[it]
        glob, loc = crops[:2], crops[2:]
        with torch.no_grad():
            t_out = [self.teacher(torch.cat(glob), True)] + ([self.teacher(torch.cat(loc), True)] if loc else [])
        s_out = [self.student(torch.cat(glob), False)] + ([self.student(torch.cat(loc), False)] if loc else [])
        b = glob[0].shape[0]
        t_cls = torch.cat([o[0] for o in t_out])
        s_cls = torch.cat([o[0] for o in s_out])
        t_patch = [p for o in t_out for p in o[1].chunk(o[1].shape[0] // b)]
        s_patch = [p for o in s_out for p in o[1].chunk(o[1].shape[0] // b)]
        loss, l_cls, l_patch = self.loss(s_cls, s_patch, t_cls, t_patch, b)
        if not math.isfinite(loss.item()):
            sys.exit("loss is not finite")
        self.opt.zero_grad()
        loss.backward()
        for p in self.student.parameters():  # clip_gradients: per parameter, 3.0
            if p.grad is not None:
                clip = 3.0 / (p.grad.data.norm(2) + 1e-6)
                if clip < 1:
                    p.grad.data.mul_(clip)
        if epoch < 1:  # cancel_gradients_last_layer
            for n, p in self.student.named_parameters():
                if "last_layer" in n:
                    p.grad = None
        self.opt.step()
        with torch.no_grad():
            m = self.mom[it]
            for ps, pt in zip(self.student.parameters(), self.teacher.parameters()):
                pt.data.mul_(m).add_((1 - m) * ps.detach().data)
        return loss.item(), l_cls.item(), l_patch.item()


def check_blas():
    """Exits unless torch's BLAS is OpenBLAS. Debian's torch links the libblas.so.3 alternative,
    mapped from import on, which is the reference BLAS unless libopenblas0 is installed."""
    with open("/proc/self/maps") as f:
        if "openblas" not in f.read():
            sys.exit("torch is using Debian's reference BLAS (10x slower): apt-get install libopenblas0-pthread")


def median_ms(fn, repeats):
    """Median wall ms of `fn()` over `repeats` calls after one warm-up call."""
    times = []
    for i in range(repeats + 1):
        t0 = time.perf_counter()
        fn()
        if i:
            times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    check_blas()  # before any timing: a refused baseline should not cost a run first
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))
    torch.manual_seed(0)
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "matmul":
        n, repeats = int(args[0]), int(args[1])
        a, b = torch.randn(n, n), torch.randn(n, n)
        ms = median_ms(lambda: (a @ b).sum().item(), repeats)
        print(json.dumps({"ms": ms, "gflops": 2 * n ** 3 / ms / 1e6}))
    elif mode == "forward":
        dim, depth, heads, batch, size, repeats = map(int, args[:6])
        net = VisionTransformer(dim, depth, heads).eval()
        x = torch.randn(batch, 3, size, size)
        with torch.no_grad():
            ms = median_ms(lambda: net(x).sum().item(), repeats)
        print(json.dumps({"ms": ms, "rss_mb": rss_mb()}))
    elif mode == "step":
        dim, depth, heads, batch, n_local, steps = map(int, args[:6])
        out_dim, patch_out = (int(args[6]), int(args[7])) if len(args) > 7 else (65536, 4096)
        student = SelfPatchDINO(dim, depth, heads, out_dim, patch_out, drop_path_rate=0.1).train()
        teacher = SelfPatchDINO(dim, depth, heads, out_dim, patch_out).eval()
        teacher.load_state_dict(student.state_dict())
        for p in teacher.parameters():
            p.requires_grad = False
        total = steps + 2
        step = Step(student, teacher, 2 + n_local, total)
        crops = [torch.randn(batch, 3, 224, 224) for _ in range(2)] + [torch.randn(batch, 3, 96, 96) for _ in range(n_local)]
        times, losses = [], []
        for it in range(total):
            t0 = time.perf_counter()
            losses.append(step(crops, it, it)[0])
            if it >= 2:  # same warm-up as the tfjs side (step 1 creates the last layers' Adam state)
                times.append((time.perf_counter() - t0) * 1000)
        print(json.dumps({"ms": statistics.median(times), "rss_mb": rss_mb(), "losses": losses}))
    elif mode == "check":
        weights, inputs = torch.load(args[0]), torch.load(args[1])
        dim, depth, heads, out_dim, patch_out = (int(v) for v in inputs["config"].tolist())
        student = SelfPatchDINO(dim, depth, heads, out_dim, patch_out)
        teacher = SelfPatchDINO(dim, depth, heads, out_dim, patch_out).eval()
        sd = {k: v for k, v in weights.items()}
        student.load_state_dict(sd)
        teacher.load_state_dict(sd)
        crops = [inputs[f"crop{i}"] for i in range(sum(1 for k in inputs if k.startswith("crop")))]
        for p in teacher.parameters():
            p.requires_grad = False
        step = Step(student, teacher, len(crops), 3)
        loss, l_cls, l_patch = step(crops, 0, 0)
        loss1 = step(crops, 1, 1)[0]
        print(json.dumps({"loss": loss, "cls": l_cls, "patch": l_patch, "loss1": loss1}))
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
