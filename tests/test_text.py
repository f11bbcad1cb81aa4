import csv

import numpy as np
import pytest
from conftest import copy_workflow, snakemake

from nnstudy.data import text
from nnstudy.errors import DataError


def write(path, content):
    path.write_text(content, encoding="utf-8")
    return path


def test_csv_tolerates_trailing_columns_and_rejoins_commas(tmp_path):
    lines = [
        "3, Paris, the capital of France, is large.,,,,",
        '7," Quoted, with a comma",,',
        "",
        "14, Plain paragraph.",
    ]
    path = write(tmp_path / "train.csv", "\n".join(lines) + "\n")
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
    with pytest.raises(DataError, match=r"test.csv: label 15 does not occur in the training set"):
        text.encode_labels([15], mapping, "test.csv")


def test_course_files_parse():
    from conftest import REPO

    train = text.read_csv(REPO / "data/text/train_medium.csv")
    test = text.read_csv(REPO / "data/text/test_medium.csv")
    assert len(train.labels) == 5600 and len(test.labels) == 700
    assert sorted(set(train.labels)) == list(range(1, 15))
    assert all(t and not t.startswith(" ") for t in train.texts)


def error_line(call, *args) -> str:
    with pytest.raises(DataError) as caught:
        call(*args)
    return str(caught.value)


def test_unbalanced_quote_is_an_error_on_its_line(tmp_path):
    """csv would read the open quote on to the end of the file: 4 rows as 1."""
    path = write(tmp_path / "train.csv", '1, First.,,\n2,"Opened, never closed.,,\n3, Third.,,\n4, Fourth.,,\n')
    assert error_line(text.read_csv, path) == f"{path}:2: unbalanced or misplaced double quote (unexpected end of data)"


def test_text_after_a_closing_quote_is_an_error(tmp_path):
    path = write(tmp_path / "train.csv", '1, First.\n2,"Quoted" then more\n')
    assert (
        error_line(text.read_csv, path)
        == f"""{path}:2: unbalanced or misplaced double quote (',' expected after '"')"""
    )


def test_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "train.csv"
    path.write_bytes("1, First.,,\n2, Second.,,\n".encode("utf-8-sig"))
    documents = text.read_csv(path)
    assert documents.labels == [1, 2] and documents.texts == ["First.", "Second."]


def test_latin1_bytes_are_an_error_naming_the_line(tmp_path):
    path = tmp_path / "train.csv"
    path.write_bytes("1, First.\n2, Caf\u00e9 au lait.\n".encode("latin-1"))
    assert error_line(text.read_csv, path) == f"{path}:2: byte 0xe9 is not UTF-8; save the file as UTF-8"


def test_nul_character_is_an_error(tmp_path):
    """Id 0 pads the character ids; UTF-16 files are full of NULs."""
    path = write(tmp_path / "train.csv", "1, First.\n2, Sec\0ond.\n")
    assert error_line(text.read_csv, path) == f"{path}:2: NUL character; save the file as UTF-8 text"


def test_field_longer_than_csv_limit_is_read(tmp_path):
    limit = csv.field_size_limit()
    long_text = "word " * 40_000 + "end"
    path = write(tmp_path / "train.csv", f"1, First.,,\n2, {long_text},,\n3, Third.,,\n")
    documents = text.read_csv(path)
    assert documents.labels == [1, 2, 3] and documents.texts[1] == long_text and len(long_text) > 131_072
    assert csv.field_size_limit() == limit


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_errors_name_file_lines(tmp_path, newline):
    rows = ["1, First.", "", "2, Second.", ",,,", "x, Bad."]
    path = tmp_path / "train.csv"
    path.write_bytes(newline.join(rows).encode())
    assert error_line(text.read_csv, path) == f"{path}:5: bad label 'x'"


@pytest.mark.parametrize(
    "label, problem",
    [
        ("0", "label 0 outside 1..14"),
        (" 15 ", "label 15 outside 1..14"),
        ("-1", "label -1 outside 1..14"),
        ("1.0", "bad label '1.0'"),
        ("\u0661", "bad label '\u0661'"),  # ARABIC-INDIC DIGIT ONE, which int() would take for 1
    ],
)
def test_labels_outside_1_to_14_are_errors(tmp_path, label, problem):
    """Otherwise a typo in a training label becomes a 15th class."""
    path = write(tmp_path / "train.csv", f"1, First.\n{label}, Second.\n")
    assert error_line(text.read_csv, path) == f"{path}:2: {problem}"


def test_test_label_missing_from_training_set_names_its_line(tmp_path):
    train = text.read_csv(write(tmp_path / "train.csv", "1, One.\n2, Two.\n"))
    test_path = write(tmp_path / "test.csv", "1, One.\n\n2, Two.\n3, Three.\n")
    test = text.read_csv(test_path)
    mapping = text.label_mapping(train.labels)
    assert text.encode_labels(train.labels, mapping, "train.csv").tolist() == [0, 1]
    message = error_line(text.encode_labels, test.labels, mapping, str(test_path))
    assert message == f"{test_path}:4: label 3 does not occur in the training set"


@pytest.mark.integration
def test_bad_csv_fails_prepare_text_with_one_line(tmp_path):
    """Through the real workflow: one line on the terminal, none of a traceback in the log."""
    workflow = copy_workflow(tmp_path / "workflow")
    bad = write(tmp_path / "train.csv", '1, First.,,\n2,"Opened, never closed.,,\n3, Third.,,\n')
    config = write(tmp_path / "text.yaml", f"text: {{train_csv: {bad}, test_csv: data/text/test_medium.csv}}\n")
    target = "results/part_b/data/vocabulary.json"
    result = snakemake(
        workflow,
        "--cores",
        "1",
        target,
        "--configfile",
        str(config),
        "--config",
        "preset=smoke",
        check=False,
        timeout=300,
    )
    assert result.returncode != 0
    error = f"error in rule prepare_text: {bad}:2: unbalanced or misplaced double quote (unexpected end of data)"
    assert error in result.stderr.splitlines()
    log = (workflow / "logs/prepare_text.log").read_text()
    assert "Traceback" not in log and log.splitlines()[-1].endswith(f"error: {error.split(': ', 1)[1]}")
    assert not (workflow / target).exists()
