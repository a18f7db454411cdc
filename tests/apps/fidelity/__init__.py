"""Model features real projects use, on the project's own declarative base and MetaData."""
