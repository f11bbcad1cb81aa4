"""A run's resume state: its model (with the optimizer) and history after its last saved epoch, for both engines.

A job saves it on a time cadence and after its last epoch, outside the outputs Snakemake deletes when a job fails;
started again, the job resumes there, or writes a finished run's outputs from it. It is only valid for the settings,
data and code that made it: anything else is discarded, and the run starts afresh. The model file is written first
and the history last, each atomically, so the history always names a model file that exists in full.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from nnstudy import faults
from nnstudy.errors import StudyError
from nnstudy.train import identity


class ResumeState:
    """The state in `directory` of a run with these settings and data (`fingerprint`) and this code
    (nnstudy.train.identity.current)."""

    def __init__(self, directory: Path, fingerprint: dict, code: dict | None = None):
        self.directory = Path(directory)
        self.history_file = self.directory / "history.json"
        self.fingerprint, self.code = fingerprint, code

    def load(self, epochs: int, log=print, at: dict | None = None):
        """(model, history), or (None, []) to start afresh, saying which and why.

        `at`: the epoch and model file to resume from (a pack's manifest, written after all its runs saved);
        otherwise the last saved. A state saved under other settings or data, past the requested epochs, or by
        other code is discarded. One saved before states recorded their code is taken as made by today's, once.
        """
        import keras

        if not self.history_file.is_file():
            if at is not None:
                log(f"no resume state in {self.directory} for the pack's epoch {at['epoch']}: starting from epoch 1")
            return None, []
        try:
            saved = json.loads(self.history_file.read_text())
            history, model_file = list(saved["history"]), str(saved["model_file"])
            if at is not None:
                history, model_file = history[: int(at["epoch"])], str(at["model_file"])
        except (OSError, ValueError, KeyError, TypeError) as err:
            return self.discard(f"unreadable {self.history_file.name} ({err})", log)
        if saved.get("fingerprint") != self.fingerprint or len(history) > epochs:
            return self.discard("settings or data changed", log)
        if at is not None and len(history) != int(at["epoch"]):
            return self.discard(f"it holds {len(history)} epochs, the pack's manifest {at['epoch']}", log)
        if "code" in saved:
            difference = identity.difference(saved["code"], self.code)
            if difference:
                return self.discard(f"{difference} since it was saved", log)
        try:
            model = keras.models.load_model(self.directory / model_file)
        except Exception as err:  # noqa: BLE001  a truncated or foreign file: Keras raises many kinds
            return self.discard(f"unreadable {model_file} ({type(err).__name__})", log)
        if "code" not in saved:
            log(f"the resume state in {self.directory} predates code identities: taken as made by this code")
            self._write_history(model_file, history)
        if len(history) == epochs:
            log(
                f"all {epochs} epochs are in the resume state {self.directory}: writing the outputs from it "
                "(delete it to train afresh)"
            )
        else:
            log(f"resuming after epoch {len(history)} of {epochs} from {self.directory}")
        return model, history

    def discard(self, reason: str, log):
        """A resume state is a cache: when it cannot be used, start afresh (saying so if there was one)."""
        if self.directory.exists():
            log(f"discarding resume state in {self.directory}: {reason}; starting from epoch 1")
            self.clear()
        return None, []

    def save(self, model, history: list[dict]) -> None:
        self.prune(self.write(model, history))

    def write(self, model, history: list[dict]) -> str:
        """The model file, then the history naming it; older model files stay until `prune`."""
        model_file = f"epoch-{len(history):05d}.keras"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            faults.write_atomically(self.directory / model_file, model.save)
            self._write_history(model_file, history)
        except OSError as err:
            raise StudyError(
                f"cannot save the resume state in {self.directory}: {err.strerror or err}; "
                "free space (or make it writable) and run again: the job resumes from its last saved epoch"
            ) from None
        return model_file

    def prune(self, keep: str) -> None:
        """Delete every model file but `keep`."""
        for old in self.directory.glob("epoch-*.keras"):
            if old.name != keep:
                old.unlink()

    def _write_history(self, model_file: str, history: list[dict]) -> None:
        payload = {"fingerprint": self.fingerprint, "code": self.code, "model_file": model_file, "history": history}
        faults.write_atomically(self.history_file, lambda partial: partial.write_text(json.dumps(payload)))

    def clear(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
