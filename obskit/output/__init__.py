"""Writing: byte-stable YAML/JSON text, the manifest, the atomic writer."""
