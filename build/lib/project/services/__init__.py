"""The commands as plain functions: they take settings and arguments and return data.

The CLI renders what they return; tests and `call_command` can call them directly.
"""
