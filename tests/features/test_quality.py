"""validate(): every violation of a view's expectations reported at once, with counts, examples
and the fix; a clean source passes; only the window asked for is checked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _feature_data import START, make_source

import workbench as wb
from workbench import features as wf


def _view(path: Path, **source: object) -> wf.FeatureView:
    return wf.FeatureView(
        "rides",
        entities=[wf.Entity("driver", join_keys={"driver_id": "int64"})],
        source=wf.FileSource(path, timestamp="event_ts", **source),  # type: ignore[arg-type]
        features=[
            wf.Feature("conv_rate", "float64", nullable=False, ge=0, le=1),
            wf.Feature("trips", "int64", gt=-1, lt=100),
            wf.Feature("tier", "string", isin=["gold", "silver"]),
        ],
        ttl=None,
    )


def _source(n: int = 1000) -> pd.DataFrame:
    frame = make_source(np.random.default_rng(4), n=n, entities=50)
    frame["tier"] = np.where(frame["trips"] % 2 == 0, "gold", "silver")
    return frame


def test_a_clean_source_passes(tmp_path: Path) -> None:
    _source().to_parquet(tmp_path / "s.parquet")
    report = _view(tmp_path / "s.parquet").validate()
    assert report.passed and report.rows == len(_source())
    assert report.raise_for_violations() is report
    assert "every expectation holds" in str(report)
    assert report.to_frame().empty


def test_every_violation_is_reported_at_once(tmp_path: Path) -> None:
    frame = _source()
    frame.loc[[3, 8], "conv_rate"] = [1.5, np.nan]  # out of range, missing
    frame.loc[[4, 5, 6], "tier"] = "bronze"  # not an allowed value
    frame.loc[7, "trips"] = 100  # not < 100
    frame = frame.astype({"driver_id": "Int64"})
    frame.loc[9, "driver_id"] = pd.NA  # a row without its key
    frame = pd.concat([frame, frame.iloc[[10, 11]]])  # duplicate (key, event time)
    frame.to_parquet(tmp_path / "s.parquet")
    report = _view(tmp_path / "s.parquet").validate()
    assert not report.passed
    found = {(v.column, v.check): v for v in report.violations}
    assert found["conv_rate", "<= 1"].count == 1
    assert found["conv_rate", "<= 1"].examples[0] == {"row": 3, "value": 1.5}
    assert found["conv_rate", "not null"].count == 1
    assert found["tier", "in ['gold', 'silver']"].count == 3
    assert found["trips", "< 100"].count == 1
    assert found["driver_id", "not null"].count == 1
    assert found[None, "unique"].count == 4  # two values, two rows each
    assert "created_timestamp" in found[None, "unique"].message
    with pytest.raises(wf.FeatureValidationError) as raised:
        report.raise_for_violations()
    assert raised.value.report is report
    assert "'tier' fails \"in ['gold', 'silver']\" in 3 rows" in str(raised.value)
    frame_out = report.to_frame()
    assert len(frame_out) == len(report.violations) == 6
    assert "Violations" in report._repr_mimebundle_()["text/html"]


def test_schema_problems_missing_columns_and_types(tmp_path: Path) -> None:
    frame = _source().drop(columns=["tier"])
    frame["trips"] = frame["trips"].astype(str)
    frame.to_parquet(tmp_path / "s.parquet")
    report = _view(tmp_path / "s.parquet").validate()
    checks = {(v.column, v.check) for v in report.violations}
    assert ("tier", "missing_column") in checks
    assert ("trips", "type") in checks
    assert any(
        "declared int64 but the source column is VARCHAR" in v.message for v in report.violations
    )
    assert ("conv_rate", "<= 1") not in checks  # the readable columns are still checked: fine


def test_only_the_window_is_checked(tmp_path: Path) -> None:
    frame = _source()
    late = frame["event_ts"] > START + pd.Timedelta(days=20)
    frame.loc[late, "conv_rate"] = 2.0
    frame.to_parquet(tmp_path / "s.parquet")
    view = _view(tmp_path / "s.parquet")
    early = view.validate(end=START + pd.Timedelta(days=20))
    assert early.passed and early.rows == int((~late).sum())
    failing = wf.validate_feature_view(view, start="2024-01-21")
    assert failing.violations[0].count == int(late.sum())


def test_corrections_with_a_created_timestamp_are_not_duplicates(tmp_path: Path) -> None:
    frame = make_source(np.random.default_rng(1), n=300, entities=10, created=True)
    frame["tier"] = "gold"
    fixes = frame.iloc[:5].assign(created=lambda f: f["created"] + pd.Timedelta(hours=1))
    pd.concat([frame, fixes]).to_parquet(tmp_path / "s.parquet")
    assert _view(tmp_path / "s.parquet", created_timestamp="created").validate().passed
    pd.concat([frame, frame.iloc[:2]]).to_parquet(tmp_path / "s.parquet")
    report = _view(tmp_path / "s.parquet", created_timestamp="created").validate()
    assert [v.check for v in report.violations] == ["unique"]
    assert "remove the duplicates." in report.violations[0].message


def test_a_source_that_is_gone_raises(tmp_path: Path) -> None:
    _source().to_parquet(tmp_path / "s.parquet")
    view = _view(tmp_path / "s.parquet")
    (tmp_path / "s.parquet").unlink()
    with pytest.raises(wf.FeatureSourceError, match=r"no longer exists"):
        view.validate()
    assert issubclass(wf.FeatureSourceError, wb.StoreError)
