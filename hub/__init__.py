"""The hub's core and its native surface."""
