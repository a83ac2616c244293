"""beatless: wiring only. Every route, handler and service lives in chalicelib/."""

from chalice import Chalice

from chalicelib.api import docs, native
from chalicelib.api.errors import normalise_chalice_errors

app = Chalice(app_name="beatless")
app.register_middleware(normalise_chalice_errors, "http")
app.register_blueprint(native.bp, url_prefix=native.PREFIX)
app.register_blueprint(docs.bp)
