"""Marshmallow schemas: request validation and the OpenAPI docs from one source."""
