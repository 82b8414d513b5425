"""OCPI 2.1.1: wire types (wire.py) and their mapping to the canonical model (mapping.py)."""
