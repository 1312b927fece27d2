"""Tabular resources as tables: read CSV, TSV, XLSX and JSON files, infer and parse column types."""
