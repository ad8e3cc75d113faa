"""The closed loop on real data (Seattle weather), and a synthetic drifting stream for benchmarks.

    from workbench.monitoring.scenario import seattle_weather_scenario

    scenario = seattle_weather_scenario()
    scenario.register_champion()              # a tree trained on 2012, @champion
    mon = scenario.monitor()                  # the policy below; retrains with train_weather_model
    steps = mon.run(scenario.batches)         # 36 monthly windows, 2013-01 .. 2015-12
    mon.history()

**The real drift.** ``workbench/data/seattle-weather.csv`` (daily weather 2012-2015, shipped in
the package; provenance and license in ``workbench/data/README.md``)
labels each day ``sun``, ``rain``, ``fog``, ``drizzle`` or ``snow``. On 2013-04-01 the labelling
changes: wet days, ``rain`` until March 2013 (156 of 177 wet days in 2012 and none labelled
``fog``), are ``fog`` from April (123 of 150 wet days in 2014, 2 ``rain``). The features hardly
change, so this is concept drift, the kind a feature-drift test cannot see. A model trained on
2012 keeps predicting ``rain`` for wet days: its accuracy falls from 0.61-0.82 (January to
March 2013) to 0.30 in April 2013 and to 0.03-0.26 in the wet winter that follows.

**The policy.** Seasons move temperatures every month, so every monthly window drifts from the
2012 reference (dataset drift in 36 of 36 months with the default tests), while the model, which
learnt all four seasons, stays right: feature drift is reported but does not trigger. The alarm is
the champion's accuracy on a labelled month below ``FLOOR`` (0.5). On an alarm the model is
retrained on the month's labelled days except an evenly spread 30 % kept out, and the gate asks
the challenger to reach 0.7 on those held-out days and beat the champion there by 0.05.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench import _validation as v
from workbench.tracking.client import TrackingClient, resolve_client

if TYPE_CHECKING:
    from workbench.monitoring.loop import Monitor, MonitorPolicy
    from workbench.registry import ModelVersion

__all__ = [
    "FEATURES",
    "FLOOR",
    "GATE",
    "LABEL_CHANGE",
    "TARGET",
    "TIME_COLUMN",
    "WeatherScenario",
    "load_seattle_weather",
    "make_drift_stream",
    "seattle_weather_scenario",
    "train_on_shuffled_labels",
    "train_weather_model",
]

FEATURES = ("precipitation", "temp_max", "temp_min", "wind")
TARGET = "weather"
TIME_COLUMN = "date"
#: The first day of the new labelling (wet days ``rain`` -> ``fog``).
LABEL_CHANGE = pd.Timestamp("2013-04-01")
#: The accuracy below which the scenario's monitor raises the alarm.
FLOOR = 0.5
#: What a retrained model must do on the held-out days to replace the champion.
GATE = ("accuracy>=0.7", "accuracy>=champion+0.05")


def load_seattle_weather(path: str | Path | None = None) -> pd.DataFrame:
    """Daily Seattle weather 2012-2015 (1,461 rows, ``date`` parsed), time-ordered.

    Read from ``path``, else from the copy shipped in the package
    (``workbench/data/seattle-weather.csv``, so an installed wheel needs no source checkout).
    """
    if path is None:
        with resources.files("workbench").joinpath("data", "seattle-weather.csv").open("rb") as f:
            frame = pd.read_csv(f)
    elif Path(path).is_file():
        frame = pd.read_csv(path)
    else:
        raise v.fail("path", "load_seattle_weather", "an existing CSV file", str(path))
    frame[TIME_COLUMN] = pd.to_datetime(frame[TIME_COLUMN])
    return frame.sort_values(TIME_COLUMN, kind="stable").reset_index(drop=True)


def train_weather_model(frame: pd.DataFrame) -> Any:
    """The scenario's model and retrain function: a depth-3 tree on the four measurements."""
    from sklearn.tree import DecisionTreeClassifier

    model = DecisionTreeClassifier(max_depth=3, min_samples_leaf=5, random_state=0)
    return model.fit(frame[list(FEATURES)], frame[TARGET])


def train_on_shuffled_labels(frame: pd.DataFrame) -> Any:
    """A broken retrain (labels shuffled against the days): the gate must refuse its model."""
    shuffled = frame.assign(
        **{TARGET: np.random.default_rng(0).permutation(frame[TARGET].to_numpy())}
    )
    return train_weather_model(shuffled)


@dataclass(frozen=True, eq=False)
class WeatherScenario:
    """The data, the champion's training window, the monthly batches and the policy."""

    data: pd.DataFrame = field(repr=False)
    reference: pd.DataFrame = field(repr=False)
    batches: tuple[pd.DataFrame, ...] = field(repr=False)
    model_name: str = "seattle-weather"

    def __repr__(self) -> str:
        first, last = self.batches[0][TIME_COLUMN].min(), self.batches[-1][TIME_COLUMN].max()
        return (
            f"WeatherScenario({self.model_name!r}: champion trained on {len(self.reference)} "
            f"days, {len(self.batches)} monthly batches {first:%Y-%m} .. {last:%Y-%m}, "
            f"labels change {LABEL_CHANGE:%Y-%m-%d})"
        )

    def register_champion(
        self, *, data_dir: str | Path | None = None, client: TrackingClient | None = None
    ) -> ModelVersion:
        """Train on :attr:`reference`, register it and point ``champion`` at it.

        With ``data_dir``, the training data is written there as ``reference.csv`` and logged
        from that file, so the monitor finds it through the model's lineage.
        """
        from workbench import registry

        wb = resolve_client(client, "register_champion")
        data: Any = self.reference
        if data_dir is not None:
            data = Path(data_dir) / "reference.csv"
            data.parent.mkdir(parents=True, exist_ok=True)
            self.reference.to_csv(data, index=False)
        with wb.start_run(self.model_name, "champion", tags={"scenario": "seattle-weather"}) as run:
            run.log_input(data, name="training", context="training")
            model = train_weather_model(self.reference)
            run.log_metric("train_accuracy", float(model.score(*self._xy(self.reference))))
        version = registry.register_model(
            self.model_name,
            run=run,
            model=model,
            input_example=self.reference[list(FEATURES)],
            client=wb,
        )
        first, last = self.reference[TIME_COLUMN].min(), self.reference[TIME_COLUMN].max()
        registry.set_alias(
            self.model_name,
            "champion",
            version.version,
            reason=f"initial champion, trained on {first:%Y-%m-%d} .. {last:%Y-%m-%d}",
            client=wb,
        )
        return registry.get_model_version(f"{self.model_name}@champion", client=wb)

    def policy(self, **overrides: Any) -> MonitorPolicy:
        """The scenario's :class:`MonitorPolicy`; keyword arguments replace its fields."""
        from workbench.monitoring.loop import MonitorPolicy

        fields: dict[str, Any] = {
            "model": self.model_name,
            "target": TARGET,
            "features": FEATURES,
            "reference": self.reference,
            "time_column": TIME_COLUMN,
            "window": "MS",
            "triggers": ("performance",),
            "performance_floor": FLOOR,
            "gate": GATE,
            "retrain": train_weather_model,
        }
        fields.update(overrides)
        return MonitorPolicy(**fields)

    def monitor(self, *, client: TrackingClient | None = None, **overrides: Any) -> Monitor:
        """A :class:`Monitor` following :meth:`policy` (on ``client``'s store)."""
        from workbench.monitoring.loop import Monitor

        return Monitor(self.policy(**overrides), client=client)

    def _xy(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
        return frame[list(FEATURES)], frame[TARGET]


def seattle_weather_scenario(
    *,
    model: str = "seattle-weather",
    train_until: str = "2013-01-01",
    replay_until: str = "2016-01-01",
    path: str | Path | None = None,
) -> WeatherScenario:
    """The champion's training data (before ``train_until``: all of 2012 by default) and the
    later days as monthly batches up to ``replay_until``; ``model``: the registered model's
    name."""
    data = load_seattle_weather(path)
    start, end = pd.Timestamp(train_until), pd.Timestamp(replay_until)
    reference = data[data[TIME_COLUMN] < start].reset_index(drop=True)
    rest = data[(data[TIME_COLUMN] >= start) & (data[TIME_COLUMN] < end)]
    months = rest[TIME_COLUMN].dt.to_period("M")
    batches = tuple(part.reset_index(drop=True) for _, part in rest.groupby(months, sort=True))
    if len(reference) < 30 or not batches:
        raise v.fail(
            "train_until",
            "seattle_weather_scenario",
            "a date leaving at least 30 training days and one month to replay",
            train_until,
        )
    return WeatherScenario(data, reference, batches, model)


def make_drift_stream(
    n_rows: int,
    *,
    n_features: int = 8,
    drift_at: float = 0.5,
    cycles: float = 4.0,
    noise: float = 0.5,
    start: str = "2024-01-01",
    freq: str = "1min",
    seed: int = 0,
) -> pd.DataFrame:
    """A large time-ordered classification stream with seasons and one abrupt concept drift.

    Columns ``time``, ``x0`` ... ``x{n_features-1}`` and ``y`` (0/1). Every feature's mean
    follows ``cycles`` sine waves over the stream (covariate drift that keeps the concept);
    ``y = [x @ w + noise > 0]``, and from row ``drift_at * n_rows`` the first half of ``w``
    changes sign (concept drift: a model trained before it is wrong on those features after).
    Built with numpy in O(n): 0.35-1.2 s per million rows of 8 features here (a shared machine).
    """
    caller = "make_drift_stream"
    v.check_positive_int(n_rows, caller, name="n_rows")
    v.check_positive_int(n_features, caller, name="n_features")
    if isinstance(drift_at, bool) or not isinstance(drift_at, (int, float)):
        raise v.fail("drift_at", caller, "a share of the rows in [0, 1]", drift_at)
    if not 0 <= drift_at <= 1:
        raise v.fail("drift_at", caller, "a share of the rows in [0, 1]", drift_at)
    rng = np.random.default_rng(seed)
    phase = np.sin(2 * math.pi * cycles * np.arange(n_rows) / n_rows)
    x = rng.standard_normal((n_rows, n_features), dtype=np.float64) + 0.8 * phase[:, None]
    weights = rng.uniform(0.5, 1.5, n_features) * rng.choice([-1.0, 1.0], n_features)
    after = weights.copy()
    after[: max(1, n_features // 2)] *= -1
    cut = round(drift_at * n_rows)
    logit = np.empty(n_rows)
    logit[:cut] = x[:cut] @ weights
    logit[cut:] = x[cut:] @ after
    y = (logit + noise * rng.standard_normal(n_rows) > 0).astype(np.int64)
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(n_features)])
    frame.insert(0, "time", pd.date_range(start, periods=n_rows, freq=freq))
    frame["y"] = y
    return frame
