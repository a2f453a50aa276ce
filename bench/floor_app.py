"""The HTTP floor: a bare Flask endpoint that does no work, served with the same gunicorn config."""
from flask import Flask

app = Flask(__name__)


@app.route("/floor", methods=["GET", "POST"])
def floor():
    """Answer at once."""
    return {"ok": True}
