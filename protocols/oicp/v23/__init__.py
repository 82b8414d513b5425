"""OICP 2.3: wire types (wire.py), the mapping to and from the canonical model (mapping.py), StatusCode <-> hub errors (errors.py)."""
