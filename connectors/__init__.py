"""One module per counter-party kind: configuration, schedules and partner quirks on top of `protocols`."""
