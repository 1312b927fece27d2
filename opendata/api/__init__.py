"""The JSON APIs: the portal's REST API v1 and CKAN's Action API v3, two doors onto the same services."""
