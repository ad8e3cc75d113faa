"""Checks and name registries for ``workbench.sweep``'s arguments.

Everything here is pure: it validates what the user passed and turns names into Optuna objects,
before anything touches a storage, so a bad argument never leaves partial sweep state behind.
"""

from __future__ import annotations

import importlib.util
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.exceptions import ExperimentalWarning

from workbench import _validation as v

__all__ = [
    "PRUNERS",
    "SAMPLERS",
    "SweepOptions",
    "check_directions",
    "make_pruner",
    "make_sampler",
]

CALLER = "workbench.sweep"
DIRECTIONS = ("minimize", "maximize")


@dataclass(frozen=True)
class _Choice:
    """A sampler or pruner known by name: how to build it and what it needs."""

    build: Callable[[int | None], Any]
    experimental: bool = False  # Optuna marks the class experimental (warns on construction)
    needs: str | None = None  # an optional package it imports when it runs
    multi_objective: bool = True


SAMPLERS: dict[str, _Choice] = {
    "tpe": _Choice(lambda seed: optuna.samplers.TPESampler(seed=seed)),
    "random": _Choice(lambda seed: optuna.samplers.RandomSampler(seed=seed)),
    "cmaes": _Choice(
        lambda seed: optuna.samplers.CmaEsSampler(seed=seed), needs="cmaes", multi_objective=False
    ),
    "gp": _Choice(lambda seed: optuna.samplers.GPSampler(seed=seed), needs="torch"),
    "nsga2": _Choice(lambda seed: optuna.samplers.NSGAIISampler(seed=seed)),
    "nsga3": _Choice(lambda seed: optuna.samplers.NSGAIIISampler(seed=seed), experimental=True),
    "qmc": _Choice(lambda seed: optuna.samplers.QMCSampler(seed=seed), experimental=True),
}
PRUNERS: dict[str, _Choice] = {
    "median": _Choice(lambda _: optuna.pruners.MedianPruner()),
    "hyperband": _Choice(lambda _: optuna.pruners.HyperbandPruner()),
    "successive_halving": _Choice(lambda _: optuna.pruners.SuccessiveHalvingPruner()),
    "wilcoxon": _Choice(lambda _: optuna.pruners.WilcoxonPruner(), experimental=True),
    "none": _Choice(lambda _: optuna.pruners.NopPruner()),
}
_NEEDS_ARGUMENTS = {
    "grid": "optuna.samplers.GridSampler({'x': [0.1, 1.0], ...})",
    "bruteforce": "optuna.samplers.BruteForceSampler()",
    "percentile": "optuna.pruners.PercentilePruner(25.0)",
    "threshold": "optuna.pruners.ThresholdPruner(upper=1.0)",
    "patient": "optuna.pruners.PatientPruner(optuna.pruners.MedianPruner(), patience=3)",
}


def _build(choice: _Choice, seed: int | None) -> Any:
    if not choice.experimental:
        return choice.build(seed)
    # The user named this algorithm explicitly; Optuna's "experimental" label is about its
    # interface, which we do not expose, so the warning would only be noise here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        return choice.build(seed)


def _from_name(
    kind: str, value: Any, registry: Mapping[str, _Choice], seed: int | None, n_objectives: int
) -> Any:
    key = value.strip().lower().replace("-", "_") if isinstance(value, str) else value
    if key in _NEEDS_ARGUMENTS and key not in registry:
        raise v.fail(
            kind,
            CALLER,
            f"a name in {sorted(registry)} or an optuna {kind} instance",
            value,
            f"{value!r} needs arguments: pass an instance, e.g. {kind}={_NEEDS_ARGUMENTS[key]}.",
        )
    if key not in registry:
        raise v.fail(
            kind,
            CALLER,
            f"a name in {sorted(registry)}, an optuna {kind} instance or None",
            value,
            f"None uses Optuna's default {kind}.",
        )
    choice = registry[key]
    if choice.needs and importlib.util.find_spec(choice.needs) is None:
        raise v.fail(
            kind,
            CALLER,
            f"usable here; {value!r} needs the {choice.needs!r} package",
            value,
            f"Install it with `pip install {choice.needs}`, or choose another {kind}.",
        )
    if n_objectives > 1 and not choice.multi_objective:
        raise v.fail(
            kind,
            CALLER,
            "a sampler that supports several objectives",
            value,
            "Use 'tpe', 'nsga2' or 'random' for a multi-objective sweep.",
        )
    return _build(choice, seed)


def make_sampler(
    value: Any, seed: int | None, n_objectives: int
) -> optuna.samplers.BaseSampler | None:
    """An Optuna sampler from a name, an instance, or None (Optuna's default for the study)."""
    if value is None:
        if seed is None:
            return None  # Optuna picks its default: TPE, or NSGA-II for several objectives
        value = "tpe" if n_objectives == 1 else "nsga2"
    if isinstance(value, optuna.samplers.BaseSampler):
        return value
    sampler: optuna.samplers.BaseSampler = _from_name(
        "sampler", value, SAMPLERS, seed, n_objectives
    )
    return sampler


def make_pruner(value: Any) -> optuna.pruners.BasePruner | None:
    """An Optuna pruner from a name, an instance, or None (Optuna's default, the median rule)."""
    if value is None or isinstance(value, optuna.pruners.BasePruner):
        return value
    pruner: optuna.pruners.BasePruner = _from_name("pruner", value, PRUNERS, None, 1)
    return pruner


def _direction_name(value: Any) -> str | None:
    if isinstance(value, optuna.study.StudyDirection):
        return value.name.lower() if value.name != "NOT_SET" else None
    if isinstance(value, str) and value.strip().lower() in DIRECTIONS:
        return value.strip().lower()
    return None


def check_directions(direction: Any, directions: Any) -> list[str] | None:
    """The requested directions as ``['minimize', ...]``, or None when the user gave none."""
    if direction is not None and directions is not None:
        raise v.fail(
            "directions",
            CALLER,
            "None when 'direction' is given",
            directions,
            f"Pass either direction={direction!r} (one objective) or directions=[...] (several "
            "objectives), not both.",
        )
    if direction is not None:
        name = _direction_name(direction)
        if name is None:
            raise v.fail(
                "direction",
                CALLER,
                "'minimize' or 'maximize'",
                direction,
                "For several objectives pass directions=['minimize', 'maximize', ...].",
            )
        return [name]
    if directions is None:
        return None
    if isinstance(directions, (str, bytes)) or not isinstance(directions, Sequence):
        raise v.fail(
            "directions",
            CALLER,
            "a list of 'minimize'/'maximize', one per objective",
            directions,
            "For one objective use direction='minimize' instead.",
        )
    names = [_direction_name(d) for d in directions]
    if not names or any(n is None for n in names):
        raise v.fail(
            "directions",
            CALLER,
            "a non-empty list of 'minimize'/'maximize', one per objective",
            directions,
        )
    return [n for n in names if n is not None]


def check_metric_names(value: Any, n_objectives: int | None) -> list[str] | None:
    """Metric names for the objective values (one per direction), or None."""
    if value is None:
        return None
    if isinstance(value, str) and n_objectives in (None, 1):
        value = [value]
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise v.fail("metric_names", CALLER, "a list of names, one per objective", value)
    names = [v.check_key(n, CALLER, name="metric_names") for n in value]
    if len(set(names)) != len(names):
        raise v.fail("metric_names", CALLER, "distinct names", value)
    if n_objectives is not None and len(names) != n_objectives:
        raise v.fail(
            "metric_names",
            CALLER,
            f"{n_objectives} name(s), one per direction",
            value,
            "Give one name per entry of directions=[...].",
        )
    return names


def _check_catch(catch: Any) -> tuple[type[Exception], ...]:
    if isinstance(catch, type):
        catch = (catch,)
    if not isinstance(catch, tuple) or not all(
        isinstance(c, type) and issubclass(c, Exception) for c in catch
    ):
        raise v.fail(
            "catch",
            CALLER,
            "a tuple of Exception classes",
            catch,
            "Use catch=() to stop the sweep at the first failing trial.",
        )
    return catch


@dataclass(frozen=True)
class SweepOptions:
    """Everything ``sweep()`` was asked to do, validated (no storage touched yet)."""

    objective: Callable[[optuna.Trial], Any]
    n_trials: int | None
    timeout: float | None
    name: str | None
    experiment: str | None
    directions: list[str] | None
    metric_names: list[str] | None
    sampler: Any
    pruner: Any
    seed: int | None
    n_jobs: int
    n_workers: int | None
    catch: tuple[type[Exception], ...]
    callbacks: tuple[Callable[..., None], ...]
    tags: Mapping[str, Any]
    progress: str

    @classmethod
    def check(cls, objective: Any, **kw: Any) -> SweepOptions:
        """Validate every argument of ``sweep()``; raise InvalidParameterError on the first bad."""
        if not callable(objective):
            raise v.fail(
                "objective",
                CALLER,
                "a callable taking an optuna.Trial and returning the value(s) to optimize",
                objective,
                "e.g. def objective(trial): return (trial.suggest_float('x', -1, 1) - 0.5) ** 2",
            )
        n_trials = v.check_positive_int(kw["n_trials"], CALLER, name="n_trials", allow_none=True)
        timeout = kw["timeout"]
        if timeout is not None and (
            isinstance(timeout, bool)
            or not isinstance(timeout, (int, float))
            or not math.isfinite(timeout)
            or timeout <= 0
        ):
            raise v.fail("timeout", CALLER, "a positive number of seconds or None", timeout)
        name = kw["name"]
        if name is not None:
            v.check_name(name, CALLER, name="name")
        experiment = kw["experiment"]
        if experiment is not None:
            v.check_name(experiment, CALLER, name="experiment")
        directions = check_directions(kw["direction"], kw["directions"])
        metric_names = check_metric_names(
            kw["metric_names"], None if directions is None else len(directions)
        )
        seed = kw["seed"]
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise v.fail("seed", CALLER, "an int or None", seed)
        n_objectives = len(directions) if directions else len(metric_names or [0])
        # Build once now so that a bad name fails before any state is written; rebuilt later.
        make_sampler(kw["sampler"], seed, n_objectives)
        make_pruner(kw["pruner"])
        n_jobs = kw["n_jobs"]
        if (
            isinstance(n_jobs, bool)
            or not isinstance(n_jobs, int)
            or not (n_jobs > 0 or n_jobs == -1)
        ):
            raise v.fail("n_jobs", CALLER, "a positive int, or -1 for one thread per CPU", n_jobs)
        n_workers = v.check_positive_int(kw["n_workers"], CALLER, name="n_workers", allow_none=True)
        callbacks = kw["callbacks"] or ()
        if not isinstance(callbacks, Sequence) or not all(callable(c) for c in callbacks):
            raise v.fail(
                "callbacks", CALLER, "a list of callables f(study, frozen_trial)", callbacks
            )
        tags = kw["tags"] or {}
        v.check_mapping(tags, CALLER, name="tags")
        for key, value in tags.items():
            v.check_key(key, CALLER, name="tags")
            v.check_tag_value(key, value, CALLER)
        progress = kw["progress"]
        choices = ("auto", "bar", "log", "none")
        if progress is True:
            progress = "auto"
        elif progress is False or progress is None:
            progress = "none"
        if progress not in choices:
            raise v.fail("progress", CALLER, f"True, False or one of {choices}", progress)
        return cls(
            objective=objective,
            n_trials=n_trials,
            timeout=None if timeout is None else float(timeout),
            name=name,
            experiment=experiment,
            directions=directions,
            metric_names=metric_names,
            sampler=kw["sampler"],
            pruner=kw["pruner"],
            seed=seed,
            n_jobs=n_jobs,
            n_workers=n_workers,
            catch=_check_catch(kw["catch"]),
            callbacks=tuple(callbacks),
            tags=dict(tags),
            progress=progress,
        )
