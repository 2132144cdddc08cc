"""Channels: one package per platform, plus the port they all implement."""
