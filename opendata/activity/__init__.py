"""Activity stream and audit trail."""
