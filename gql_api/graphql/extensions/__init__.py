"""Schema extensions every operation runs, one per module."""
