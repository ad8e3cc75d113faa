"""Quality gates: does a challenger's metrics clear fixed thresholds and beat the champion?

The semantics are MLflow's ``MetricThreshold`` (``mlflow.models.MetricThreshold`` and
``mlflow.validate_evaluation_results``), check by check:

* ``threshold``: the candidate's value must be ``>= threshold`` (greater is better) or
  ``<= threshold`` (lower is better).
* ``min_absolute_change``: the candidate must be ``>= baseline + change`` (greater is better)
  or ``<= baseline - change``.
* ``min_relative_change`` (in [0, 1]): ``(candidate - baseline) / baseline >= change`` (greater is
  better) or ``(baseline - candidate) / baseline >= change``; when the baseline is 0 this falls
  back to "strictly better by 1e-10".
* A metric missing from the candidate fails; a comparison (absolute or relative change) with a
  metric missing from the baseline fails.

Two deliberate differences, both at the edges: boundary comparisons allow a relative tolerance
of 1e-9, so ``0.8 + 0.05 >= 0.85`` passes as the documented rule says (MLflow's float addition
makes it fail), and the relative change is divided by ``|baseline|``, so the check keeps its
meaning for negative metrics (MLflow divides by the signed baseline, which flips the verdict).

    gate = wb.check_gate(challenger_run, champion_run,
                         {"accuracy": MetricThreshold(threshold=0.8, min_absolute_change=0.01,
                                                      greater_is_better=True)})
    gate.passed, gate.explain()
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from workbench import _validation as v
from workbench.exceptions import GateFailedError, InvalidParameterError, NotFoundError
from workbench.tracking.client import TrackingClient

__all__ = [
    "GateCheck",
    "GateFailedError",
    "GateResult",
    "MetricThreshold",
    "check_gate",
    "metrics_of",
    "validate",
]

_REL_TOL = 1e-9
_ZERO_BASELINE_MARGIN = 1e-10


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class MetricThreshold:
    """Conditions one metric must meet (MLflow's ``MetricThreshold``).

    Parameters
    ----------
    threshold
        Absolute bound on the candidate's value.
    min_absolute_change
        Positive: required improvement over the baseline, in the metric's units.
    min_relative_change
        In [0, 1]: required improvement over the baseline, as a share of the baseline.
    greater_is_better
        Whether higher values are better (required).
    """

    threshold: float | None = None
    min_absolute_change: float | None = None
    min_relative_change: float | None = None
    greater_is_better: bool | None = None

    def __post_init__(self) -> None:
        caller = "MetricThreshold"
        if self.threshold is not None and not _is_number(self.threshold):
            raise v.fail("threshold", caller, "a number", self.threshold)
        change = self.min_absolute_change
        if change is not None and (not _is_number(change) or change <= 0):
            raise v.fail("min_absolute_change", caller, "a positive number", change)
        relative = self.min_relative_change
        if relative is not None and (not _is_number(relative) or not 0 <= relative <= 1):
            raise v.fail("min_relative_change", caller, "a number between 0 and 1", relative)
        if not isinstance(self.greater_is_better, bool):
            raise v.fail(
                "greater_is_better",
                caller,
                "True or False",
                self.greater_is_better,
                "Say whether higher values of the metric are better.",
            )
        if self.threshold is None and change is None and relative is None:
            raise v.fail(
                "threshold",
                caller,
                "set, or min_absolute_change / min_relative_change set",
                None,
                "No threshold was specified.",
            )

    def __str__(self) -> str:
        parts = []
        op = ">=" if self.greater_is_better else "<="
        if self.threshold is not None:
            parts.append(f"{op} {self.threshold:g}")
        if self.min_absolute_change is not None:
            sign = "+" if self.greater_is_better else "-"
            parts.append(f"{op} baseline {sign} {self.min_absolute_change:g}")
        if self.min_relative_change is not None:
            parts.append(
                f"{'improves' if self.greater_is_better else 'reduces'} by >= "
                f"{self.min_relative_change:.1%} of baseline"
            )
        return ", ".join(parts)


@dataclass(frozen=True)
class GateCheck:
    """One condition on one metric, with the numbers and the verdict."""

    metric: str
    check: str  # threshold | min_absolute_change | min_relative_change | presence
    passed: bool
    candidate: float | None
    baseline: float | None
    required: float | None
    message: str


@dataclass(frozen=True)
class GateResult:
    """Every check of a gate; ``passed`` only when all passed. Renders in notebooks."""

    checks: tuple[GateCheck, ...]
    name: str = "quality gate"
    candidate: str | None = None
    baseline: str | None = None
    thresholds: Mapping[str, MetricThreshold] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """Whether every check passed."""
        return all(c.passed for c in self.checks)

    @property
    def failures(self) -> tuple[GateCheck, ...]:
        """The checks that failed."""
        return tuple(c for c in self.checks if not c.passed)

    @property
    def summary(self) -> str:
        """One line: PASSED/FAILED and how many checks failed."""
        if self.passed:
            return f"PASSED: {len(self.checks)} check(s) passed."
        return f"FAILED: {len(self.failures)} of {len(self.checks)} check(s) failed."

    def explain(self) -> str:
        """Every check on its own line, failures first."""
        lines = [f"{self.name}: {self.summary}"]
        for check in sorted(self.checks, key=lambda c: c.passed):
            lines.append(f"  [{'pass' if check.passed else 'FAIL'}] {check.message}")
        return "\n".join(lines)

    def raise_for_failure(self) -> GateResult:
        """Raise :class:`GateFailedError` (with the explanation) unless the gate passed."""
        if not self.passed:
            raise GateFailedError(self.explain(), result=self)
        return self

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable: verdict, candidate/baseline and every check."""
        return {
            "name": self.name,
            "passed": self.passed,
            "candidate": self.candidate,
            "baseline": self.baseline,
            "checks": [dataclasses.asdict(c) for c in self.checks],
        }

    def __repr__(self) -> str:
        return f"GateResult({self.summary})"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        from workbench._html import render

        color = "#1e6b3a" if self.passed else "#9b1c1c"
        page = render("gate_result.html.j2", result=self, color=color)
        return {"text/plain": self.explain(), "text/html": page}


def _at_least(value: float, bound: float) -> bool:
    return value >= bound or math.isclose(value, bound, rel_tol=_REL_TOL, abs_tol=1e-12)


def _better_or_equal(value: float, bound: float, greater_is_better: bool) -> bool:
    return _at_least(value, bound) if greater_is_better else _at_least(-value, -bound)


def _check_metric(
    metric: str, rule: MetricThreshold, candidate: float | None, baseline: float | None
) -> list[GateCheck]:
    better = bool(rule.greater_is_better)
    op = ">=" if better else "<="
    if candidate is None:
        text = f"{metric} is missing from the candidate's metrics."
        return [GateCheck(metric, "presence", False, None, baseline, None, text)]
    checks = []
    if rule.threshold is not None:
        ok = _better_or_equal(candidate, rule.threshold, better)
        text = f"{metric} = {candidate:g} {op} {rule.threshold:g}" + ("" if ok else ": not met")
        checks.append(GateCheck(metric, "threshold", ok, candidate, baseline, rule.threshold, text))
    compares = rule.min_absolute_change is not None or rule.min_relative_change is not None
    if compares and baseline is None:
        text = f"{metric} is missing from the baseline's metrics, so it cannot be compared."
        checks.append(GateCheck(metric, "presence", False, candidate, None, None, text))
        return checks
    if rule.min_absolute_change is not None and baseline is not None:
        step = rule.min_absolute_change
        required = baseline + step if better else baseline - step
        ok = _better_or_equal(candidate, required, better)
        text = (
            f"{metric} = {candidate:g} {op} baseline {baseline:g} {'+' if better else '-'} "
            f"{step:g} = {required:g}" + ("" if ok else ": not met")
        )
        checks.append(
            GateCheck(metric, "min_absolute_change", ok, candidate, baseline, required, text)
        )
    if rule.min_relative_change is not None and baseline is not None:
        checks.append(_relative(metric, rule, candidate, baseline))
    return checks


def _relative(metric: str, rule: MetricThreshold, candidate: float, baseline: float) -> GateCheck:
    better = bool(rule.greater_is_better)
    share = float(rule.min_relative_change or 0.0)
    if baseline == 0:
        required = _ZERO_BASELINE_MARGIN if better else -_ZERO_BASELINE_MARGIN
        ok = _better_or_equal(candidate, required, better)
        text = (
            f"{metric} = {candidate:g} vs baseline 0: relative change undefined, so it must be "
            f"strictly {'higher' if better else 'lower'}" + ("" if ok else ": not met")
        )
        return GateCheck(metric, "min_relative_change", ok, candidate, baseline, required, text)
    change = (candidate - baseline) / abs(baseline)
    if not better:
        change = -change
    ok = _at_least(change, share)
    text = (
        f"{metric} = {candidate:g} is {change:+.2%} {'better' if change >= 0 else 'worse'} than "
        f"baseline {baseline:g}; required >= {share:.2%}" + ("" if ok else ": not met")
    )
    return GateCheck(metric, "min_relative_change", ok, candidate, baseline, share, text)


def metrics_of(
    source: Any,
    *,
    name: str = "candidate",
    caller: str = "validate",
    client: TrackingClient | None = None,
) -> dict[str, float]:
    """Metrics from a dict, an EvaluationResult, a run (handle, snapshot or id) or a model
    version (or model URI such as ``churn@champion``: its training run's metrics); run ids and
    model URIs are looked up in ``client``'s store (default: the current store)."""
    if isinstance(source, Mapping):
        return {str(k): float(x) for k, x in source.items() if _is_number(x)}
    metrics = getattr(source, "metrics", None)
    if isinstance(metrics, Mapping):
        return {str(k): float(x) for k, x in metrics.items() if _is_number(x)}
    snapshot = getattr(source, "snapshot", None)
    if callable(snapshot):  # an ActiveRun
        return metrics_of(snapshot(), name=name, caller=caller)
    if isinstance(source, str) and source:
        return _metrics_by_id(source, name=name, caller=caller, client=client)
    raise v.fail(
        name,
        caller,
        "a dict of metrics, an EvaluationResult, a run, a run id or a model URI",
        source,
    )


def _metrics_by_id(
    text: str, *, name: str, caller: str, client: TrackingClient | None
) -> dict[str, float]:
    from workbench.tracking.client import resolve_client

    wb = resolve_client(client, caller)
    looks_like_run = len(text) == 32 and all(c in "0123456789abcdef" for c in text)
    if looks_like_run:
        return metrics_of(wb.get_run(text), name=name, caller=caller)
    try:
        from workbench.registry import get_model_version
    except ImportError:  # pragma: no cover - the registry ships with workbench
        raise v.fail(name, caller, "a run id", text) from None
    try:
        return metrics_of(get_model_version(text, client=wb), name=name, caller=caller)
    except (NotFoundError, InvalidParameterError):
        raise v.fail(
            name,
            caller,
            "a run id (32 hex characters) or a registered model URI such as 'churn@champion'",
            text,
        ) from None


def _check_thresholds(thresholds: Any, caller: str) -> dict[str, MetricThreshold]:
    if not isinstance(thresholds, Mapping) or not thresholds:
        raise v.fail(
            "thresholds",
            caller,
            "a non-empty dict of metric name -> MetricThreshold",
            thresholds,
            "e.g. {'accuracy': MetricThreshold(threshold=0.8, greater_is_better=True)}.",
        )
    for key, rule in thresholds.items():
        if not isinstance(key, str) or not isinstance(rule, MetricThreshold):
            raise v.fail(
                "thresholds", caller, "a dict of metric name -> MetricThreshold", {key: rule}
            )
    return dict(thresholds)


def validate(
    candidate: Any,
    baseline: Any,
    thresholds: Mapping[str, MetricThreshold],
    *,
    name: str = "quality gate",
    client: TrackingClient | None = None,
) -> GateResult:
    """Check ``candidate``'s metrics against ``thresholds`` and ``baseline``'s metrics.

    ``candidate`` and ``baseline`` are dicts of metrics, evaluation results, runs or run ids,
    or model URIs (see :func:`metrics_of`; looked up in ``client``'s store, default the current
    one); ``baseline`` may be None when no rule compares.
    Returns a :class:`GateResult`; it does not raise when the gate fails (see
    :func:`check_gate`).
    """
    caller = "validate"
    rules = _check_thresholds(thresholds, caller)
    cand = metrics_of(candidate, name="candidate", caller=caller, client=client)
    base = (
        {}
        if baseline is None
        else metrics_of(baseline, name="baseline", caller=caller, client=client)
    )
    checks: list[GateCheck] = []
    for metric, rule in rules.items():
        checks.extend(_check_metric(metric, rule, cand.get(metric), base.get(metric)))
    return GateResult(
        tuple(checks),
        name=name,
        candidate=_describe(candidate),
        baseline=_describe(baseline),
        thresholds=rules,
    )


def check_gate(
    candidate: Any,
    baseline: Any,
    thresholds: Mapping[str, MetricThreshold],
    *,
    name: str = "quality gate",
    client: TrackingClient | None = None,
) -> GateResult:
    """:func:`validate`, then raise :class:`GateFailedError` if the gate failed.

    Use it in pipelines (papermill, CI): an exception stops the notebook; from the terminal,
    ``workbench gate ...`` exits with status 1.
    """
    return validate(candidate, baseline, thresholds, name=name, client=client).raise_for_failure()


def _describe(source: Any) -> str | None:
    if source is None:
        return None
    if isinstance(source, str):
        return source
    for attribute in ("run_id", "uri"):
        value = getattr(source, attribute, None)
        if isinstance(value, str):
            return value
    return type(source).__name__
