"""Config validation and preset resolution for the workflow.

Snakemake's own `validate()` reports a failing key as a multi-line dump of
the schema; users get one line naming the key instead.
"""

from __future__ import annotations

import copy
from pathlib import Path

import jsonschema
import yaml

from nnstudy import cifar
from nnstudy.errors import StudyError

SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "config.schema.yaml"


def _with_defaults(validator_class, definitions: dict):
    """A validator that fills in `default` values as it walks the config.

    A property's default may sit beside a local `$ref` ("#/$defs/NAME") or
    in the definition it points to.
    """
    check_properties = validator_class.VALIDATORS["properties"]

    def properties(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "$ref" in subschema:
                    subschema = definitions[subschema["$ref"].rsplit("/", 1)[-1]] | subschema
                if "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from check_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": properties})


def validate(config: dict, schema_file: Path) -> None:
    """Validate in place (filling defaults); raise StudyError naming the key."""
    schema = yaml.safe_load(Path(schema_file).read_text())
    validator = _with_defaults(jsonschema.Draft202012Validator, schema.get("$defs", {}))(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None and error.validator in ("oneOf", "anyOf"):
        # "not valid under any of the given schemas" hides what was wrong:
        # report the alternative of the value's own kind (a string's enum).
        error = jsonschema.exceptions.best_match(e for e in error.context if e.validator != "type") or error
    if error is not None:
        key = ".".join(str(part) for part in error.absolute_path) or "(top level)"
        raise StudyError(f"config error: {key}: {error.message}")


def merge(base: dict, override: dict) -> dict:
    """`override` laid over `base`, nested mappings merged key by key."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def resolve(config: dict, schema_file: Path = SCHEMA) -> dict:
    """The config with its preset applied, validated before and after."""
    validate(config, schema_file)
    preset = config["presets"].get(config["preset"])
    if preset is None:
        raise StudyError(f"config error: preset: no presets.{config['preset']} section")
    effective = merge(config, preset)
    validate(effective, schema_file)
    return effective


def check_inputs(config: dict) -> None:
    """Fail early, naming the key, when a data file of a chosen part is missing."""
    if "part_a" in config["parts"] and config["cifar10_dir"]:
        folder = Path(config["cifar10_dir"])
        for name in (cifar.TRAIN_FILE, cifar.TEST_FILE, cifar.META_FILE):
            if not (folder / name).is_file():
                raise StudyError(f"config error: cifar10_dir: {folder / name} does not exist")
    for key in ("train_csv", "test_csv") if "part_b" in config["parts"] else ():
        if not Path(config["text"][key]).is_file():
            raise StudyError(f"config error: text.{key}: {config['text'][key]} does not exist")
