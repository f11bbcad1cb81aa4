import numpy as np
import pytest

from nnstudy import text
from nnstudy.errors import DataError


def write(path, content):
    path.write_text(content, encoding="utf-8")
    return path


def test_csv_tolerates_trailing_columns_and_rejoins_commas(tmp_path):
    path = write(
        tmp_path / "train.csv",
        '3, Paris, the capital of France, is large.,,,,\n'
        '7," Quoted, with a comma",,\n'
        "\n"
        "14, Plain paragraph.\n",
    )
    documents = text.read_csv(path)
    assert documents.labels == [3, 7, 14]
    assert documents.texts == ["Paris, the capital of France, is large.", "Quoted, with a comma", "Plain paragraph."]


@pytest.mark.parametrize(
    "content, message",
    [
        ("1, fine\nx, bad label\n", r"train.csv:2: bad label 'x'"),
        ("1, fine\n2,,,\n", r"train.csv:2: missing text column"),
        ("1, fine\n2\n", r"train.csv:2: missing text column"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path, content, message):
    with pytest.raises(DataError, match=message):
        text.read_csv(write(tmp_path / "train.csv", content))


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        text.read_csv(tmp_path / "absent.csv")
    with pytest.raises(DataError, match="no rows"):
        text.read_csv(write(tmp_path / "empty.csv", "\n"))


def test_char_ids_are_utf8_bytes_padded_and_truncated():
    ids = text.char_ids(["ab", "é" + "x" * 200], length=5)
    assert ids.shape == (2, 5) and ids.dtype == np.int32
    assert ids[0].tolist() == [97, 98, 0, 0, 0]
    # A non-ASCII character becomes its UTF-8 bytes, all below 256.
    assert ids[1].tolist() == [195, 169, 120, 120, 120]
    assert text.char_ids(["日本"], length=8).max() < text.CHAR_VOCAB_SIZE


def test_vocabulary_comes_from_training_texts_only():
    train = ["The cat sat.", "the dog sat", "A cat"]
    vocabulary = text.build_vocabulary(train)
    assert vocabulary[:2] == [text.PAD, text.UNK]
    # Most frequent first, ties alphabetical; lower-cased, punctuation dropped.
    assert vocabulary[2:] == ["cat", "sat", "the", "a", "dog"]
    ids = text.word_ids(["the zebra sat"], vocabulary, length=6)
    assert ids.tolist() == [[vocabulary.index("the"), 1, vocabulary.index("sat"), 0, 0, 0]]


def test_vocabulary_limits():
    train = ["a a a b b c"]
    assert text.build_vocabulary(train, min_count=2) == [text.PAD, text.UNK, "a", "b"]
    assert text.build_vocabulary(train, max_size=3) == [text.PAD, text.UNK, "a"]


def test_word_ids_truncate_to_length():
    vocabulary = text.build_vocabulary(["w " * 150])
    assert text.word_ids(["w " * 150], vocabulary, length=100).shape == (1, 100)


def test_tokenizer_keeps_inner_apostrophes():
    assert text.tokenize("It's Smith's 2nd book, (1999)!") == ["it's", "smith's", "2nd", "book", "1999"]


def test_labels_map_to_contiguous_ids_and_unknown_labels_fail():
    mapping = text.label_mapping([14, 1, 7, 1])
    assert mapping == {1: 0, 7: 1, 14: 2}
    assert text.encode_labels([7, 14], mapping, "test.csv").tolist() == [1, 2]
    with pytest.raises(DataError, match=r"test.csv: labels \[15\] do not occur"):
        text.encode_labels([15], mapping, "test.csv")


def test_course_files_parse():
    from conftest import REPO

    train = text.read_csv(REPO / "data/text/train_medium.csv")
    test = text.read_csv(REPO / "data/text/test_medium.csv")
    assert len(train.labels) == 5600 and len(test.labels) == 700
    assert sorted(set(train.labels)) == list(range(1, 15))
    assert all(t and not t.startswith(" ") for t in train.texts)
