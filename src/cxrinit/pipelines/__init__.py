"""One folder per pipeline: ``pipeline.py`` wires nodes, ``nodes.py`` holds thin calls into the domain code."""
