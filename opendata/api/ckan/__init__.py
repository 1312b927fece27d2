"""CKAN's Action API v3 over the portal's services, so that ckanapi, harvesters and scripts work unchanged."""
