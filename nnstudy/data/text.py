"""Text data of Part B: CSV reading, character ids, word ids.

The CSVs are UTF-8 (a leading byte-order mark is fine), one document per line: an integer label 1–14 (the
14 DBpedia classes of the course files), then the paragraph.  Any other label is an error naming its file
and line, so that a typo can't become an extra class.

Character ids are the bytes of the paragraph's UTF-8 encoding, so there are exactly 256 possible ids; a
non-ASCII character becomes its 2–4 UTF-8 bytes (e.g. "é" → 195, 169).  Id 0 (the NUL byte, which never
occurs in text) pads.

Word ids come from a vocabulary built on the training set only: 0 is `<pad>`, 1 is `<unk>` (any word not
in the vocabulary, e.g. one seen only in the test set), then words by decreasing frequency, ties alphabetical.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnstudy.errors import DataError

PAD, UNK = "<pad>", "<unk>"
CHAR_VOCAB_SIZE = 256
NUM_CLASSES = 14
LABELS = range(1, NUM_CLASSES + 1)
_WORD = re.compile(r"\w+(?:'\w+)?")
_LABEL = re.compile(r"\s*[+-]?[0-9]+\s*")
# Bytes that are not UTF-8, as the "surrogateescape" error handler keeps them.
_NOT_UTF8 = re.compile("[\udc80-\udcff]")


class Labels(list):
    """A CSV's labels in row order, with each one's file line in `lines`, so that a later check (a test
    label the training set lacks) can name the line."""

    def __init__(self):
        super().__init__()
        self.lines: list[int] = []


@dataclass
class Documents:
    labels: Labels
    texts: list[str]


def read_csv(path: Path) -> Documents:
    """Read `label,paragraph[,...]` lines (no header; trailing empty columns ok), one document a line: a
    quote left open is an error on its line instead of swallowing the lines after it."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    content = path.read_bytes().decode("utf-8-sig", errors="surrogateescape")
    documents = Documents(Labels(), [])
    # csv's field size limit (131,072) stops a quoted field that runs away through the rest of a file;
    # parsing one line at a time already does, and a long paragraph is data (ids keep its start only).
    previous = csv.field_size_limit(max(len(content), csv.field_size_limit()))
    try:
        for line, raw in enumerate(io.StringIO(content, newline=""), start=1):
            document = _document(path, line, raw)
            if document is not None:
                documents.labels.append(document[0])
                documents.labels.lines.append(line)
                documents.texts.append(document[1])
    finally:
        csv.field_size_limit(previous)
    if not documents.labels:
        raise DataError(f"{path}: no rows")
    return documents


def _document(path: Path, line: int, raw: str) -> tuple[int, str] | None:
    """(label, paragraph) of one file line; None for a blank line."""
    if undecodable := _NOT_UTF8.search(raw):
        byte = ord(undecodable.group()) - 0xDC00
        raise DataError(f"{path}:{line}: byte 0x{byte:02x} is not UTF-8; save the file as UTF-8")
    if "\0" in raw:
        # Id 0 pads the character ids; a NUL also means a binary or UTF-16 file.
        raise DataError(f"{path}:{line}: NUL character; save the file as UTF-8 text")
    try:
        row = next(csv.reader([raw], strict=True), [])
    except csv.Error as err:
        raise DataError(f"{path}:{line}: unbalanced or misplaced double quote ({err})") from None
    if not any(cell.strip() for cell in row):
        return None
    if not _LABEL.fullmatch(row[0]):
        raise DataError(f"{path}:{line}: bad label {row[0]!r}")
    label = int(row[0])
    if label not in LABELS:
        raise DataError(f"{path}:{line}: label {label} outside {LABELS[0]}..{LABELS[-1]}")
    if len(row) < 2 or not row[1].strip():
        raise DataError(f"{path}:{line}: missing text column")
    # The course files do not quote paragraphs, so a comma in the text spreads it over several columns;
    # rejoin them, minus the empty trailing columns every row carries.
    return label, ",".join(cell for cell in row[1:] if cell).strip()


def label_mapping(train_labels) -> dict[int, int]:
    """Map the training set's labels (1–14 in the course files) to 0..K-1."""
    return {label: index for index, label in enumerate(sorted(set(train_labels)))}


def encode_labels(labels, mapping: dict[int, int], source: str) -> np.ndarray:
    """Class ids of `labels`; a label the training set lacks is an error (on its line, from `read_csv`)."""
    lines = getattr(labels, "lines", None)
    for index, label in enumerate(labels):
        if label not in mapping:
            where = f"{source}:{lines[index]}" if lines else source
            raise DataError(f"{where}: label {label} does not occur in the training set")
    return np.array([mapping[label] for label in labels], dtype=np.int64)


def _fit(ids: list[int], length: int) -> list[int]:
    return ids[:length] + [0] * (length - len(ids[:length]))


def char_ids(texts, length: int = 100) -> np.ndarray:
    """UTF-8 byte ids, truncated / zero-padded to `length`."""
    return np.array([_fit(list(text.encode("utf-8")), length) for text in texts], dtype=np.int32)


def tokenize(text: str) -> list[str]:
    """Lower-cased words; punctuation is dropped, apostrophes kept inside words."""
    return _WORD.findall(text.lower())


def build_vocabulary(texts, min_count: int = 1, max_size: int | None = None) -> list[str]:
    """Vocabulary of the given (training) texts: `<pad>`, `<unk>`, then words."""
    counts = Counter(word for text in texts for word in tokenize(text))
    words = sorted((word for word, count in counts.items() if count >= min_count), key=lambda w: (-counts[w], w))
    if max_size is not None:
        words = words[: max(0, max_size - 2)]
    return [PAD, UNK, *words]


def word_ids(texts, vocabulary: list[str], length: int = 100) -> np.ndarray:
    index = {word: i for i, word in enumerate(vocabulary)}
    unk = index[UNK]
    return np.array([_fit([index.get(w, unk) for w in tokenize(text)], length) for text in texts], dtype=np.int32)


def prepare(*, train_csv, test_csv, length, min_count, max_vocabulary, outputs, log=print):
    """The prepare_text job: read both CSVs once; save char ids, word ids, labels and the vocabulary."""
    train = read_csv(train_csv)
    test = read_csv(test_csv)
    mapping = label_mapping(train.labels)
    vocabulary = build_vocabulary(train.texts, min_count, max_vocabulary)
    for level, encode in (
        ("char", lambda texts: char_ids(texts, length)),
        ("word", lambda texts: word_ids(texts, vocabulary, length)),
    ):
        np.savez_compressed(
            outputs[level],
            x_train=encode(train.texts),
            y_train=encode_labels(train.labels, mapping, str(train_csv)),
            x_test=encode(test.texts),
            y_test=encode_labels(test.labels, mapping, str(test_csv)),
        )
    known = set(vocabulary)
    unknown = sum(word not in known for t in test.texts for word in tokenize(t))
    info = {
        "labels": {str(label): index for label, index in mapping.items()},
        "num_classes": len(mapping),
        "length": length,
        "char_vocabulary_size": CHAR_VOCAB_SIZE,
        "vocabulary": vocabulary,
        "train_documents": len(train.labels),
        "test_documents": len(test.labels),
        "test_unknown_words": unknown,
    }
    Path(outputs["vocabulary"]).write_text(json.dumps(info, indent=1) + "\n")
    log(
        f"{len(train.labels)} training and {len(test.labels)} test documents, "
        f"{len(mapping)} classes, {len(vocabulary)} words in the vocabulary"
    )
