"""``workbench.sweep``'s options, declared once (:class:`SweepOptions`), and the name
registries of samplers and pruners.

Everything here is pure: it validates what the user passed and turns names into Optuna objects,
before anything touches a storage, so a bad argument never leaves partial sweep state behind.
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.exceptions import ExperimentalWarning

from workbench import _options as o
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


def _check_catch(catch: Any, name: str = "catch", caller: str = CALLER) -> tuple[type, ...]:
    if isinstance(catch, type):
        catch = (catch,)
    if not isinstance(catch, tuple) or not all(
        isinstance(c, type) and issubclass(c, Exception) for c in catch
    ):
        raise v.fail(
            name,
            caller,
            "a tuple of Exception classes",
            catch,
            "Use catch=() to stop the sweep at the first failing trial.",
        )
    return catch


def _objective(value: Any, name: str, caller: str) -> Any:
    if not callable(value):
        raise v.fail(
            name,
            caller,
            "a callable taking an optuna.Trial and returning the value(s) to optimize",
            value,
            "e.g. def objective(trial): return (trial.suggest_float('x', -1, 1) - 0.5) ** 2",
        )
    return value


def _direction(value: Any, name: str, caller: str) -> str:
    direction = _direction_name(value)
    if direction is None:
        raise v.fail(
            name,
            caller,
            "'minimize' or 'maximize'",
            value,
            "For several objectives pass directions=['minimize', 'maximize', ...].",
        )
    return direction


def _directions(value: Any, name: str, caller: str) -> list[str]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise v.fail(
            name,
            caller,
            "a list of 'minimize'/'maximize', one per objective",
            value,
            "For one objective use direction='minimize' instead.",
        )
    names = [_direction_name(d) for d in value]
    if not names or any(n is None for n in names):
        raise v.fail(
            name, caller, "a non-empty list of 'minimize'/'maximize', one per objective", value
        )
    return [n for n in names if n is not None]


def _seed(value: Any, name: str, caller: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise v.fail(name, caller, "an int or None", value)
    return value


def _pruner(value: Any, name: str, caller: str) -> Any:
    make_pruner(value)  # a bad name fails now, before any state is written
    return value


def _n_jobs(value: Any, name: str, caller: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not (value > 0 or value == -1):
        raise v.fail(name, caller, "a positive int, or -1 for one thread per CPU", value)
    return value


def _storage(value: Any, name: str, caller: str) -> Any:
    if not isinstance(value, (str, os.PathLike, optuna.storages.BaseStorage)):
        raise v.fail(name, caller, "a URL, a path, an optuna storage or None", value)
    return value


def _callbacks(value: Any, name: str, caller: str) -> tuple[Callable[..., None], ...]:
    if value is None:
        return ()
    if not isinstance(value, Sequence) or not all(callable(c) for c in value):
        raise v.fail(name, caller, "a list of callables f(study, frozen_trial)", value)
    return tuple(value)


def _tags(value: Any, name: str, caller: str) -> dict[str, Any]:
    if value is None:
        return {}
    v.check_mapping(value, caller, name=name)
    for key, tag in value.items():
        v.check_key(key, caller, name=name)
        v.check_tag_value(key, tag, caller)
    return dict(value)


def _progress(value: Any, name: str, caller: str) -> str:
    if value is True:
        return "auto"
    if value is False or value is None:
        return "none"
    if value not in PROGRESS:
        raise v.fail(name, caller, f"True, False or one of {PROGRESS}", value)
    return str(value)


PROGRESS = ("auto", "bar", "log", "none")
_SECONDS = o.Number(0, low_open=True, none=True, text="a positive number of seconds or None")


@dataclass(frozen=True)
class SweepOptions:
    """Everything ``sweep()`` was asked to do, declared once: each field's check, help and CLI
    flag (:mod:`workbench._options`). Building one validates it (no storage is touched):
    ``directions`` then holds the merged ``direction``/``directions``, ``None`` when neither
    was given."""

    objective: Callable[[optuna.Trial], Any] = o.option(
        check=o.Check(_objective, "a callable f(trial) -> value(s)"),
        default_text="required",
        help="``f(trial) -> float`` (or a sequence of floats for several ``directions``); "
        "CLI: ``--objective module:function`` or ``path/to/file.py:function``.",
    )
    n_trials: int | None = o.option(
        None,
        flag="--n-trials",
        cli={"type": int},
        check=o.Int(1, none=True),
        help="Run until the sweep has this many finished trials in total (a rerun after a "
        "crash only runs the missing ones). None: until ``timeout`` or an interrupt.",
    )
    timeout: float | None = o.option(
        None,
        flag="--timeout",
        cli={"type": float, "metavar": "SECONDS"},
        check=_SECONDS,
        help="Stop starting trials after this many seconds (this call).",
    )
    name: str | None = o.option(
        None,
        flag="name",
        check=o.Name(none=True),
        default_text="`sweep-<date>-<time>`",
        help="The sweep's name (its Optuna study name); an existing name continues that sweep.",
    )
    experiment: str | None = o.option(
        None,
        flag="--experiment",
        check=o.Name(none=True),
        default_text="the sweep's name",
        help="Experiment of the runs.",
    )
    direction: str | None = o.option(
        None,
        flag="--direction",
        cli={"choices": DIRECTIONS},
        check=o.Check(_direction, "'minimize' or 'maximize'", none=True),
        default_text="`'minimize'`",
        help="The objective's direction; a continued sweep keeps its directions.",
    )
    directions: list[str] | None = o.option(
        None,
        check=o.Check(_directions, "a list of 'minimize'/'maximize'", none=True),
        help="One direction per objective (multi-objective sweep), instead of ``direction``.",
    )
    metric_names: list[str] | None = o.option(
        None,
        check=o.Check(lambda value, name, caller: value, "a list of names, one per objective"),
        default_text="`objective`, `objective_0`, ...",
        help="Names of the objective values on the runs; fixed when the sweep is created.",
    )
    sampler: Any = o.option(
        None,
        flag="--sampler",
        check=o.Check(
            lambda value, name, caller: value,
            f"a name in {sorted(SAMPLERS)}, an optuna sampler or None",
        ),
        default_text="Optuna's default",
        help="The sampler, by name or as an ``optuna.samplers`` instance.",
    )
    pruner: Any = o.option(
        None,
        flag="--pruner",
        check=o.Check(_pruner, f"a name in {sorted(PRUNERS)}, an optuna pruner or None", none=True),
        default_text="Optuna's default (median)",
        help="The pruner, by name or as an ``optuna.pruners`` instance.",
    )
    seed: int | None = o.option(
        None,
        check=o.Check(_seed, "an int or None", none=True),
        help="Seed of a sampler given by name (reproducible single-thread sweeps).",
    )
    n_jobs: int = o.option(
        1,
        flag="--n-jobs",
        cli={"type": int},
        check=o.Check(_n_jobs, "a positive int, or -1 for one thread per CPU"),
        help="Threads in this process (Optuna's ``n_jobs``).",
    )
    n_workers: int | None = o.option(
        None,
        check=o.Int(1, none=True),
        help="Worker processes (each with ``n_jobs`` threads); the calling process shows "
        "progress and keeps the parent run. Needs a store folder.",
    )
    storage: Any = o.option(
        None,
        flag="--storage",
        check=o.Check(_storage, "a database URL, a path, an optuna storage or None", none=True),
        default_text="a journal file in the store",
        help="Where the Optuna study lives: a database URL (``postgresql+psycopg2://...``) or "
        "``grpc://host:port`` lets machines share a sweep; a path gives a journal file.",
    )
    catch: tuple[type[Exception], ...] = o.option(
        (Exception,),
        default_text="`(Exception,)`",
        check=o.Check(_check_catch, "a tuple of Exception classes"),
        help="Exceptions that fail a trial but let the sweep go on; ``()`` stops at the first.",
    )
    callbacks: tuple[Callable[..., None], ...] = o.option(
        None,
        check=o.Check(_callbacks, "a list of callables f(study, frozen_trial)"),
        help="Optuna callbacks, called after each trial.",
    )
    tags: Mapping[str, Any] = o.option(
        None,
        check=o.Check(_tags, "a dict of tag names to values"),
        help="Tags for the parent run and every trial run.",
    )
    progress: str = o.option(
        "auto",
        flag="--progress",
        cli={"choices": PROGRESS},
        check=o.Check(_progress, f"True, False or one of {PROGRESS}"),
        default_text="`'auto'` (CLI: `'log'`)",
        help="A live bar in notebooks and terminals, a line every 10 % / 10 s in logs.",
    )

    @classmethod
    def from_params(cls, **params: Any) -> SweepOptions:
        """The checked options from ``sweep()``'s keywords, as the user gave them (a list of
        callbacks, ``progress=True``, ...); the fields hold the normalised values."""
        return cls(**params)

    def __post_init__(self) -> None:
        o.set_fields(self, o.check_fields(self, CALLER))
        self._check_together()

    def _check_together(self) -> None:
        directions = check_directions(self.direction, self.directions)
        metric_names = check_metric_names(
            self.metric_names, None if directions is None else len(directions)
        )
        n_objectives = len(directions) if directions else len(metric_names or [0])
        # Build once now so that a bad name fails before any state is written; rebuilt later.
        make_sampler(self.sampler, self.seed, n_objectives)
        # ``directions`` holds both (``direction`` is folded in, so replace() stays valid).
        o.set_fields(
            self, {"direction": None, "directions": directions, "metric_names": metric_names}
        )
