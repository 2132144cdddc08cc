"""Tenkepause: a pause to think, carried into the chat tools leaders already use."""

__version__ = "0.1.0"
