"""Business rules as plain functions over ids; each service owns its transaction."""
