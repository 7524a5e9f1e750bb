#!/usr/bin/python3
"""Build the small real-data subsets in data/ and train the ONNX teacher models in data/models/.

Run from the repository root with Debian's Python (packages python3-torch, python3-onnx,
python3-numpy, python3-pandas):

    /usr/bin/python3 tools/train_teachers.py                  # subsets + all four teachers
    /usr/bin/python3 tools/train_teachers.py --subsets-only   # only data/*.csv
    /usr/bin/python3 tools/train_teachers.py --models spam_mlp letter_mlp

Source data: the CSV files described in shared/datasets/MANIFEST.md (first column `Label`,
header row, no quoted fields in the files used here). Override the location with --datasets.

Everything is deterministic: subsets use numpy.random.default_rng(42); training uses
torch.manual_seed(0), a fixed number of torch threads and fixed epochs.

ONNX conventions (all models): opset 13, one input `Features` float32 [batch, F] (raw,
unscaled features; standardisation or /255 happens inside the graph), one output `Score`
float32 [batch, K] holding logits. All weights are float32 graph initializers; any Constant
node the exporter emits is moved into the initializer list.
"""

import argparse
import gzip
import io
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
import onnx
from onnx import numpy_helper

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"
MODELS = DATA / "models"
SEED = 42
OPSET = 13


# --------------------------------------------------------------------------------------------
# Data subsets
# --------------------------------------------------------------------------------------------

def find_datasets(arg):
    cands = [arg] if arg else [os.environ.get("DATASETS"), REPO / "shared" / "datasets",
                                REPO.parent / "shared" / "datasets", "/work/shared/datasets"]
    for c in cands:
        if c and (Path(c) / "MANIFEST.md").exists():
            return Path(c)
    sys.exit("cannot find shared/datasets (use --datasets DIR)")


def read_lines(path):
    """Header line and data lines, verbatim (the files used here have no quoted fields)."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", newline="") as f:
        text = f.read()
    assert "\r" not in text and '"' not in text, f"{path}: unexpected CR or quote"
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines[0], lines[1:]


def labels_of(rows):
    return np.array([r.split(",", 1)[0] for r in rows])


def sample_indices(labels, n, seed, stratify):
    """Row indices (sorted, i.e. in source-file order) of a seeded random sample.

    Stratified: class c gets floor(n * N_c / N) rows, the remaining rows go to the classes with
    the largest fractional parts (ties: class order); within each class (classes in sorted
    order) the rows are the first ones of rng.permutation(rows of class c)."""
    N = len(labels)
    if n >= N:
        return np.arange(N)
    rng = np.random.default_rng(seed)
    if not stratify:
        return np.sort(rng.permutation(N)[:n])
    classes, counts = np.unique(labels, return_counts=True)
    exact = n * counts / N
    take = np.floor(exact).astype(int)
    order = np.argsort(-(exact - take), kind="stable")
    take[order[: n - take.sum()]] += 1
    idx = []
    for c, k in zip(classes, take):
        members = np.flatnonzero(labels == c)
        idx.append(rng.permutation(members)[:k])
    return np.sort(np.concatenate(idx))


# name -> (source file, rows, stratified[, subset whose lines are left out of the sample])
SUBSETS = {
    "spam.csv": ("spam.csv", 2000, True),
    "letter.csv": ("letter.csv", 5000, True),
    # Other Letter rows (none byte-identical to a line of letter.csv): unlabeled transfer data and a large
    # test set for the LETTER.p2 distillation benchmark.
    "letter_extra.csv": ("letter.csv", 10000, True, "letter.csv"),
    # Every remaining Letter row (none byte-identical to a line of letter.csv or letter_extra.csv): more unlabeled
    # transfer data for the LETTER.p2 benchmark (its labels are dropped there).
    "letter_unlabeled.csv": ("letter.csv", None, False, "letter.csv", "letter_extra.csv"),
    "cps1988.csv": ("cps1988.csv", 4000, False),
    "wa_churn.csv": ("wa_churn.csv", None, False),
    "fashion_mnist_test_1000.csv": ("fashion_mnist_test.csv.gz", 1000, True),
    "fashion_mnist_calib_512.csv": ("fashion_mnist_train.csv.gz", 512, True),
    # The distillation matrix (examples/Benchmarks/Distillation/DistillMatrixScenario.cs): big sets cut to 3,000 rows.
    "lending_club.csv": ("lending_club.csv", 3000, True),
    "shuttle.csv": ("shuttle.csv", 3000, True),
    "diamonds.csv": ("diamonds.csv", 3000, False),
    "digits.csv": ("digits.csv", None, False),
    "wine.csv": ("wine.csv", None, False),
    "breast_cancer.csv": ("breast_cancer.csv", None, False),
}

_cache = {}


def source(ds, fname):
    if fname not in _cache:
        _cache[fname] = read_lines(ds / fname)
    return _cache[fname]


def subset(ds, name):
    """(header, all source rows, chosen indices) for one subset."""
    fname, n, strat, *exclude = SUBSETS[name]
    header, rows = source(ds, fname)
    if exclude:
        taken = set()
        for other in exclude:
            _, other_rows, other_idx = subset(ds, other)
            taken |= {other_rows[i] for i in other_idx}
        pool = np.array([i for i, r in enumerate(rows) if r not in taken])
        pick = sample_indices(labels_of([rows[i] for i in pool]), n if n is not None else len(pool), SEED, strat)
        return header, rows, pool[pick]
    idx = sample_indices(labels_of(rows), n if n is not None else len(rows), SEED, strat)
    return header, rows, idx


def make_subsets(ds):
    DATA.mkdir(parents=True, exist_ok=True)
    for name in SUBSETS:
        header, rows, idx = subset(ds, name)
        text = header + "\n" + "".join(rows[i] + "\n" for i in idx)
        out = DATA / name
        old = out.read_text(encoding="utf-8") if out.exists() else None
        if old != text:
            out.write_text(text, encoding="utf-8", newline="")
        labs = labels_of([rows[i] for i in idx])
        u, c = np.unique(labs, return_counts=True)
        print(f"{name}: {len(idx)} rows x {header.count(',') + 1} cols"
              f" ({'unchanged' if old == text else 'written'}); "
              + (f"{len(u)} classes, {c.min()}..{c.max()} per class" if len(u) < 30 else "regression"))


def check_subset_file(ds, name):
    header, rows, idx = subset(ds, name)
    text = header + "\n" + "".join(rows[i] + "\n" for i in idx)
    assert (DATA / name).read_text(encoding="utf-8") == text, \
        f"data/{name} differs from the seeded sample; rerun with --subsets-only"


def parse(header, rows):
    return pd.read_csv(io.StringIO(header + "\n" + "\n".join(rows) + "\n"), dtype={"Label": str})


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------

class Standardize(nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32))

    def forward(self, x):
        return (x - self.mean) / self.std


class Scale(nn.Module):
    def __init__(self, divisor):
        super().__init__()
        self.register_buffer("divisor", torch.tensor([divisor], dtype=torch.float32))

    def forward(self, x):
        return x / self.divisor


class ToImage(nn.Module):
    def forward(self, x):
        return x.reshape(-1, 1, 28, 28)


def mlp(sizes):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return layers


def fashion_cnn():
    return nn.Sequential(
        Scale(255.0), ToImage(),
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, 64), nn.ReLU(),
        nn.Linear(64, 10))


def train(model, X, y, epochs, batch, lr, weight_decay=0.0, log=""):
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    X = torch.as_tensor(X, dtype=torch.float32)
    y = torch.as_tensor(y, dtype=torch.long)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    lossf = nn.CrossEntropyLoss()
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(len(X), generator=g)
        tot = 0.0
        for s in range(0, len(X), batch):
            b = perm[s:s + batch]
            opt.zero_grad()
            loss = lossf(model(X[b]), y[b])
            loss.backward()
            opt.step()
            tot += loss.item() * len(b)
        if ep == epochs - 1 or (epochs <= 20) or (ep + 1) % 10 == 0:
            print(f"  {log} epoch {ep + 1}/{epochs} loss {tot / len(X):.4f}", flush=True)
    model.eval()
    return model


def export(model, n_features, path):
    model.eval()
    dummy = torch.zeros(2, n_features, dtype=torch.float32)
    with warnings.catch_warnings():
        # torch warns about constant folding with PRESERVE; it only matters for models in training mode.
        warnings.filterwarnings("ignore", message="It is recommended that constant folding be turned off")
        torch.onnx.export(
            model, dummy, str(path), opset_version=OPSET,
            input_names=["Features"], output_names=["Score"],
            dynamic_axes={"Features": {0: "batch"}, "Score": {0: "batch"}},
            # PRESERVE with the model in eval mode = inference export, but it skips the
            # eval-mode peephole pass that would fuse BatchNormalization into Conv.
            training=torch.onnx.TrainingMode.PRESERVE,
            do_constant_folding=True)
    m = onnx.load(str(path))
    constants_to_initializers(m)
    m.producer_name = "Microsoft.ML.Compression tools/train_teachers.py (torch " + torch.__version__ + ")"
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, str(path))
    return m


def constants_to_initializers(m):
    g = m.graph
    keep = []
    for node in g.node:
        if node.op_type == "Constant" and len(node.attribute) == 1 and node.attribute[0].name == "value":
            t = onnx.TensorProto()
            t.CopyFrom(node.attribute[0].t)
            t.name = node.output[0]
            g.initializer.append(t)
        else:
            keep.append(node)
    del g.node[:]
    g.node.extend(keep)


# --------------------------------------------------------------------------------------------
# Independent check: evaluate the saved ONNX file with a small numpy interpreter
# (covers exactly the ops these exports use; anything else raises).
# --------------------------------------------------------------------------------------------

def _attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _conv(x, w, b, pads, strides, group=1, dilations=(1, 1)):
    assert group == 1 and tuple(dilations) == (1, 1)
    N, C, H, W = x.shape
    M, _, kh, kw = w.shape
    x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    Ho = (x.shape[2] - kh) // strides[0] + 1
    Wo = (x.shape[3] - kw) // strides[1] + 1
    cols = np.empty((N, C, kh, kw, Ho, Wo), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = x[:, :, i:i + strides[0] * Ho:strides[0], j:j + strides[1] * Wo:strides[1]]
    out = np.einsum("nkhw,mk->nmhw", cols.reshape(N, C * kh * kw, Ho, Wo), w.reshape(M, -1), optimize=True)
    return out + (b.reshape(1, -1, 1, 1) if b is not None else 0)


def run_numpy(m, X):
    env = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    env[m.graph.input[0].name] = X.astype(np.float32)
    for n in m.graph.node:
        a = _attrs(n)
        i = [env[k] if k else None for k in n.input]
        op = n.op_type
        if op == "Gemm":
            A, B = i[0], i[1]
            if a.get("transA", 0):
                A = A.T
            if a.get("transB", 0):
                B = B.T
            r = a.get("alpha", 1.0) * (A @ B)
            if len(i) > 2 and i[2] is not None:
                r = r + a.get("beta", 1.0) * i[2]
        elif op == "MatMul":
            r = i[0] @ i[1]
        elif op == "Add":
            r = i[0] + i[1]
        elif op == "Sub":
            r = i[0] - i[1]
        elif op == "Mul":
            r = i[0] * i[1]
        elif op == "Div":
            r = i[0] / i[1]
        elif op == "Relu":
            r = np.maximum(i[0], 0)
        elif op == "Reshape":
            shape = [int(s) for s in i[1]]
            shape = [i[0].shape[k] if s == 0 else s for k, s in enumerate(shape)]
            r = i[0].reshape(shape)
        elif op == "Flatten":
            ax = a.get("axis", 1)
            r = i[0].reshape(int(np.prod(i[0].shape[:ax])), -1)
        elif op == "Conv":
            k = i[1].shape[2:]
            r = _conv(i[0], i[1], i[2] if len(i) > 2 else None, a.get("pads", [0, 0, 0, 0]),
                      a.get("strides", [1, 1]), a.get("group", 1), a.get("dilations", [1, 1]))
            assert tuple(a.get("kernel_shape", k)) == tuple(k)
        elif op == "BatchNormalization":
            x, s, b, mu, var = i
            sh = (1, -1) + (1,) * (x.ndim - 2)
            r = (x - mu.reshape(sh)) / np.sqrt(var.reshape(sh) + a.get("epsilon", 1e-5)) * s.reshape(sh) + b.reshape(sh)
        elif op == "MaxPool":
            k, st = a["kernel_shape"], a.get("strides", a["kernel_shape"])
            assert list(k) == [2, 2] and list(st) == [2, 2] and not any(a.get("pads", [0]))
            N, C, H, W = i[0].shape
            r = i[0][:, :, :H // 2 * 2, :W // 2 * 2].reshape(N, C, H // 2, 2, W // 2, 2).max(axis=(3, 5))
        else:
            raise NotImplementedError(op)
        env[n.output[0]] = r.astype(np.float32)
    return env[m.graph.output[0].name]


def onnx_predict(m, X, batch=1000):
    return np.concatenate([run_numpy(m, X[s:s + batch]).argmax(1) for s in range(0, len(X), batch)])


def describe(m, path):
    ops = []
    for n in m.graph.node:
        if n.op_type not in ops:
            ops.append(n.op_type)
    inits = m.graph.initializer
    dtypes = {onnx.TensorProto.DataType.Name(t.data_type) for t in inits}
    nparams = sum(int(np.prod(t.dims)) for t in inits)
    inp, out = m.graph.input[0], m.graph.output[0]
    dims = lambda v: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
    info = dict(ops=ops, nodes=len(m.graph.node), initializers=len(inits), init_dtypes=sorted(dtypes),
                params=nparams, input=(inp.name, dims(inp)), output=(out.name, dims(out)),
                opset=[(o.domain or "ai.onnx", o.version) for o in m.opset_import],
                size=path.stat().st_size)
    assert all(n.op_type != "Constant" for n in m.graph.node)
    assert dtypes <= {"FLOAT", "INT64"}
    assert inp.name == "Features" and out.name == "Score"
    print(f"  {path.name}: {info}")
    return info


def torch_predict(model, X, batch=2000):
    with torch.no_grad():
        X = torch.as_tensor(X, dtype=torch.float32)
        return torch.cat([model(X[s:s + batch]).argmax(1) for s in range(0, len(X), batch)]).numpy()


# --------------------------------------------------------------------------------------------
# The four teachers
# --------------------------------------------------------------------------------------------

def tabular(ds, name, classes_fn):
    """Training frame = full source minus the committed subset rows (and minus any training row
    whose line is byte-identical to a held-out line, so duplicates do not leak)."""
    check_subset_file(ds, name)
    header, rows, idx = subset(ds, name)
    held = set(idx.tolist())
    held_lines = {rows[i] for i in idx}
    tr_rows = [r for k, r in enumerate(rows) if k not in held and r not in held_lines]
    dropped = len(rows) - len(held) - len(tr_rows)
    te = parse(header, [rows[i] for i in idx])
    tr = parse(header, tr_rows)
    classes = classes_fn(tr)
    cmap = {c: k for k, c in enumerate(classes)}
    Xtr = tr.drop(columns="Label").to_numpy(np.float32)
    Xte = te.drop(columns="Label").to_numpy(np.float32)
    ytr = tr.Label.map(cmap).to_numpy()
    yte = te.Label.map(cmap).to_numpy()
    print(f"  {name}: train {len(tr)} rows (source {len(rows)} - held-out {len(held)} - "
          f"{dropped} duplicates of held-out lines), test {len(te)} rows, classes {classes}")
    return Xtr, ytr, Xte, yte, classes, dropped


def std_model(Xtr, hidden):
    mean = Xtr.astype(np.float64).mean(0)
    std = Xtr.astype(np.float64).std(0)
    std[std == 0] = 1.0
    return nn.Sequential(Standardize(mean, std), *mlp([Xtr.shape[1]] + hidden))


def run_tabular(ds, key, subset_name, classes_fn, hidden, epochs, batch, lr, wd):
    t0 = time.time()
    Xtr, ytr, Xte, yte, classes, dropped = tabular(ds, subset_name, classes_fn)
    torch.manual_seed(0)
    model = train(std_model(Xtr, hidden), Xtr, ytr, epochs, batch, lr, wd, log=key)
    path = MODELS / f"{key}.onnx"
    m = export(model, Xtr.shape[1], path)
    info = describe(m, path)
    acc_t = (torch_predict(model, Xte) == yte).mean()
    acc_o = (onnx_predict(m, Xte) == yte).mean()
    tr_acc = (onnx_predict(m, Xtr) == ytr).mean()
    print(f"  {key}: held-out data/{subset_name} accuracy torch {acc_t:.4f}, onnx-file {acc_o:.4f}; "
          f"train {tr_acc:.4f}; {time.time() - t0:.0f}s")
    return dict(info, classes=classes, train_rows=len(Xtr), dropped_dups=int(dropped), epochs=epochs,
                acc_subset=float(acc_o), acc_torch=float(acc_t), acc_train=float(tr_acc),
                seconds=time.time() - t0)


def fashion_arrays(ds):
    out = {}
    for split in ("train", "test"):
        header, rows = source(ds, f"fashion_mnist_{split}.csv.gz")
        a = pd.read_csv(io.StringIO(header + "\n" + "\n".join(rows) + "\n"), dtype=np.float32).to_numpy()
        out[split] = (a[:, 1:], a[:, 0].astype(np.int64))
    check_subset_file(ds, "fashion_mnist_test_1000.csv")
    _, _, idx = subset(ds, "fashion_mnist_test_1000.csv")
    out["test1000"] = (out["test"][0][idx], out["test"][1][idx])
    return out


def run_fashion(fa, key, model, epochs, batch, lr):
    t0 = time.time()
    Xtr, ytr = fa["train"]
    torch.manual_seed(0)
    model = train(model, Xtr, ytr, epochs, batch, lr, log=key)
    path = MODELS / f"{key}.onnx"
    m = export(model, 784, path)
    info = describe(m, path)
    X, y = fa["test"]
    acc_t = (torch_predict(model, X) == y).mean()
    acc_o = (onnx_predict(m, X) == y).mean()
    X1, y1 = fa["test1000"]
    acc_1 = (onnx_predict(m, X1) == y1).mean()
    print(f"  {key}: test-10k accuracy torch {acc_t:.4f}, onnx-file {acc_o:.4f}; "
          f"data/fashion_mnist_test_1000.csv {acc_1:.4f}; {time.time() - t0:.0f}s")
    return dict(info, epochs=epochs, acc_test10k=float(acc_o), acc_torch=float(acc_t),
                acc_subset=float(acc_1), seconds=time.time() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", help="folder with MANIFEST.md and the source CSV files")
    ap.add_argument("--subsets-only", action="store_true")
    ap.add_argument("--skip-subsets", action="store_true", help="do not (re)write data/*.csv")
    ap.add_argument("--models", nargs="*", default=["spam_mlp", "letter_mlp", "fashion_mlp", "fashion_cnn"])
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    ds = find_datasets(args.datasets)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    t0 = time.time()
    print(f"datasets: {ds}\ntorch {torch.__version__}, onnx {onnx.__version__}, threads {torch.get_num_threads()}")
    if not args.skip_subsets:
        make_subsets(ds)
    if args.subsets_only:
        return
    MODELS.mkdir(parents=True, exist_ok=True)
    res = {}
    if "spam_mlp" in args.models:
        res["spam_mlp"] = run_tabular(ds, "spam_mlp", "spam.csv", lambda tr: ["nonspam", "spam"],
                                      [64, 32, 2], epochs=30, batch=64, lr=1e-3, wd=1e-3)
    if "letter_mlp" in args.models:
        res["letter_mlp"] = run_tabular(ds, "letter_mlp", "letter.csv",
                                        lambda tr: [chr(ord("A") + k) for k in range(26)],
                                        [128, 64, 26], epochs=60, batch=64, lr=1e-3, wd=0.0)
    if {"fashion_mlp", "fashion_cnn"} & set(args.models):
        fa = fashion_arrays(ds)
        if "fashion_mlp" in args.models:
            torch.manual_seed(0)
            res["fashion_mlp"] = run_fashion(fa, "fashion_mlp",
                                             nn.Sequential(Scale(255.0), *mlp([784, 300, 100, 10])),
                                             epochs=10, batch=128, lr=1e-3)
        if "fashion_cnn" in args.models:
            torch.manual_seed(0)
            res["fashion_cnn"] = run_fashion(fa, "fashion_cnn", fashion_cnn(), epochs=5, batch=128, lr=1e-3)
    print("\nsummary")
    for k, v in res.items():
        print(f"  {k}: {v}")
    print(f"total {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
