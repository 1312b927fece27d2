"""Privacy checks run before a dataset is published: personal data in tabular files."""
