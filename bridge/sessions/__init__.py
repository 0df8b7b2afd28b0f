"""Sessions: the per-thread session actors, the coordinator, the limiter and rendering."""
