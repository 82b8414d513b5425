"""OCPP 1.6J and 2.0.1: the hub as the central system (CSMS) of operators' chargers."""
