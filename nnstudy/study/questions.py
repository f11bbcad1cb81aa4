"""The study's questions, declared once: which runs answer each, what the
results call them and in which order.

A question is a list of models, each optionally split along one axis (B5:
without / with dropout, B6: char / word input, the masking ablation: unmasked /
masked padding). A model or axis value names the settings of its runs, the
keyword arguments of `nnstudy.study.plan.part_a_run` / `part_b_run`, plus Part A's
`pair`: "a1" (part_a.c1, c2), "grid" (every pair of part_a.grid) or "optimum"
(the pair A2 chose for A3). `Config("dropout")` stands for the part's config
value, so a setting changed in config.yaml changes the run and its name alike.

Everything downstream reads this module: `nnstudy.study.plan` turns each question
into run folders (the training targets of rules/common.smk and the list
`nnstudy status` shows), `nnstudy.analysis` picks each question's rows from
the runs and names and orders them for tables and figures, and the HTML
report, the Snakemake report's captions (rules/report.smk passes them a
question's `about`) and the figure titles take their words from here.

Adding a B6 variant is one `Model` in `B6_VARIANTS` (a new architecture also
needs its network in nnstudy.train.models and its name in the `arch` wildcard
constraint of rules/common.smk): it is then trained for char and word input,
unmasked and masked, and shows in B6's table, figures and reference
comparison, the masking ablation and the accuracy-against-time figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Snakemake report categories, one per part.
CATEGORIES = {"part_a": "Part A: CIFAR-10", "part_b": "Part B: text classification"}
ACCURACY = ("max_test_accuracy", "mean_test_accuracy")


@dataclass(frozen=True)
class Config:
    """A run setting read from the part's config: Config("dropout") is part_b.dropout in Part B."""

    key: str


@dataclass(frozen=True)
class Model:
    """A model as tables, figures and the report name it, and its runs' settings.

    `if_listed`: the model runs only when that config list of its part names
    its optimizer (A3 a–c and part_a.optimizers).
    """

    name: str
    settings: dict = field(default_factory=dict)
    if_listed: str | None = None


@dataclass(frozen=True)
class Value:
    """One value of an axis: the settings it adds and how the report's run
    cards and a curve legend label a model at it ({model}, {value}: their names)."""

    name: str
    settings: dict
    label: str = "{model}"


@dataclass(frozen=True)
class Axis:
    """A second column splitting every model of a question.

    `panels`: the grouped learning curves draw one column of panels per value
    (B6: char, word); otherwise the values share the panels and the labels
    tell them apart (B5: "Word RNN + dropout").
    """

    column: str
    values: tuple[Value, ...]
    panels: bool = True


@dataclass(frozen=True)
class Question:
    """One question of the study.

    key: its name in file names and the {question} wildcard; part: part_a or
    part_b; column: the column that names its models; settings: shared by all
    its runs; title: figure titles; about: what the captions say it holds;
    table: the caption of its table (results/tables/<key>.csv), none without
    one ({c1}, {c2}: the part's config); subcategory: its place in
    Snakemake's report; reference: the reference report's tables
    (data/reference/<name>.csv) it is compared with, and compared: the
    numbers compared.
    """

    key: str
    part: str
    column: str
    models: tuple[Model, ...]
    axis: Axis | None = None
    settings: dict = field(default_factory=dict)
    title: str = ""
    about: str = ""
    table: str = ""
    subcategory: str = ""
    reference: tuple[str, ...] = ()
    compared: tuple[str, ...] = ACCURACY

    @property
    def keys(self) -> list[str]:
        """The columns that name one row of the question (model, then axis value)."""
        return [self.column] + ([self.axis.column] if self.axis else [])


@dataclass(frozen=True)
class Entry:
    """One model of a question at one axis value, its settings resolved."""

    names: dict  # {column: name} for every key column
    label: str
    settings: dict


# ---- Part A: CIFAR-10 ------------------------------------------------------------

A1 = Model("A1 SGD", {"pair": "a1"})
A2_OPTIMUM = Model("A2 SGD (grid optimum)", {"pair": "optimum"})
A3 = (
    Model("A3a SGD + momentum", {"pair": "optimum", "optimizer": "momentum"}, if_listed="optimizers"),
    Model("A3b RMSProp", {"pair": "optimum", "optimizer": "rmsprop"}, if_listed="optimizers"),
    Model("A3c Adam", {"pair": "optimum", "optimizer": "adam"}, if_listed="optimizers"),
    Model("A3d SGD + dropout", {"pair": "optimum", "dropout": Config("dropout")}),
)

# ---- Part B: text classification -------------------------------------------------

B1_B4 = (
    Model("Char CNN", {"level": "char", "architecture": "cnn"}),
    Model("Word CNN", {"level": "word", "architecture": "cnn"}),
    Model("Char RNN", {"level": "char", "architecture": "gru"}),
    Model("Word RNN", {"level": "word", "architecture": "gru"}),
)
WITHOUT_DROPOUT = Value("without dropout", {"dropout": 0.0})
WITH_DROPOUT = Value("with dropout", {"dropout": Config("dropout")}, label="{model} + dropout")
B6_BASELINE = Model("GRU (B3 / B4)", {"architecture": "gru"})
B6_VARIANTS = (
    Model("vanilla RNN", {"architecture": "rnn"}),
    Model("LSTM", {"architecture": "lstm"}),
    Model("2-layer GRU", {"architecture": "gru", "layers": 2}),
    Model("gradient clipping", {"architecture": "gru", "clip_threshold": Config("clip_threshold")}),
)
CHAR_WORD = (Value("char", {"level": "char"}, "{value}: {model}"), Value("word", {"level": "word"}, "{value}: {model}"))
PADDINGS = (Value("unmasked", {"mask_padding": False}, "{model}, {value}"),
            Value("masked", {"mask_padding": True}, "{model}, {value}"))  # fmt: skip

# The ablations of what the course's code did: its pixel layout (Part A) and how it clips (B6c).
LAYOUTS = (Value("images", {"pixel_layout": "images"}, "{model}"),
           Value("course", {"pixel_layout": "course"}, "{model}, the course's pixel layout"))  # fmt: skip
CLIPPED_GRUS = tuple(Model(f"{level.capitalize()} GRU", {"level": level, "architecture": "gru",
                                                         "clip_threshold": Config("clip_threshold")})
                     for level in ("char", "word"))  # fmt: skip
NO_CLIPPING = Value("no clipping", {"clip_threshold": None}, "{model}")
CLIP_MODES = (NO_CLIPPING, Value("by value", {"clip_mode": "value"}, "{model}, clipped by value"),
              Value("by global norm", {"clip_mode": "global_norm"}, "{model}, clipped by global norm"))  # fmt: skip

# fmt: off
QUESTIONS = {question.key: question for question in (
    Question("a1", "part_a", "experiment", (A1,)),
    Question(
        "a2", "part_a", "experiment", (Model("A2 SGD", {"pair": "grid"}),),
        table="A2 grid search: max and mean (over epochs) test accuracy of the CNN trained with SGD for every "
        "pair of C1 and C2 channel counts, best pair first. The workflow runs A3 with the best pair unless "
        "``part_a.optimum`` pins one.",
        subcategory="A2 grid search",
    ),
    Question("a3", "part_a", "experiment", A3),
    Question(
        "a4", "part_a", "experiment", (A1, A2_OPTIMUM, *A3),
        title="A4: all Part A models",
        about="A4 (all Part A models: the A1 network, the grid optimum and the A3 variants)",
        table="A4: the A1 network (C1, C2 = {c1}, {c2}), the grid optimum with SGD and the A3 variants "
        "(momentum, RMSProp, Adam, SGD with dropout on both dense layers), all trained with the same epochs "
        "and learning rate.",
        subcategory="A4 comparison",
        reference=("part_a",),
    ),
    Question(
        "b5", "part_b", "model", B1_B4, Axis("dropout_label", (WITHOUT_DROPOUT, WITH_DROPOUT), panels=False),
        title="B5: B1–B4 without and with dropout",
        about="B5 (B1–B4, the char / word CNN and GRU classifiers, without and with dropout)",
        table="B5: test accuracy (max and mean over epochs) and training time of the char / word CNN and GRU "
        "classifiers, without and with dropout before the output layer.",
        subcategory="B5 models and dropout",
        reference=("part_b",),
        compared=(*ACCURACY, "train_seconds"),
    ),
    Question(
        "b6", "part_b", "variant", (B6_BASELINE, *B6_VARIANTS), Axis("level", CHAR_WORD),
        title="B6: the recurrent variants",
        about="B6 (the char / word GRU and its recurrent variants)",
        table="B6: the char and word GRU classifiers (B3, B4) against their recurrent variants, one row per "
        "variant and input level: max and mean (over epochs) test accuracy and seconds per epoch.",
        subcategory="B6 recurrent variants",
        reference=("part_b", "b6"),  # the reference's GRU baseline is its B5 Char / Word RNN
    ),
    # The word-level RNNs of B4 and B6, unmasked and masked, whatever part_b.mask_padding says.
    Question(
        "masking", "part_b", "variant", (B6_BASELINE, *B6_VARIANTS), Axis("padding", PADDINGS),
        settings={"level": "word"},
        table="Padding masking ablation: the word-level recurrent models of B4 and B6 (the GRU and its variants) "
        "trained on the padded documents as the course's models are (unmasked) and with the padding masked, so "
        "that the last state follows the document's last word. Max and mean test accuracy over epochs; the gain "
        "is masked − unmasked.",
        subcategory="Padding masking ablation",
    ),
    Question(
        "layout", "part_a", "experiment", (A1,), Axis("layout", LAYOUTS, panels=False),
        table="Pixel layout ablation: the A1 network trained on the 32×32 RGB images (ours) and on what the "
        "course's code fed it, the raw CIFAR-10 rows reshaped to 32×32×3 as they are (its colour planes "
        "scrambled). Max, final-epoch and mean test accuracy over epochs.",
        subcategory="A1 pixel layout ablation",
    ),
    Question(
        "clipping", "part_b", "model", CLIPPED_GRUS, Axis("clipping", CLIP_MODES, panels=False),
        table="Gradient clipping ablation (B6c): the char and word GRU without clipping, with each gradient "
        "value clipped to ±{clip_threshold:g} and with all gradients clipped to a joint norm of "
        "{clip_threshold:g}, with the share of updates in which the clip acted.",
        subcategory="Gradient clipping ablation",
    ),
    # Every B5 and B6 run by model family, for the accuracy-against-time figure.
    Question(
        "b_accuracy_time", "part_b", "family",
        (
            Model("CNN", {"architecture": "cnn"}),
            Model("CNN + dropout", {"architecture": "cnn", "dropout": Config("dropout")}),
            B6_BASELINE,
            Model("GRU + dropout", {"architecture": "gru", "dropout": Config("dropout")}),
            *B6_VARIANTS,
        ),
        Axis("level", CHAR_WORD),
        title="Part B: test accuracy against training time",
        subcategory="B5 models and dropout",
    ),
)}
# fmt: on
# The questions the reference report has numbers for (A4, B5, B6), and those with a table.
COMPARED = [key for key, question in QUESTIONS.items() if question.reference]
TABLED = [key for key, question in QUESTIONS.items() if question.table]


@dataclass(frozen=True)
class Comparison:
    """A difference the spec asks about, inside one question: the runs of `a`
    minus those of `b`, paired by seed (nnstudy.analysis.stats.verdicts).

    a, b: {key column: name}, as nnstudy.analysis.runs.question_runs names the
    question's rows (some or all of its keys). A2's sides are places in its
    ranking instead ({RANK: 1}: the pair with the best mean max test accuracy,
    the one A2 chooses), which the data decides. says: the verdict's words;
    {verb} becomes verbs[0] when a is above b, else verbs[1], and {a} / {b}
    the sides' names: "dropout {verb} Word CNN" → "dropout lowers Word CNN".
    """

    question: str
    a: dict
    b: dict
    says: str
    verbs: tuple[str, str] = ("beats", "trails")


RANK = "rank"
RAISES = ("raises", "lowers")


def _b5(model: Model, value: Value) -> dict:
    return {"model": model.name, "dropout_label": value.name}


CHAR_CNN, WORD_CNN, CHAR_RNN, WORD_RNN = B1_B4
UNMASKED, MASKED = PADDINGS
# The comparisons of B5 (dropout per model; CNN against RNN per input), B6 (each
# variant against the one-layer GRU per input), the masking ablation, A4 (each A3
# variant against SGD at the same pair) and A2 (the chosen pair against the next).
COMPARISONS = (
    *(Comparison("b5", _b5(m, WITH_DROPOUT), _b5(m, WITHOUT_DROPOUT), f"dropout {{verb}} {m.name}", RAISES)
      for m in B1_B4),
    *(Comparison("b5", _b5(cnn, WITHOUT_DROPOUT), _b5(rnn, WITHOUT_DROPOUT), f"{cnn.name} {{verb}} {rnn.name}")
      for cnn, rnn in ((CHAR_CNN, CHAR_RNN), (WORD_CNN, WORD_RNN))),
    *(Comparison("b6", {"variant": v.name, "level": level.name}, {"variant": B6_BASELINE.name, "level": level.name},
                 f"{level.name}: {v.name} {{verb}} the one-layer GRU")
      for level in CHAR_WORD for v in B6_VARIANTS),
    *(Comparison("masking", {"variant": v.name, "padding": MASKED.name}, {"variant": v.name, "padding": UNMASKED.name},
                 f"masking {{verb}} the word-level {v.name}", RAISES)
      for v in (B6_BASELINE, *B6_VARIANTS)),
    *(Comparison("a4", {"experiment": m.name}, {"experiment": A2_OPTIMUM.name}, f"{m.name} {{verb}} SGD at that pair")
      for m in A3),
    Comparison("layout", {"layout": "course"}, {"layout": "images"}, "the course's pixel layout {verb} A1", RAISES),
    *(Comparison("clipping", {"model": m.name, "clipping": v.name}, {"model": m.name, "clipping": NO_CLIPPING.name},
                 f"clipping {v.name} {{verb}} the {m.name}", RAISES)
      for m in CLIPPED_GRUS for v in CLIP_MODES[1:]),
    Comparison("a2", {RANK: 1}, {RANK: 2}, "the best pair {a} {verb} the runner-up {b}"),
)  # fmt: skip


def reference_files(question: str, folder: str = "data/reference") -> list[str]:
    """The reference report's tables a question is compared with."""
    return [f"{folder}/{name}.csv" for name in QUESTIONS[question].reference]


def _resolve(settings: dict, config: dict) -> dict:
    return {key: config[value.key] if isinstance(value, Config) else value for key, value in settings.items()}


def entries(question: Question | str, config: dict) -> list[Entry]:
    """The models of a question at each axis value, in the study's order, with
    their settings resolved against the part's config (`config`: part_a or part_b)."""
    question = QUESTIONS[question] if isinstance(question, str) else question
    values = question.axis.values if question.axis else (Value("", {}),)
    found = []
    for model in question.models:
        if model.if_listed and model.settings["optimizer"] not in config[model.if_listed]:
            continue
        for value in values:
            names = {question.column: model.name} | ({question.axis.column: value.name} if question.axis else {})
            settings = _resolve(question.settings | model.settings | value.settings, config)
            found.append(Entry(names, value.label.format(model=model.name, value=value.name), settings))
    return found
