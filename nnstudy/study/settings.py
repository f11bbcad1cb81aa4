"""Config validation and preset resolution for the workflow.

Snakemake's own `validate()` reports a failing key as a multi-line dump of the schema; users get one line
naming the key instead.
"""

from __future__ import annotations

import copy
import datetime
import math
from pathlib import Path

import jsonschema
import yaml

from nnstudy.data import cifar
from nnstudy.errors import StudyError

SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml"


def _with_defaults(validator_class, definitions: dict):
    """A validator that fills in `default` values (beside a local `$ref` or in its definition) as it walks the
    config; its integers are written as such (10.0 is no epoch count) and its numbers finite (NaN is no rate)."""
    check_properties = validator_class.VALIDATORS["properties"]

    def properties(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                subschema = _resolved(subschema, definitions)
                if "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from check_properties(validator, properties, instance, schema)

    types = validator_class.TYPE_CHECKER.redefine_many(
        {
            "integer": lambda _, value: isinstance(value, int) and not isinstance(value, bool),
            "number": lambda _, value: (
                isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            ),
        }
    )
    return jsonschema.validators.extend(validator_class, {"properties": properties}, type_checker=types)


def _resolved(schema: dict, definitions: dict) -> dict:
    if "$ref" in schema:
        return definitions[schema["$ref"].rsplit("/", 1)[-1]] | schema
    return schema


def _coerce(value, schema: dict, definitions: dict):
    """Values as the schema types them: `snakemake --config` hands nested values and list items over as text
    ("seeds=[1, 2]" → [1, "2"], "training={tensorboard: true}" → "true"), an empty value as None."""
    schema = _resolved(schema, definitions)
    for alternative in schema.get("oneOf", []):  # e.g. part_a.optimum: null or [c1, c2]
        alternative = _resolved(alternative, definitions)
        if isinstance(value, list) and "items" in alternative:
            return _coerce(value, alternative, definitions)
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else types
    if isinstance(value, str) and types and "string" not in types:
        parsed = yaml.safe_load(value)
        kind = {bool: "boolean", int: "integer", float: "number"}.get(type(parsed))
        return parsed if kind in types or (kind == "integer" and "number" in types) else value
    if value is None and "string" in types and "null" not in types:
        return ""
    if isinstance(value, list) and "items" in schema:
        return [_coerce(item, schema["items"], definitions) for item in value]
    if isinstance(value, dict) and "properties" in schema:
        return {key: _coerce(item, schema["properties"].get(key, {}), definitions) for key, item in value.items()}
    return value


def _first_error(config: dict, schema: dict) -> tuple[str, str] | None:
    """(key path, message) of the most telling error, or None; fills defaults."""
    validator = _with_defaults(jsonschema.Draft202012Validator, schema.get("$defs", {}))(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None and error.validator in ("oneOf", "anyOf"):
        # "not valid under any of the given schemas" hides what was wrong: report the alternative of the
        # value's own kind (a string's enum).
        error = jsonschema.exceptions.best_match(e for e in error.context if e.validator != "type") or error
    if error is None:
        return None
    key = ".".join(str(part) for part in error.absolute_path) or "(top level)"
    message = error.message
    if error.validator == "type" and isinstance(error.instance, float) and not math.isfinite(error.instance):
        message = f"{error.instance} is not a finite number"
    return key, message


def _schema(schema_file: Path) -> dict:
    return yaml.safe_load(Path(schema_file).read_text())


def validate(config: dict, schema_file: Path) -> None:
    """Validate in place (typing values, filling defaults); raise StudyError naming the key."""
    schema = _schema(schema_file)
    config.update(_coerce(config, schema, schema.get("$defs", {})))
    error = _first_error(config, schema)
    if error is not None:
        raise StudyError(f"config error: {error[0]}: {error[1]}")


def merge(base: dict, override: dict) -> dict:
    """`override` laid over `base`, nested mappings merged key by key."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        nested = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = merge(merged[key], value) if nested else value
    return merged


def resolve(config: dict, schema_file: Path = SCHEMA) -> dict:
    """The config, validated, with its preset applied; every preset is checked over it, so that a typo in a
    preset not chosen today is found now (the error names the key inside presets.NAME)."""
    validate(config, schema_file)
    schema = _schema(schema_file)
    for name, preset in config["presets"].items():
        error = _first_error(merge(config, preset), schema)
        if error is not None:
            raise StudyError(f"config error: presets.{name}.{error[0]}: {error[1]}")
    preset = config["presets"].get(config["preset"])
    if preset is None:
        raise StudyError(f"config error: preset: no presets.{config['preset']} section")
    effective = merge(config, preset)
    validate(effective, schema_file)
    # The questions a chosen question builds on must be chosen too.
    chosen = set(effective["questions"])
    needs = {"a4": {"a1", "a2", "a3"}, "a3": set() if effective["part_a"]["optimum"] else {"a2"}}
    for key, needed in needs.items():
        if key in chosen and not needed <= chosen:
            missing = ", ".join(sorted(needed - chosen))
            raise StudyError(f"config error: questions: {key} builds on {missing}: list it too (or leave {key} out)")
    deadline = effective["training"]["deadline"]
    if isinstance(deadline, str):
        try:
            datetime.datetime.fromisoformat(deadline)
        except ValueError:
            message = f"config error: training.deadline: {deadline!r} is neither minutes nor an ISO 8601 time"
            raise StudyError(message) from None
    backend = effective["training"]["backend"]
    backend = backend if isinstance(backend, str) else backend.get("cifar_cnn", "tensorflow")
    if effective["training"]["engine"] == "scan" and backend != "jax":
        raise StudyError(f"config error: training.engine: scan needs training.backend jax for cifar_cnn, not {backend}")
    return effective


def load(workdir: Path = Path("."), configfiles=(), overrides=()) -> dict:
    """The resolved config for `nnstudy status` and `publish`, read as Snakemake reads it (rules/common.smk
    resolves its own): config.yaml, then --configfile files, then --config KEY=VALUE items (YAML values)."""
    base = Path(workdir) / "config.yaml"
    if not base.is_file():
        raise StudyError(f"no config.yaml in {Path(workdir).resolve()}: run this in the workflow directory")
    config = {}
    for path in [base, *map(Path, configfiles)]:
        try:
            config = merge(config, yaml.safe_load(path.read_text()) or {})
        except (OSError, yaml.YAMLError) as err:
            raise StudyError(f"{path}: unreadable config ({err})") from None
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise StudyError(f"--config {item}: expected KEY=VALUE")
        config = merge(config, {key: yaml.safe_load(value) if value else ""})  # nested, as Snakemake merges them
    return resolve(config)


def preset_overrides(config: dict, schema_file: Path = SCHEMA) -> list[str]:
    """A note per value the user set (it is not the schema's default) that the chosen preset replaces."""
    schema = _schema(schema_file)
    definitions = schema.get("$defs", {})
    preset = config["presets"].get(config["preset"]) or {}
    notes = []
    for path, value in _leaves(preset):
        node, given = schema, config
        for key in path:
            node = _resolved(node, definitions).get("properties", {}).get(key, {})
            given = given.get(key) if isinstance(given, dict) else None
        default = _resolved(node, definitions).get("default")
        if given is not None and given != default and given != value:
            key = ".".join(path)
            notes.append(f"note: preset {config['preset']} sets {key}: {value} over your {key}: {given} (presets win)")
    return notes


def _leaves(tree: dict, path: tuple = ()):
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            yield from _leaves(value, (*path, key))
        else:
            yield (*path, key), value


# What the workflow writes and deletes; the resume state must stay out of it.
OUTPUT_FOLDERS = ("results", "logs", "benchmarks", "resources")


def check_inputs(config: dict) -> None:
    """Fail early, naming the key, when a data file of a chosen part is missing, or the resume folder overlaps
    the outputs (clearing a finished run's state would delete its own results, resume_dir: ".")."""
    resume = Path(config["training"]["resume_dir"]).resolve()
    for name in OUTPUT_FOLDERS:
        output = Path(name).resolve()
        if resume == output or output in resume.parents or resume in output.parents:
            raise StudyError(
                f"config error: training.resume_dir: {config['training']['resume_dir']!r} overlaps the "
                f"workflow's {name}/ folder; give the resume state a folder of its own (default: resume)"
            )
    if "part_a" in config["parts"] and config["cifar10_dir"]:
        folder = Path(config["cifar10_dir"])
        for name in (cifar.TRAIN_FILE, cifar.TEST_FILE, cifar.META_FILE):
            if not (folder / name).is_file():
                raise StudyError(f"config error: cifar10_dir: {folder / name} does not exist")
    for key in ("train_csv", "test_csv") if "part_b" in config["parts"] else ():
        if not Path(config["text"][key]).is_file():
            raise StudyError(f"config error: text.{key}: {config['text'][key]} does not exist")
