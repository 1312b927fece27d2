"""The catalogue: agencies, datasets, resources, themes, licences and the metadata schema."""
