"""The publishers' side of the portal: dashboard, dataset and resource forms, the workflow buttons."""
