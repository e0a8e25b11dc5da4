"""`cnnablate run SPEC --set KEY=VALUE`: a command-line override of the spec's base, as Hydra's
`key=value` is of its config.

Each override is merged into the spec's `base.set`, after the spec's own entries, so it holds in
every cell; factor levels, the Optuna search space and the spec's budget still apply on top of
it. An override that one of them sets again in every cell would change nothing, and is refused.
The overridden spec is another experiment (another hash): its text, the merged spec under a
comment naming the --set arguments, is what the results folder's `spec.yaml` and the study
record, so that `status` and a later `run` of that folder see what was run.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from typing import Any

import yaml

from cnnablate.config import ExperimentConfig, apply_dict, parse_overrides, printable
from cnnablate.errors import UserError
from cnnablate.presets import get_preset
from cnnablate.runner.spec import Spec, UniqueKeyLoader, param_targets, parse_spec


def with_overrides(spec: Spec, sets: list[str]) -> Spec:
    """`spec` with the `KEY=VALUE` overrides in its base, checked as the spec's own base.set."""
    overrides = parse_overrides(sets)
    merged = merged_set(spec.model.base.set, overrides)
    _check_base(spec, merged)
    for key in overrides:
        _check_not_undone(spec, key)
    where = f"{spec.path or spec.name} with --set"
    return parse_spec(overridden_text(spec, merged, sets), where=where, path=spec.path)


def merged_set(base_set: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """base.set, then the overrides. A key in both moves to the end (applied after the rest),
    unless it keeps its value and no later entry changes part of it: then the spec, and its
    hash, are the spec's own."""
    keys = list(base_set)
    kept = {
        key
        for index, key in enumerate(keys)
        if key in overrides
        and overrides[key] == base_set[key]
        and not any(other.startswith(key + ".") for other in keys[index + 1 :])
    }
    merged = {key: value for key, value in base_set.items() if key not in overrides or key in kept}
    merged.update({key: value for key, value in overrides.items() if key not in kept})
    return merged


def overridden_text(spec: Spec, merged: dict[str, Any], sets: list[str]) -> str:
    """The spec's YAML with `merged` as base.set, under a comment naming the --set arguments."""
    raw = yaml.load(spec.text, Loader=UniqueKeyLoader)
    base = {**(raw.get("base") or {}), "set": merged}
    body = {key: value for key, value in raw.items() if key != "base"}
    head = [key for key in ("name", "description") if key in body]
    body = {
        **{key: body[key] for key in head},
        "base": base,
        **{key: value for key, value in body.items() if key not in head},
    }
    source = printable(str(spec.path or spec.name))
    flags = " ".join(f"--set {shlex.quote(printable(item))}" for item in sets)
    header = (
        f"# cnnablate run {source} {flags}\n"
        "# (this spec: those overrides merged into base.set, after its own entries)\n"
    )
    dumped = yaml.safe_dump(body, sort_keys=False, allow_unicode=True, default_flow_style=None)
    return header + dumped


def overrides_line(spec: Spec, sets: list[str]) -> str:
    flags = " ".join(f"--set {item}" for item in sets)
    return printable(
        f"{flags}: in the base of every cell, factor levels on top (spec hash {spec.hash})"
    )


def _check_base(spec: Spec, merged: dict[str, Any]) -> None:
    """The base config with the merged base.set and the budget, as parse_spec checks a base."""
    preset = spec.model.base.preset
    base = get_preset(preset).config if preset else ExperimentConfig()
    try:
        apply_dict(base, {**merged, **spec.budget_overrides()}, where="--set")
    except UserError as error:
        message = str(error)
        raise UserError(message if message.startswith("--set") else f"--set: {message}") from None


def _covers(keys: Iterable[str], key: str) -> bool:
    """Whether setting `keys` overwrites `key` (itself, or a field or item inside it)."""
    return any(key == other or key.startswith(other + ".") for other in keys)


def _check_not_undone(spec: Spec, key: str) -> None:
    """Refuse an override that the spec sets again in every cell."""
    shown = printable(key)
    if _covers(spec.budget_overrides(), key):
        raise UserError(
            f"--set {shown}: the spec's budget sets it in every cell, so it would change "
            "nothing; change the spec's budget, or cap every trial with --max-steps"
        )
    for factor, levels in spec.levels.items():
        if all(_covers(level.overrides, key) for level in levels):
            raise UserError(
                f"--set {shown}: every level of factor '{printable(factor)}' sets it (levels "
                "apply on top of --set), so it would change nothing; change the factor instead"
            )
    space = spec.model.optuna.space if spec.model.optuna else {}
    for name, param in space.items():
        if _covers(param_targets(name, param), key):
            raise UserError(
                f"--set {shown}: the search space's '{printable(name)}' sets it in every "
                "trial, so it would change nothing; change its range in the spec instead"
            )
