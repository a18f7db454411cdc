"""Pet owners."""
