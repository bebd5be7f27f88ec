"""Importing this registers the feature modules' actions in the message table."""

from satchel.daemon import file_actions as _file_actions  # noqa: F401
