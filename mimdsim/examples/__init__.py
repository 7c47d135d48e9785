"""Example programs built directly from the IR (calibration cases; see docs/validation_tut6.md)."""
