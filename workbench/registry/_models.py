"""Register models, find them by URI, move aliases, and load them back safely.

:class:`ModelRegistry` works on one :class:`~workbench.Workbench` client (one store); the
module-level functions (``workbench.register_model``, ``workbench.load_model``, ...) use the
client of the configured store, :func:`workbench.connect`.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench import _validation as v
from workbench._who import who
from workbench.entities import ModelVersion, NewModelVersion, RegisteredModel, Run
from workbench.exceptions import (
    ArtifactIntegrityError,
    ArtifactNotFoundError,
    InvalidParameterError,
    UnsafeModelError,
)
from workbench.registry._lineage import lineage_of, signature_from_training_input
from workbench.registry._serializers import (
    Serializer,
    get_serializer,
    list_serializers,
    normalize_trusted,
    serializer_for,
    serializer_for_path,
)
from workbench.registry._uri import check_alias, check_model_name, parse_model_uri
from workbench.signature import (
    ModelSignature,
    check_signature,
    infer_signature,
    make_input_example,
    signature_from_estimator,
)
from workbench.tracking.run import ActiveRun

if TYPE_CHECKING:
    import pandas as pd

    from workbench.entities import AliasEvent, ArtifactRef
    from workbench.registry.card import ModelCard
    from workbench.tracking.client import TrackingClient

__all__ = ["ModelRegistry"]

logger = logging.getLogger("workbench.registry")

_MISSING: Any = object()
_CHUNK = 1 << 20
HISTORY_COLUMNS = [
    "seq",
    "name",
    "alias",
    "action",
    "from_version",
    "to_version",
    "actor",
    "reason",
    "changed_at",
]


current_actor = who  # who registers a version or changes an alias: ``user@host``


def _check_version(version: Any, caller: str) -> int:
    if hasattr(version, "item") and not isinstance(version, bool):
        version = version.item()  # numpy integers
    if isinstance(version, str) and version.isascii() and version.isdigit():
        version = int(version)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise v.fail("version", caller, "a version number (an int >= 1)", version)
    return version


def _check_reason(reason: Any, caller: str) -> str | None:
    if reason is None:
        return None
    if not isinstance(reason, str) or len(reason) > v.MAX_TAG_VALUE_LENGTH:
        raise v.fail(
            "reason", caller, f"a string of at most {v.MAX_TAG_VALUE_LENGTH} characters", reason
        )
    return reason


def _check_tags(tags: Any, caller: str) -> dict[str, str]:
    if tags is None:
        return {}
    v.check_mapping(tags, caller, name="tags")
    return {v.check_key(k, caller): v.check_tag_value(k, x, caller) for k, x in tags.items()}


def _check_description(description: Any, caller: str) -> str | None:
    if description is not None and not isinstance(description, str):
        raise v.fail("description", caller, "a string or None", description)
    return description


def _sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


class ModelRegistry:
    """The model registry of one store.

    Parameters
    ----------
    client
        The :class:`~workbench.Workbench` whose store holds the models (and their runs).
    """

    def __init__(self, client: TrackingClient) -> None:
        self.client = client
        self.store = client.store

    def __repr__(self) -> str:
        return f"ModelRegistry(store={self.store.location!r})"

    # -- registering ------------------------------------------------------------------------
    def register_model(
        self,
        name: str,
        *,
        run: str | ActiveRun | Run,
        model: Any = _MISSING,
        artifact_path: str | None = None,
        input_example: Any = None,
        signature: ModelSignature | None = None,
        flavor: str | None = None,
        description: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> ModelVersion:
        """Register a new version of model ``name`` (versions are numbered 1, 2, ...).

        Parameters
        ----------
        name
            Model name: letters, digits, ``_ . -``.
        run
            The run that trained the model: its id, its handle or its snapshot. Its params,
            metrics, input datasets, code version and environment become the version's lineage.
        model
            The fitted model object; saved with the first serializer that applies (``skops``
            for scikit-learn) and recorded as an artifact of ``run``.
        artifact_path
            Instead of ``model``: a model file the run already logged (e.g. autolog's
            ``model/model.skops``). With neither, the run's single model artifact is used.
        input_example
            Training features (or a sample): the signature's columns, dtypes and nullability
            are read from all of it, the output from the model's prediction on its first rows,
            and its first 5 rows are stored as the input example. Without it, the signature is
            what the fitted model declares (``feature_names_in_`` or ``n_features_in_``, and
            ``classes_``), with the dtypes of the run's ``training`` dataset where it is logged
            (see ``signature_from_estimator``); for other models, that dataset's schema.
        signature
            A signature to store as is (see ``infer_signature``), instead of inferring one.
        flavor
            Serializer name (``skops``, ``pickle``, or a registered one), instead of choosing
            by the model's type or the artifact's suffix.
        description, tags
            Free text and labels for this version.

        Returns
        -------
        ModelVersion
        """
        caller = "register_model"
        name = check_model_name(name, caller)
        description = _check_description(description, caller)
        tag_values = _check_tags(tags, caller)
        given_signature = check_signature(signature, caller)
        if model is not _MISSING and artifact_path is not None:
            raise InvalidParameterError(
                "register_model takes either model= (a fitted model to save) or artifact_path= "
                "(a model file the run already logged), not both."
            )
        if flavor is not None and flavor not in list_serializers():
            get_serializer(flavor)  # raises, listing the available ones
        run_id, client = self._resolve_run(run, caller)
        snapshot = client.get_run(run_id)
        if model is not _MISSING:
            serializer, digest, size = self._save(model, flavor, caller)
            model_object, record, path = model, True, None
        else:
            ref = self._find_artifact(snapshot, artifact_path, caller)
            serializer = get_serializer(flavor) if flavor else serializer_for_path(ref.path)
            self.store.artifacts.path(ref.digest)  # the file must be there
            digest, size, record, path = ref.digest, ref.size, False, ref.path
            model_object = _MISSING
        if given_signature is None and input_example is not None:
            if model_object is _MISSING:
                model_object = self._load_for_signature(digest, serializer)
            given_signature = infer_signature(
                input_example, None if model_object is _MISSING else model_object
            )
        elif given_signature is None:
            # No example: what the fitted estimator declares (feature names, count, classes),
            # typed by the run's logged training dataset where it has the column.
            training = signature_from_training_input(snapshot)
            if model_object is _MISSING:
                model_object = self._load_for_signature(digest, serializer, strict=False)
            declared = (
                None
                if model_object is _MISSING
                else signature_from_estimator(model_object, training)
            )
            given_signature = declared or training
        new = NewModelVersion(
            name=name,
            run_id=run_id,
            artifact_digest=digest,
            artifact_size=size,
            flavor=serializer.name,
            media_type=serializer.media_type,
            suffix=serializer.suffix,
            record_artifact=record,
            artifact_path=path,
            signature=given_signature,
            input_example=None if input_example is None else make_input_example(input_example),
            description=description,
            tags=tag_values,
            lineage=lineage_of(snapshot),
            created_by=current_actor(),
        )
        version = self.store.create_model_version(new)
        logger.info("Registered %s (flavor %s, run %s).", version.uri, version.flavor, run_id)
        return version

    def _resolve_run(self, run: Any, caller: str) -> tuple[str, TrackingClient]:
        if isinstance(run, ActiveRun):
            if run._client.store is not self.store:
                raise InvalidParameterError(
                    f"The run {run.run_id!r} logs to the store {run._client.store.location}, but "
                    f"this registry is on {self.store.location}. Register the model in the run's "
                    "store (workbench.register_model uses it automatically)."
                )
            run._client.flush()
            return run.run_id, run._client
        if isinstance(run, Run):
            return run.run_id, self.client
        if isinstance(run, str) and run:
            return run, self.client
        raise v.fail(
            "run",
            caller,
            "a run id, a run handle (from start_run) or a Run",
            run,
            "Every model version points at the run that trained it.",
        )

    def _save(self, model: Any, flavor: str | None, caller: str) -> tuple[Serializer, str, int]:
        serializer = get_serializer(flavor) if flavor else serializer_for(model)
        if not serializer.applies(model):
            raise v.fail(
                "flavor",
                caller,
                f"a serializer that can save a {type(model).__name__}",
                flavor,
                f"Available: {list_serializers()}; omit flavor= to choose automatically.",
            )
        with tempfile.TemporaryDirectory(prefix="workbench-model-") as tmp:
            path = Path(tmp) / f"model{serializer.suffix}"
            try:
                serializer.save(model, path)
            except Exception as exc:
                raise InvalidParameterError(
                    f"The {serializer.name} serializer could not save the "
                    f"{type(model).__name__}: {type(exc).__name__}: {exc}. Choose another "
                    f"flavor= among {list_serializers()}, or register a serializer for it."
                ) from exc
            digest, size = self.store.artifacts.put_file(path)
        return serializer, digest, size

    def _find_artifact(self, run: Run, artifact_path: str | None, caller: str) -> ArtifactRef:
        if artifact_path is not None and not isinstance(artifact_path, str):
            raise v.fail(
                "artifact_path", caller, "a path of one of the run's artifacts", artifact_path
            )
        paths = [a.path for a in run.artifacts]
        if artifact_path is None:
            suffixes = tuple(get_serializer(n).suffix for n in list_serializers())
            candidates = [a for a in run.artifacts if a.path.endswith(suffixes)]
            if len(candidates) == 1:
                return candidates[0]
            raise InvalidParameterError(
                f"register_model needs model= or artifact_path=: run {run.run_id!r} has "
                f"{len(candidates) or 'no'} model files among its artifacts {paths}. Pass the "
                "fitted model (model=...) or the artifact to register (artifact_path=...)."
            )
        for ref in run.artifacts:
            if ref.path == artifact_path:
                return ref
        raise ArtifactNotFoundError(
            f"Run {run.run_id!r} has no artifact {artifact_path!r}. It has: {paths}. Log the "
            "model first (autolog stores model/model.skops), or pass model= instead."
        )

    def _load_for_signature(
        self, digest: str, serializer: Serializer, *, strict: bool = True
    ) -> Any:
        """The model behind an artifact, loaded safely, to read its signature; else _MISSING.

        ``strict=False``: any failure to load gives _MISSING (a warning), not an error.
        """
        try:
            return serializer.load(self.store.artifacts.path(digest), trusted=False)
        except UnsafeModelError as exc:
            logger.warning(
                "Registering without the signature the model would show: it is not loaded "
                "because it is not trusted by default (%s).",
                exc,
            )
        except Exception as exc:
            if strict:
                raise
            logger.warning(
                "Registering without the signature the model would show: it could not be "
                "loaded (%s: %s).",
                type(exc).__name__,
                exc,
            )
        return _MISSING

    # -- reading ----------------------------------------------------------------------------
    def get_model_version(self, model: str | ModelVersion) -> ModelVersion:
        """The version a URI names: ``"name"`` (latest), ``"name/3"``, ``"name@champion"``.

        ``models:/`` in front is accepted too. Raises ModelNotFoundError naming what exists.
        """
        if isinstance(model, ModelVersion):
            return self.store.get_model_version(model.name, model.version)
        ref = parse_model_uri(model, "get_model_version")
        version = ref.version
        if ref.alias is not None:
            version = self.store.get_model_alias(ref.name, ref.alias)
        return self.store.get_model_version(ref.name, version)

    def list_models(self) -> pd.DataFrame:
        """Registered models: name, latest version, number of versions, aliases, ..."""
        import pandas as pd

        columns = [
            "name",
            "latest_version",
            "versions",
            "aliases",
            "description",
            "created_at",
            "updated_at",
            "tags",
        ]
        rows = [_model_row(m) for m in self.store.list_models()]
        frame = pd.DataFrame(rows, columns=columns)
        frame["latest_version"] = frame["latest_version"].astype("Int64")
        return frame

    def list_model_versions(self, name: str) -> pd.DataFrame:
        """Versions of one model, oldest first, with the training run's metrics as columns."""
        import pandas as pd

        name = check_model_name(name, "list_model_versions")
        versions = self.store.list_model_versions(name)
        rows = []
        for mv in versions:
            row: dict[str, Any] = {
                "name": mv.name,
                "version": mv.version,
                "aliases": list(mv.aliases),
                "flavor": mv.flavor,
                "run_id": mv.run_id,
                "created_at": mv.created_at,
                "created_by": mv.created_by,
                "description": mv.description,
                "artifact_digest": mv.artifact_digest,
            }
            row.update({f"metrics.{k}": value for k, value in sorted(mv.metrics.items())})
            rows.append(row)
        base = list(rows[0]) if rows else ["name", "version", "aliases", "flavor", "run_id"]
        return pd.DataFrame(rows, columns=list(dict.fromkeys(base + [k for r in rows for k in r])))

    def load_model(self, model: str | ModelVersion, *, trusted: Any = False) -> Any:
        """The model a URI names, ready to ``predict``; its file is integrity-checked first.

        Parameters
        ----------
        model
            ``"name"``, ``"name/3"``, ``"name@champion"`` (``models:/`` accepted), or a
            ModelVersion.
        trusted
            ``False`` (default): load only types trusted by default (scikit-learn, NumPy,
            SciPy). A list of type names (``["mypkg.MyModel"]``) trusts those too. ``True``
            trusts the whole file, which may run arbitrary code (warns UnsafeLoadWarning).

        Raises
        ------
        UnsafeModelError
            The file needs types that are not trusted; the message names them.
        ArtifactIntegrityError
            The file changed since it was registered.
        """
        trust = normalize_trusted(trusted, "load_model")
        version = self.get_model_version(model)
        path = self.verified_model_file(version)
        return get_serializer(version.flavor).load(path, trusted=trust)

    def verified_model_file(self, version: ModelVersion) -> Path:
        """The local file of a version, after checking that its SHA-256 is the recorded one."""
        path = self.store.artifacts.path(version.artifact_digest)
        actual = _sha256(path)
        if actual != version.artifact_digest:
            raise ArtifactIntegrityError(
                f"The file of model {version.uri} ({path}) has SHA-256 {actual}, but "
                f"{version.artifact_digest} was recorded when it was registered: the file was "
                "modified or damaged since, so it is not loaded. Restore it from a backup, or "
                "register the model again from its run."
            )
        return path

    # -- aliases ----------------------------------------------------------------------------
    def set_alias(
        self, name: str, alias: str, version: int, *, reason: str | None = None
    ) -> ModelVersion:
        """Point ``alias`` (``champion``, ``challenger``, any name) at a version; recorded in
        the alias history with who, when, the previous version and ``reason``."""
        caller = "set_alias"
        name = check_model_name(name, caller)
        alias = check_alias(alias, caller)
        number = _check_version(version, caller)
        self.store.set_model_alias(
            name, alias, number, actor=current_actor(), reason=_check_reason(reason, caller)
        )
        return self.store.get_model_version(name, number)

    def delete_alias(self, name: str, alias: str, *, reason: str | None = None) -> None:
        """Remove an alias (recorded in the history; ``rollback`` restores it)."""
        caller = "delete_alias"
        self.store.delete_model_alias(
            check_model_name(name, caller),
            check_alias(alias, caller),
            actor=current_actor(),
            reason=_check_reason(reason, caller),
        )

    def rollback(self, name: str, alias: str, *, reason: str | None = None) -> ModelVersion:
        """Move ``alias`` back to the version it pointed at before; again to go further back.

        Raises ConflictError when the alias has no earlier version.
        """
        caller = "rollback"
        name = check_model_name(name, caller)
        event = self.store.rollback_model_alias(
            name,
            check_alias(alias, caller),
            actor=current_actor(),
            reason=_check_reason(reason, caller),
        )
        assert event.to_version is not None
        return self.store.get_model_version(name, event.to_version)

    def alias_history(self, name: str, alias: str | None = None) -> pd.DataFrame:
        """The append-only alias history of a model (one alias or all), oldest first."""
        import pandas as pd

        caller = "alias_history"
        name = check_model_name(name, caller)
        if alias is not None:
            alias = check_alias(alias, caller)
        events = self.store.get_alias_history(name, alias)
        frame = pd.DataFrame([_event_row(e) for e in events], columns=HISTORY_COLUMNS)
        for column in ("from_version", "to_version"):
            frame[column] = frame[column].astype("Int64")
        return frame

    # -- housekeeping -----------------------------------------------------------------------
    def delete_model_version(self, name: str, version: int) -> None:
        """Hide a version for good (its number is never reused). Refused while aliased."""
        caller = "delete_model_version"
        self.store.delete_model_version(
            check_model_name(name, caller), _check_version(version, caller)
        )

    def update_model(
        self,
        name: str,
        *,
        description: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> RegisteredModel:
        """Set a model's description and/or add tags to it."""
        caller = "update_model"
        return self.store.update_model(
            check_model_name(name, caller),
            description=_check_description(description, caller),
            tags=_check_tags(tags, caller),
        )

    def model_card(self, model: str | ModelVersion) -> ModelCard:
        """The model card of a version: renders in a notebook, exports to HTML and Markdown."""
        from workbench.registry.card import ModelCard, gate_outcomes

        version = self.get_model_version(model)
        return ModelCard(
            version=version,
            versions=tuple(self.store.list_model_versions(version.name)),
            history=tuple(self.store.get_alias_history(version.name)),
            gates=gate_outcomes(version),
        )


def _model_row(model: RegisteredModel) -> dict[str, Any]:
    return {
        "name": model.name,
        "latest_version": model.latest_version,
        "versions": model.versions,
        "aliases": dict(model.aliases),
        "description": model.description,
        "created_at": model.created_at,
        "updated_at": model.updated_at,
        "tags": dict(model.tags),
    }


def _event_row(event: AliasEvent) -> dict[str, Any]:
    return {column: getattr(event, column) for column in HISTORY_COLUMNS}
