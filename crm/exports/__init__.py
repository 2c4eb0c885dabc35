"""Exports as background jobs (progress, "my exports", downloads by their owner) and scheduled reports by email."""
