"""The analysis stage: from the training runs' metrics.json files to the
study's results, the tables and figures under results/. Each module imports
only the ones listed before it:

- formats: how numbers are written for people (accuracies, differences,
  times, p-values);
- runs: every metrics.json read once into the tidy table of all runs
  (results/tables/all_runs.csv), and a question's rows of it, named and
  ordered by nnstudy.study.questions;
- stats: seed-aware statistics (intervals over seeds, the verdicts of the
  comparisons of questions.COMPARISONS, the reference within our spread) and
  the per-epoch histories table;
- tables: the study's tables (A2, A4, B5, B6, masking ablation, verdicts,
  histories) and A2's choice of the pair for A3;
- reference: our numbers beside the reference report's (data/reference/);
- figures: the figures over many runs (heatmap, comparison charts, grouped
  learning curves, accuracy against time);
- compare: two studies side by side, configuration by configuration and
  verdict by verdict (`nnstudy compare`: does a rerun reproduce the study?).

The stages in order: data (nnstudy.data.cifar, nnstudy.data.text), training
(nnstudy.train.job, training, models), analysis, and the HTML report
(nnstudy.report), which shows them all.

(Not "nnstudy/results": .gitignore's `results/` would hide the package.)
"""
