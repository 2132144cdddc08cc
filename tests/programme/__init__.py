"""Tests of the programme file: validation, apply, and the command line."""
