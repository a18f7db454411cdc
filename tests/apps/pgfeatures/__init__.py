"""What only PostgreSQL has: named schemas, GIN indexes, arrays, deferrable foreign keys."""
