"""Unlearning methods and batch streams, registered by name (see objectives/base.py; unlearning_registry.py
imports them, and the defenses, before a name is looked up)."""
