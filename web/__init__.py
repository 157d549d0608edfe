"""The HTTP surfaces, one module per surface (installed as ``supervisord.web``)."""
