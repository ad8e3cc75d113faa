"""How models become files and back: a small registry of serializers ("flavours").

Loading is safe by default. The built-in serializers:

* ``skops`` (scikit-learn objects): the file lists every type it needs, and nothing is imported
  or built before that list is checked. Types from scikit-learn, NumPy and SciPy are trusted
  (except a deny-list of modules and functions that read files or run code); any other type is
  refused with :class:`~workbench.UnsafeModelError` naming it, unless the caller trusts it by
  name (``trusted=["mypkg.MyModel"]``) or trusts the file (``trusted=True``, with a warning).
* ``pickle`` (anything else): unpickling can run arbitrary code, so it loads only with
  ``trusted=True``, and warns with :class:`~workbench.UnsafeLoadWarning`.

Add a flavour by subclassing :class:`Serializer` and calling :func:`register_serializer`; the
serializer with the highest ``priority`` whose ``applies(model)`` is true saves a model.
"""

from __future__ import annotations

import abc
import pickle
import threading
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from workbench.exceptions import InvalidParameterError, UnsafeLoadWarning, UnsafeModelError

__all__ = [
    "PickleSerializer",
    "Serializer",
    "SkopsSerializer",
    "Trusted",
    "get_serializer",
    "is_trusted_by_default",
    "list_serializers",
    "normalize_trusted",
    "register_serializer",
    "serializer_for",
    "serializer_for_path",
]

#: ``trusted`` after normalization: True (trust the file) or the type names trusted by the caller.
Trusted = bool | tuple[str, ...]

TRUSTED_PACKAGES = ("sklearn", "numpy", "scipy")
# Parts of a dotted name that make a NumPy/SciPy/sklearn name untrusted all the same: test
# helpers (numpy.testing runs code strings), build tools, and readers of other files.
DENIED_PARTS = frozenset(
    {
        "testing",
        "_testing",
        "tests",
        "_testutils",
        "conftest",
        "distutils",
        "f2py",
        "ctypeslib",
        "npyio",
        "_npyio_impl",
        "format",
        "load",
        "loads",
        "loadtxt",
        "genfromtxt",
        "fromfile",
        "fromregex",
        "memmap",
        "open_memmap",
        "DataSource",
        "save",
        "savez",
        "savez_compressed",
        "savetxt",
        "tofile",
        "externals",
        "system",
        "exec",
        "eval",
    }
)


def is_trusted_by_default(type_name: str) -> bool:
    """Whether a type (or function) named in a model file loads without being trusted.

    Examples
    --------
    >>> is_trusted_by_default("sklearn.tree._tree.Tree")
    True
    >>> is_trusted_by_default("numpy.load"), is_trusted_by_default("posix.system")
    (False, False)
    """
    parts = type_name.split(".")
    if parts[0] not in TRUSTED_PACKAGES or len(parts) < 2:
        return False
    return not any(p in DENIED_PARTS or "pickle" in p.lower() for p in parts[1:])


def normalize_trusted(trusted: Any, caller: str) -> Trusted:
    """``trusted=`` as given by a user: False, True, or type names / types to trust."""
    if isinstance(trusted, bool):
        return trusted
    if isinstance(trusted, (str, type)):
        trusted = [trusted]
    if isinstance(trusted, Sequence) and all(isinstance(t, (str, type)) for t in trusted):
        return tuple(
            t if isinstance(t, str) else f"{t.__module__}.{t.__qualname__}" for t in trusted
        )
    raise InvalidParameterError(
        f"The 'trusted' parameter of {caller} must be False, True, or a list of type names "
        f"such as ['mypackage.models.MyModel']. Got {trusted!r} instead."
    )


class Serializer(abc.ABC):
    """Saves one kind of model to a file and loads it back; see the module docs."""

    #: Unique name, stored as the model version's ``flavor``.
    name: ClassVar[str]
    #: File name suffix (``.skops``); also picks the serializer for an existing artifact.
    suffix: ClassVar[str]
    media_type: ClassVar[str] = "application/octet-stream"
    #: Higher goes first when choosing a serializer for a model.
    priority: ClassVar[int] = 50

    @abc.abstractmethod
    def applies(self, model: Any) -> bool:
        """Whether this serializer can save ``model``."""

    @abc.abstractmethod
    def save(self, model: Any, path: Path) -> None:
        """Write ``model`` to ``path``."""

    @abc.abstractmethod
    def load(self, path: Path, *, trusted: Trusted) -> Any:
        """Read a model from ``path``; raise UnsafeModelError rather than run untrusted code."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, priority={self.priority})"


def _warn_trusted(path: Path, what: str) -> None:
    warnings.warn(
        f"Loading {path.name} with trusted=True: {what} Load only models from sources you "
        "trust; prefer trusted=['module.Type', ...] naming exactly what you reviewed.",
        UnsafeLoadWarning,
        stacklevel=3,
    )


class SkopsSerializer(Serializer):
    """scikit-learn estimators (and anything built from them) with ``skops.io``."""

    name = "skops"
    suffix = ".skops"
    media_type = "application/vnd.skops"
    priority = 10

    def applies(self, model: Any) -> bool:
        try:
            from sklearn.base import BaseEstimator
        except ImportError:  # pragma: no cover - scikit-learn is a dependency
            return False
        return isinstance(model, BaseEstimator)

    def save(self, model: Any, path: Path) -> None:
        import skops.io

        skops.io.dump(model, path)

    def load(self, path: Path, *, trusted: Trusted) -> Any:
        import skops.io

        try:
            needed = skops.io.get_untrusted_types(file=path)
        except (zipfile.BadZipFile, KeyError, ValueError) as exc:
            raise InvalidParameterError(
                f"{path.name} is not a readable skops file ({type(exc).__name__}: {exc}). "
                "Was it registered with the right flavor?"
            ) from None
        refused = [t for t in needed if not is_trusted_by_default(t)]
        if trusted is True:
            if refused:
                _warn_trusted(path, f"it builds objects of types {refused}, which can run code.")
        else:
            allowed = set(trusted or ())
            refused = [t for t in refused if t not in allowed]
            if refused:
                raise UnsafeModelError(
                    f"The model file needs types that are not trusted by default: {refused}. "
                    "Loading them could run code from those modules. If you trust this model, "
                    f"name exactly those types: load_model(uri, trusted={refused!r}), or "
                    "trust the whole file with load_model(uri, trusted=True). Trusted by "
                    f"default: types from {', '.join(TRUSTED_PACKAGES)}.",
                    untrusted=refused,
                )
        return skops.io.load(path, trusted=needed)


class PickleSerializer(Serializer):
    """Anything picklable, as a last resort: loads only with ``trusted=True``."""

    name = "pickle"
    suffix = ".pkl"
    media_type = "application/x-pickle"
    priority = 0

    def applies(self, model: Any) -> bool:
        return True

    def save(self, model: Any, path: Path) -> None:
        with open(path, "wb") as f:
            pickle.dump(model, f, protocol=pickle.HIGHEST_PROTOCOL)

    def load(self, path: Path, *, trusted: Trusted) -> Any:
        if trusted is not True:
            raise UnsafeModelError(
                f"{path.name} is a pickle file: unpickling can run arbitrary code, and its "
                "types cannot be checked before they run. If you trust where this model came "
                "from, load it with load_model(uri, trusted=True). To make models safe to share, "
                "register scikit-learn models (saved with skops) or add a serializer for your "
                "framework with workbench.registry.register_serializer().",
                untrusted=["<pickle>"],
            )
        _warn_trusted(path, "unpickling runs whatever code the file names.")
        with open(path, "rb") as f:
            return pickle.load(f)  # only with trusted=True, warned above


_lock = threading.Lock()
_serializers: dict[str, Serializer] = {}


def register_serializer(serializer: Serializer, *, replace: bool = False) -> Serializer:
    """Add a flavour. Its ``name`` must be new unless ``replace=True``.

    Examples
    --------
    >>> class TorchSerializer(Serializer):  # doctest: +SKIP
    ...     name, suffix, priority = "torch", ".pt", 20
    ...     def applies(self, model): return isinstance(model, torch.nn.Module)
    ...     def save(self, model, path): torch.save(model.state_dict(), path)
    ...     def load(self, path, *, trusted): ...
    >>> register_serializer(TorchSerializer())  # doctest: +SKIP
    """
    if not isinstance(serializer, Serializer):
        raise InvalidParameterError(
            "The 'serializer' parameter of register_serializer must be an instance of "
            f"workbench.registry.Serializer. Got {type(serializer).__name__} instead."
        )
    name = getattr(serializer, "name", None)
    suffix = getattr(serializer, "suffix", None)
    if not isinstance(name, str) or not name or not isinstance(suffix, str) or not suffix:
        raise InvalidParameterError(
            f"{type(serializer).__name__} must set the class attributes 'name' (e.g. 'torch') "
            f"and 'suffix' (e.g. '.pt'). Got name={name!r}, suffix={suffix!r}."
        )
    with _lock:
        if name in _serializers and not replace:
            raise InvalidParameterError(
                f"A serializer named {name!r} is already registered ({_serializers[name]!r}). "
                "Choose another name, or pass replace=True to override it."
            )
        _serializers[name] = serializer
    return serializer


def list_serializers() -> list[str]:
    """Names of the registered serializers, highest priority first."""
    with _lock:
        ordered = sorted(_serializers.values(), key=lambda s: (-s.priority, s.name))
    return [s.name for s in ordered]


def get_serializer(name: str) -> Serializer:
    """The serializer registered as ``name``."""
    with _lock:
        found = _serializers.get(name)
    if found is None:
        raise InvalidParameterError(
            f"No serializer named {name!r}. Available serializers: {list_serializers()}. "
            "Add one with workbench.registry.register_serializer()."
        )
    return found


def serializer_for(model: Any) -> Serializer:
    """The highest-priority serializer that applies to ``model``."""
    for name in list_serializers():
        serializer = get_serializer(name)
        if serializer.applies(model):
            return serializer
    raise InvalidParameterError(  # pragma: no cover - pickle applies to everything
        f"No serializer can save a {type(model).__name__}. Available: {list_serializers()}."
    )


def serializer_for_path(path: str) -> Serializer:
    """The serializer whose suffix ends ``path`` (e.g. autolog's ``model/model.skops``)."""
    for name in list_serializers():
        serializer = get_serializer(name)
        if path.lower().endswith(serializer.suffix.lower()):
            return serializer
    suffixes = {n: get_serializer(n).suffix for n in list_serializers()}
    raise InvalidParameterError(
        f"Cannot tell the flavor of artifact {path!r} from its suffix; known suffixes: "
        f"{suffixes}. Pass flavor= to register_model, e.g. flavor='skops'."
    )


register_serializer(SkopsSerializer())
register_serializer(PickleSerializer())
