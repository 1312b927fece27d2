"""The datastore benchmark, ``python -m bench.datastore``: ingestion, then row queries beside datasette."""
