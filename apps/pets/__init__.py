"""Pets and their owners' animals."""
