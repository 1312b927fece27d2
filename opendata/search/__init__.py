"""Full-text search of the catalogue: one interface, two backends (Whoosh, PostgreSQL)."""
