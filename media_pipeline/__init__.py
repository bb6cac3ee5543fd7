"""Shared library of the media pipeline: one module per concern, packaged into every function."""

__version__ = "0.1.0"
