"""Reading and validating the spec: files, YAML with lines, schema, cross-field checks, the typed model."""
