#!/usr/bin/python3
"""Train the tiny Transformer-encoder spam classifier data/models/spam_transformer.onnx and write its
token-id subsets data/spamassassin_tokens_test_1000.csv and data/spamassassin_tokens_calib_512.csv.

Run from the repository root with Debian's Python (python3-torch 1.13, python3-onnx 1.12,
python3-numpy, python3-pandas), one thread (the machine is shared; see data/models/README.md):

    OMP_NUM_THREADS=1 /usr/bin/python3 tools/train_transformer.py

Source: shared/datasets/spamassassin.csv.gz (columns Label spam/ham, group, id, subject, body;
group and id give the label away and are never used). Override the folder with --datasets.

Tokenizer (simple enough to reproduce byte for byte in any language):
  text   = subject + " " + body
  tokens = maximal runs of ASCII letters and digits [A-Za-z0-9]+, each lowercased (ASCII only),
           the first SEQ_LEN = 128 of them
  ids    = vocabulary index of each token (1 = <unk> when absent), then 0 = <pad> up to 128.
The vocabulary (data/models/spam_transformer_vocab.txt, line k = id k) is <pad>, <unk>, then the
3,070 tokens that occur in the most training e-mails (within their first 128 tokens), ties broken
by the token's ordinal string order.

Model (all float32; ONNX opset 17, so LayerNorm is one LayerNormalization node):
  Features float32 [batch, 128] (token ids as floats) -> Cast int64 -> Gather(embedding 3072x128)
  + positional embedding [128, 128] -> 2 pre-LayerNorm encoder layers (4 heads of 32, FFN 256, ReLU)
  -> LayerNorm -> mean over the 128 positions -> Linear 128->2 -> Score [batch, 2] (logits;
  0 = ham, 1 = spam). No padding mask: <pad> is an ordinary learned token.

Training uses 1x1 convolutions in place of the Linear layers (same parameters, same maths): torch
runs them through oneDNN, ten times faster than this machine's netlib BLAS. The export uses the
plain Linear form, so every projection is a MatMul (+ Add) in the ONNX graph.
"""

import argparse
import math
import re
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F
import onnx
from onnx import numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_teachers import DATA, MODELS, SEED, constants_to_initializers, find_datasets, sample_indices  # noqa: E402

SEQ_LEN = 128
VOCAB = 3072          # including <pad> = 0 and <unk> = 1
D_MODEL = 128
HEADS = 4
FFN = 256
LAYERS = 2
OPSET = 17            # LayerNormalization is an ONNX operator from opset 17
TEST_ROWS = 1000
CALIB_ROWS = 512
TOKEN = re.compile(r"[A-Za-z0-9]+")


def tokenize(subject, body):
    return [t.lower() for t in TOKEN.findall(subject + " " + body)][:SEQ_LEN]


def encode(tokens, index):
    ids = [index.get(t, 1) for t in tokens]
    return ids + [0] * (SEQ_LEN - len(ids))


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------

class Proj(nn.Linear):
    """nn.Linear whose training-time forward is a 1x1 convolution (oneDNN) on [B, L, in]."""
    fast = False

    def forward(self, x):
        if not Proj.fast or x.dim() != 3:
            return F.linear(x, self.weight, self.bias)
        return F.conv1d(x.transpose(1, 2), self.weight[:, :, None], self.bias).transpose(1, 2)


class EncoderLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = nn.LayerNorm(D_MODEL)
        self.q, self.k, self.v, self.o = (Proj(D_MODEL, D_MODEL) for _ in range(4))
        self.ln2 = nn.LayerNorm(D_MODEL)
        self.ff1 = Proj(D_MODEL, FFN)
        self.ff2 = Proj(FFN, D_MODEL)

    def forward(self, x):
        dh = D_MODEL // HEADS
        h = self.ln1(x)
        # Fixed reshape targets (-1 = batch) keep the exported graph free of Shape/Gather chains.
        q = self.q(h).reshape(-1, SEQ_LEN, HEADS, dh).transpose(1, 2) * (1.0 / math.sqrt(dh))
        k = self.k(h).reshape(-1, SEQ_LEN, HEADS, dh).permute(0, 2, 3, 1)
        v = self.v(h).reshape(-1, SEQ_LEN, HEADS, dh).transpose(1, 2)
        a = torch.softmax(q @ k, dim=-1) @ v
        x = x + self.o(a.transpose(1, 2).reshape(-1, SEQ_LEN, D_MODEL))
        return x + self.ff2(torch.relu(self.ff1(self.ln2(x))))


class SpamTransformer(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, D_MODEL)
        self.pos = nn.Parameter(torch.randn(SEQ_LEN, D_MODEL) * 0.02)
        self.layers = nn.ModuleList(EncoderLayer() for _ in range(LAYERS))
        self.ln = nn.LayerNorm(D_MODEL)
        self.head = nn.Linear(D_MODEL, 2)

    def forward(self, features):
        h = self.embed(features.long()) + self.pos
        for layer in self.layers:
            h = layer(h)
        return self.head(self.ln(h).mean(dim=1))


# --------------------------------------------------------------------------------------------
# Independent check: the saved ONNX file run by a small numpy interpreter
# --------------------------------------------------------------------------------------------

def run_numpy(m, X):
    env = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    env[m.graph.input[0].name] = X.astype(np.float32)
    for n in m.graph.node:
        a = {x.name: onnx.helper.get_attribute_value(x) for x in n.attribute}
        i = [env[k] if k else None for k in n.input]
        op = n.op_type
        if op == "Identity":
            r = i[0]
        elif op == "Cast":
            assert a["to"] == onnx.TensorProto.INT64
            r = i[0].astype(np.int64)
        elif op == "Gather":
            r = np.take(i[0], i[1], axis=a.get("axis", 0))
        elif op in ("MatMul", "Add", "Mul", "Div"):
            r = {"MatMul": np.matmul, "Add": np.add, "Mul": np.multiply, "Div": np.divide}[op](i[0], i[1])
        elif op == "Gemm":
            assert a.get("transB", 0) == 1 and a.get("alpha", 1.0) == 1.0 and a.get("beta", 1.0) == 1.0
            r = i[0] @ i[1].T + i[2]
        elif op == "Relu":
            r = np.maximum(i[0], 0)
        elif op == "Reshape":
            r = i[0].reshape([int(s) for s in i[1]])
        elif op == "Transpose":
            r = np.transpose(i[0], a["perm"])
        elif op == "Softmax":
            e = np.exp(i[0] - i[0].max(axis=a.get("axis", -1), keepdims=True))
            r = e / e.sum(axis=a.get("axis", -1), keepdims=True)
        elif op == "LayerNormalization":
            x = i[0].astype(np.float64)
            mu = x.mean(-1, keepdims=True)
            var = ((x - mu) ** 2).mean(-1, keepdims=True)
            r = (x - mu) / np.sqrt(var + a.get("epsilon", 1e-5)) * i[1] + i[2]
        elif op == "ReduceMean":
            r = i[0].mean(axis=tuple(a["axes"]), keepdims=bool(a.get("keepdims", 1)))
        else:
            raise NotImplementedError(op)
        env[n.output[0]] = r if r.dtype == np.int64 else r.astype(np.float32)
    return env[m.graph.output[0].name]


def onnx_predict(m, X, batch=100):
    return np.concatenate([run_numpy(m, X[s:s + batch]).argmax(1) for s in range(0, len(X), batch)])


def name_weights(m):
    """The exporter names the transposed Linear weights onnx::MatMul_N; name them after their layer
    (node /layers.0/q/MatMul reads layers.0.q.weight, stored [in, out]) so they can be excluded by name."""
    renames = {}
    for n in m.graph.node:
        if n.op_type == "MatMul" and n.input[1].startswith("onnx::"):
            renames[n.input[1]] = n.name.strip("/").rsplit("/", 1)[0].replace("/", ".") + ".weight"
    for t in m.graph.initializer:
        t.name = renames.get(t.name, t.name)
    for n in m.graph.node:
        for k, name in enumerate(n.input):
            n.input[k] = renames.get(name, name)


# --------------------------------------------------------------------------------------------

def split_rows(df, tokens):
    """Held-out test rows: stratified sample (seed 42); training rows: all others, minus any whose 128 tokens
    equal a test row's (duplicated e-mails would leak the test set into training); calibration rows: a stratified
    sample (seed 42) of the training rows. Returns (test_idx, train_idx, calib_idx)."""
    test_idx = sample_indices(df.Label.to_numpy(), TEST_ROWS, SEED, True)
    test_set = set(test_idx.tolist())
    test_keys = {" ".join(tokens[i]) for i in test_idx}
    train_idx = np.array([i for i in range(len(df)) if i not in test_set and " ".join(tokens[i]) not in test_keys])
    calib_idx = train_idx[sample_indices(df.Label.to_numpy()[train_idx], CALIB_ROWS, SEED, True)]
    return test_idx, train_idx, calib_idx


def write_ids(path, labels, ids):
    lines = ["Label," + ",".join(f"t{k}" for k in range(SEQ_LEN))]
    lines += [f"{y}," + ",".join(str(v) for v in row) for y, row in zip(labels, ids)]
    text = "\n".join(lines) + "\n"
    old = path.read_text(encoding="utf-8") if path.exists() else None
    if old != text:
        path.write_text(text, encoding="utf-8", newline="")
    print(f"  {path.name}: {len(ids)} rows ({'unchanged' if old == text else 'written'}), "
          f"{int(np.sum(labels))} spam")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", help="folder with MANIFEST.md and spamassassin.csv.gz")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ds = find_datasets(args.datasets)
    t0 = time.time()
    print(f"datasets: {ds}\ntorch {torch.__version__}, onnx {onnx.__version__}, threads {torch.get_num_threads()}")

    df = pd.read_csv(ds / "spamassassin.csv.gz", dtype=str, keep_default_na=False)
    labels = (df.Label.to_numpy() == "spam").astype(np.int64)
    tokens = [tokenize(s, b) for s, b in zip(df.subject, df.body)]

    test_idx, train_idx, calib_idx = split_rows(df, tokens)
    dropped = len(df) - len(test_idx) - len(train_idx)
    print(f"  spamassassin: {len(df)} rows; test {len(test_idx)}, train {len(train_idx)} "
          f"({dropped} dropped as duplicates of test inputs), calibration {len(calib_idx)} (from train)")

    df_counts = Counter(t for i in train_idx for t in set(tokens[i]))
    vocab = ["<pad>", "<unk>"] + [t for t, _ in sorted(df_counts.items(), key=lambda kv: (-kv[1], kv[0]))[:VOCAB - 2]]
    index = {t: k for k, t in enumerate(vocab)}
    MODELS.mkdir(parents=True, exist_ok=True)
    (MODELS / "spam_transformer_vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8", newline="")
    ids = np.array([encode(t, index) for t in tokens], dtype=np.int64)
    unk = (ids[train_idx] == 1).sum() / max(1, (ids[train_idx] > 0).sum())
    print(f"  vocabulary {len(vocab)} (least frequent kept: {df_counts[vocab[-1]]} e-mails); "
          f"{unk:.1%} of training tokens are <unk>")
    write_ids(DATA / "spamassassin_tokens_test_1000.csv", labels[test_idx], ids[test_idx])
    write_ids(DATA / "spamassassin_tokens_calib_512.csv", labels[calib_idx], ids[calib_idx])

    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    model = SpamTransformer()
    Xtr = torch.as_tensor(ids[train_idx], dtype=torch.float32)
    ytr = torch.as_tensor(labels[train_idx])
    Xte = torch.as_tensor(ids[test_idx], dtype=torch.float32)
    yte = labels[test_idx]
    batch = 32
    steps = args.epochs * math.ceil(len(Xtr) / batch)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 100) * max(0.0, 1 - s / max(1, steps)))
    Proj.fast = True
    for ep in range(args.epochs):
        model.train()
        perm = torch.randperm(len(Xtr), generator=g)
        tot, t1 = 0.0, time.time()
        for s in range(0, len(Xtr), batch):
            b = perm[s:s + batch]
            opt.zero_grad()
            loss = F.cross_entropy(model(Xtr[b]), ytr[b])
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item() * len(b)
        model.eval()
        with torch.no_grad():
            acc = (torch.cat([model(Xte[s:s + 200]).argmax(1) for s in range(0, len(Xte), 200)]).numpy() == yte).mean()
        print(f"  epoch {ep + 1}/{args.epochs} loss {tot / len(Xtr):.4f}, test accuracy {acc:.4f} ({time.time() - t1:.0f} s)", flush=True)
    Proj.fast = False
    model.eval()

    path = MODELS / "spam_transformer.onnx"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="It is recommended that constant folding be turned off")
        torch.onnx.export(model, Xte[:2], str(path), opset_version=OPSET,
                          input_names=["Features"], output_names=["Score"],
                          dynamic_axes={"Features": {0: "batch"}, "Score": {0: "batch"}},
                          do_constant_folding=True)
    m = onnx.load(str(path))
    constants_to_initializers(m)
    name_weights(m)
    m.producer_name = "Microsoft.ML.Compression tools/train_transformer.py (torch " + torch.__version__ + ")"
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, str(path))

    ops = Counter(n.op_type for n in m.graph.node)
    params = sum(int(np.prod(t.dims)) for t in m.graph.initializer if t.data_type == onnx.TensorProto.FLOAT)
    with torch.no_grad():
        acc_t = (torch.cat([model(Xte[s:s + 200]).argmax(1) for s in range(0, len(Xte), 200)]).numpy() == yte).mean()
    acc_o = (onnx_predict(m, ids[test_idx].astype(np.float32)) == yte).mean()
    acc_c = (onnx_predict(m, ids[calib_idx].astype(np.float32)) == labels[calib_idx]).mean()
    print(f"  {path.name}: {path.stat().st_size} bytes, {params} float parameters, opset {OPSET}, ops {dict(ops)}")
    print(f"  test accuracy torch {acc_t:.4f}, onnx-file (numpy) {acc_o:.4f}; calibration rows {acc_c:.4f}")
    print(f"total {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
