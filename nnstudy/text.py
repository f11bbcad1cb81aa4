"""Text data of Part B: CSV reading, character ids, word ids.

Character ids are the bytes of the paragraph's UTF-8 encoding, so there are
exactly 256 possible ids; a non-ASCII character becomes its 2–4 UTF-8 bytes
(e.g. "é" → 195, 169).  Id 0 (the NUL byte, which never occurs in text) pads.

Word ids come from a vocabulary built on the training set only: 0 is `<pad>`,
1 is `<unk>` (any word not in the vocabulary, e.g. a word seen only in the
test set), then words by decreasing frequency, ties alphabetical.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnstudy.errors import DataError

PAD, UNK = "<pad>", "<unk>"
CHAR_VOCAB_SIZE = 256
_WORD = re.compile(r"\w+(?:'\w+)?")


@dataclass
class Documents:
    labels: list[int]
    texts: list[str]


def read_csv(path: Path) -> Documents:
    """Read `label,paragraph[,...]` rows (no header; trailing empty columns ok)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    labels, texts = [], []
    with open(path, newline="", encoding="utf-8") as handle:
        for line, row in enumerate(csv.reader(handle), start=1):
            if not row or not any(cell.strip() for cell in row):
                continue
            try:
                labels.append(int(row[0]))
            except ValueError:
                raise DataError(f"{path}:{line}: bad label {row[0]!r}") from None
            if len(row) < 2 or not row[1].strip():
                raise DataError(f"{path}:{line}: missing text column")
            # The course files do not quote paragraphs, so a comma in the text
            # spreads it over several columns; rejoin them, minus the empty
            # trailing columns every row carries.
            texts.append(",".join(cell for cell in row[1:] if cell).strip())
    if not labels:
        raise DataError(f"{path}: no rows")
    return Documents(labels, texts)


def label_mapping(train_labels) -> dict[int, int]:
    """Map the training set's labels (1–14 in the course files) to 0..K-1."""
    return {label: index for index, label in enumerate(sorted(set(train_labels)))}


def encode_labels(labels, mapping: dict[int, int], source: str) -> np.ndarray:
    unknown = sorted(set(labels) - set(mapping))
    if unknown:
        raise DataError(f"{source}: labels {unknown} do not occur in the training set")
    return np.array([mapping[label] for label in labels], dtype=np.int64)


def _fit(ids: list[int], length: int) -> list[int]:
    return ids[:length] + [0] * (length - len(ids[:length]))


def char_ids(texts, length: int = 100) -> np.ndarray:
    """UTF-8 byte ids, truncated / zero-padded to `length`."""
    return np.array(
        [_fit(list(text.encode("utf-8")), length) for text in texts], dtype=np.int32
    )


def tokenize(text: str) -> list[str]:
    """Lower-cased words; punctuation is dropped, apostrophes kept inside words."""
    return _WORD.findall(text.lower())


def build_vocabulary(texts, min_count: int = 1, max_size: int | None = None) -> list[str]:
    """Vocabulary of the given (training) texts: `<pad>`, `<unk>`, then words."""
    counts = Counter(word for text in texts for word in tokenize(text))
    words = sorted(
        (word for word, count in counts.items() if count >= min_count),
        key=lambda word: (-counts[word], word),
    )
    if max_size is not None:
        words = words[: max(0, max_size - 2)]
    return [PAD, UNK, *words]


def word_ids(texts, vocabulary: list[str], length: int = 100) -> np.ndarray:
    index = {word: i for i, word in enumerate(vocabulary)}
    unk = index[UNK]
    return np.array(
        [_fit([index.get(w, unk) for w in tokenize(text)], length) for text in texts],
        dtype=np.int32,
    )
