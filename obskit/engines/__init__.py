"""Datastore engines: everything one (engine, method) knows, behind one package each (see registry)."""
