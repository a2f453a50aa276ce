"""`flask --app app` entry point."""
from comfydeploy import create_app

app = create_app()
