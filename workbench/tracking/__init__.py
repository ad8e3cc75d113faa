"""Tracking: run handles, the background recorder, run context, datasets, autologging.

The public functions live in :mod:`workbench.tracking.fluent` and are re-exported by
:mod:`workbench`.
"""
