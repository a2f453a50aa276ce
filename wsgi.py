"""gunicorn entry point: `gunicorn wsgi:app`."""
from comfydeploy import create_app

app = create_app()
