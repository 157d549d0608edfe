"""The daemon's actors, one module per kind (installed as ``supervisord.actors``)."""
