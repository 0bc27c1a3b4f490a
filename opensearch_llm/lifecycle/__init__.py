"""The lifecycle engine: plan (pure data), apply, smoke, teardown, journal, naming."""
