"""Dagster run and event-log storage schemas -- https://github.com/dagster-io/dagster -- Apache-2.0."""
