"""Importing this registers the optional feature modules' actions in the message table."""
