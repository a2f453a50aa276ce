"""HTTP clients for each machine type: dispatch a run, check health, interrupt."""
