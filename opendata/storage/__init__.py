"""File storage: streamed, checksummed uploads and range-capable downloads."""
