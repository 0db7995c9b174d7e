"""Synthetic demo: cohorts, the radiograph phantom and the six native-format writers."""
