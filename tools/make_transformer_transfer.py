#!/usr/bin/env python3
"""Writes data/spamassassin_tokens_transfer_2000.csv: 2,000 more SpamAssassin e-mails as token ids, for
distilling models/spam_transformer.onnx into small students (the benchmark reads them *without* their labels,
as unlabeled transfer rows).

The rows are a stratified sample (seed 42) of the Transformer's training rows that are not among the 512
calibration rows, so they share nothing with spamassassin_tokens_test_1000.csv (the held-out test set) or
spamassassin_tokens_calib_512.csv (the labelled transfer rows). Same tokenizer and vocabulary as
tools/train_transformer.py, which this script imports (it does not train anything).

    /usr/bin/python3 tools/make_transformer_transfer.py [--datasets DIR]
"""
import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_teachers import DATA, MODELS, SEED, find_datasets, sample_indices  # noqa: E402
from train_transformer import encode, split_rows, tokenize, write_ids  # noqa: E402

TRANSFER_ROWS = 2000


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", help="folder with MANIFEST.md and spamassassin.csv.gz")
    args = ap.parse_args()
    df = pd.read_csv(find_datasets(args.datasets) / "spamassassin.csv.gz", dtype=str, keep_default_na=False)
    labels = (df.Label.to_numpy() == "spam").astype(np.int64)
    tokens = [tokenize(s, b) for s, b in zip(df.subject, df.body)]
    # The same split as tools/train_transformer.py: test rows, training rows (no duplicate of a test row), calibration rows.
    test_idx, train_idx, calib_idx = split_rows(df, tokens)
    vocab = (MODELS / "spam_transformer_vocab.txt").read_text(encoding="utf-8").splitlines()
    index = {t: k for k, t in enumerate(vocab)}
    # Different words can give the same ids (<unk>): leave out any row whose ids equal a test or calibration row's.
    taken = {tuple(encode(tokens[i], index)) for i in np.concatenate([test_idx, calib_idx])}
    calib_set = set(calib_idx.tolist())
    rest = np.array([i for i in train_idx if i not in calib_set and tuple(encode(tokens[i], index)) not in taken])
    transfer_idx = rest[sample_indices(df.Label.to_numpy()[rest], TRANSFER_ROWS, SEED, True)]
    ids = np.array([encode(tokens[i], index) for i in transfer_idx], dtype=np.int64)
    write_ids(DATA / "spamassassin_tokens_transfer_2000.csv", labels[transfer_idx], ids)


if __name__ == "__main__":
    main()
