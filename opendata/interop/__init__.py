"""Exchange formats beyond the APIs: Frictionless Data Packages and a dataset's files as one ZIP."""
