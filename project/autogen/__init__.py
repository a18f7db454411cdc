"""makemigrations' engine: comparing models with a schema (compare, comparators, sequences,
drift), planning one migration per app (planner, per_app), the questions it asks
(questioner, ambiguities), describing and rendering operations (describe, render), and
writing the files (writer, formatting).

Imports the engine, backends, the adapter and the top level; never the cli or services.
"""
