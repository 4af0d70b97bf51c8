"""The ceiling for bench/run: a bare Flask app answering "hello", served the same way as Opiekun."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "hello"
