"""RQ jobs: thin functions over ids that call services."""
