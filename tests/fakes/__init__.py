"""Fake platform API servers for tests, bound to 127.0.0.1 on a free port."""
