#!/usr/bin/python3
"""Train data/models/spam_token_transformer.onnx: a small 2-layer Transformer-encoder spam classifier that takes
token ids as people ship them, int64 `input_ids` [batch, 128] and int64 `attention_mask` [batch, 128] (no float
input, no Cast trick), the network fixture for token-id inputs in every quantization mode and pruning method.

Run from the repository root with Debian's Python (python3-torch 1.13, python3-onnx 1.12, python3-numpy,
python3-pandas):

    OMP_NUM_THREADS=2 /usr/bin/python3 tools/train_token_transformer.py

Data, split and tokenizer are those of tools/train_transformer.py (same source file, same held-out test rows,
same vocabulary data/models/spam_transformer_vocab.txt, which this script reads and never rewrites), so the
committed data/spamassassin_tokens_{calib_512,test_1000}.csv are its data too: `input_ids` = the 128 ids of a
row, `attention_mask` = 1 where the id is not <pad> (0), else 0.

Model (float32, ONNX opset 17): Gather(embedding 3072x64) + positional embedding [128, 64] -> 2 pre-LayerNorm
encoder layers (4 heads of 16, FFN 128, ReLU; padded keys get -10000 added to their attention scores) ->
LayerNorm -> mean over the unpadded positions -> Linear 64->2 -> Score [batch, 2] (logits; 0 = ham, 1 = spam).
"""

import argparse
import math
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_teachers import MODELS, constants_to_initializers, find_datasets  # noqa: E402
from train_transformer import SEQ_LEN, Proj, encode, name_weights, split_rows, tokenize  # noqa: E402

VOCAB = 3072
D_MODEL = 64
HEADS = 4
FFN = 128
LAYERS = 2
OPSET = 17


class EncoderLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = nn.LayerNorm(D_MODEL)
        self.q, self.k, self.v, self.o = (Proj(D_MODEL, D_MODEL) for _ in range(4))
        self.ln2 = nn.LayerNorm(D_MODEL)
        self.ff1 = Proj(D_MODEL, FFN)
        self.ff2 = Proj(FFN, D_MODEL)

    def forward(self, x, key_bias):
        dh = D_MODEL // HEADS
        h = self.ln1(x)
        q = self.q(h).reshape(-1, SEQ_LEN, HEADS, dh).transpose(1, 2) * (1.0 / math.sqrt(dh))
        k = self.k(h).reshape(-1, SEQ_LEN, HEADS, dh).permute(0, 2, 3, 1)
        v = self.v(h).reshape(-1, SEQ_LEN, HEADS, dh).transpose(1, 2)
        a = torch.softmax(q @ k + key_bias, dim=-1) @ v
        x = x + self.o(a.transpose(1, 2).reshape(-1, SEQ_LEN, D_MODEL))
        return x + self.ff2(torch.relu(self.ff1(self.ln2(x))))


class TokenTransformer(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, D_MODEL)
        self.pos = nn.Parameter(torch.randn(SEQ_LEN, D_MODEL) * 0.02)
        self.layers = nn.ModuleList(EncoderLayer() for _ in range(LAYERS))
        self.ln = nn.LayerNorm(D_MODEL)
        self.head = nn.Linear(D_MODEL, 2)

    def forward(self, input_ids, attention_mask):
        mask = attention_mask.to(torch.float32)
        key_bias = ((1.0 - mask) * -10000.0)[:, None, None, :]
        h = self.embed(input_ids) + self.pos
        for layer in self.layers:
            h = layer(h, key_bias)
        h = self.ln(h) * mask[:, :, None]
        pooled = h.sum(dim=1) / torch.clamp(mask.sum(dim=1, keepdim=True), min=1.0)
        return self.head(pooled)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", help="folder with MANIFEST.md and spamassassin.csv.gz")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ds = find_datasets(args.datasets)
    t0 = time.time()
    print(f"datasets: {ds}\ntorch {torch.__version__}, onnx {onnx.__version__}, threads {torch.get_num_threads()}")

    df = pd.read_csv(ds / "spamassassin.csv.gz", dtype=str, keep_default_na=False)
    labels = (df.Label.to_numpy() == "spam").astype(np.int64)
    tokens = [tokenize(s, b) for s, b in zip(df.subject, df.body)]
    test_idx, train_idx, calib_idx = split_rows(df, tokens)
    vocab = (MODELS / "spam_transformer_vocab.txt").read_text(encoding="utf-8").split("\n")[:VOCAB]
    index = {t: k for k, t in enumerate(vocab)}
    ids = np.array([encode(t, index) for t in tokens], dtype=np.int64)
    print(f"  train {len(train_idx)}, test {len(test_idx)}, calibration {len(calib_idx)}; vocabulary {len(vocab)}")

    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    model = TokenTransformer()
    Xtr, ytr = torch.as_tensor(ids[train_idx]), torch.as_tensor(labels[train_idx])
    Xte, yte = torch.as_tensor(ids[test_idx]), labels[test_idx]
    batch = 32
    steps = args.epochs * math.ceil(len(Xtr) / batch)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 100) * max(0.0, 1 - s / max(1, steps)))

    def predict(X):
        return torch.cat([model(X[s:s + 200], (X[s:s + 200] != 0).long()).argmax(1) for s in range(0, len(X), 200)]).numpy()

    Proj.fast = True
    for ep in range(args.epochs):
        model.train()
        perm = torch.randperm(len(Xtr), generator=g)
        tot, t1 = 0.0, time.time()
        for s in range(0, len(Xtr), batch):
            b = perm[s:s + batch]
            opt.zero_grad()
            loss = F.cross_entropy(model(Xtr[b], (Xtr[b] != 0).long()), ytr[b])
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item() * len(b)
        model.eval()
        with torch.no_grad():
            acc = (predict(Xte) == yte).mean()
        print(f"  epoch {ep + 1}/{args.epochs} loss {tot / len(Xtr):.4f}, test accuracy {acc:.4f} ({time.time() - t1:.0f} s)", flush=True)
    Proj.fast = False
    model.eval()

    path = MODELS / "spam_token_transformer.onnx"
    sample = (Xte[:2], (Xte[:2] != 0).long())
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="It is recommended that constant folding be turned off")
        torch.onnx.export(model, sample, str(path), opset_version=OPSET,
                          input_names=["input_ids", "attention_mask"], output_names=["Score"],
                          dynamic_axes={"input_ids": {0: "batch"}, "attention_mask": {0: "batch"}, "Score": {0: "batch"}},
                          do_constant_folding=True)
    m = onnx.load(str(path))
    constants_to_initializers(m)
    name_weights(m)
    m.producer_name = "Microsoft.ML.Compression tools/train_token_transformer.py (torch " + torch.__version__ + ")"
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, str(path))

    ops = Counter(n.op_type for n in m.graph.node)
    params = sum(int(np.prod(t.dims)) for t in m.graph.initializer if t.data_type == onnx.TensorProto.FLOAT)
    with torch.no_grad():
        acc_t = (predict(Xte) == yte).mean()
        acc_c = (predict(torch.as_tensor(ids[calib_idx])) == labels[calib_idx]).mean()
    print(f"  {path.name}: {path.stat().st_size} bytes, {params} float parameters, opset {OPSET}, ops {dict(ops)}")
    print(f"  test accuracy (torch) {acc_t:.4f}; calibration rows {acc_c:.4f}")
    print(f"total {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
