"""beatless: wiring only. Every route, handler and service lives in chalicelib/."""

from typing import Any

from chalicelib import sdk

# First, before anything imports botocore: a function started with an older AWS SDK than the
# code needs (the layer missing, the runtime's own copy) fails here, naming both versions.
sdk.require()

import pynamodb.settings  # noqa: E402, F401
from chalice import Chalice, Rate  # noqa: E402

from chalicelib import logs, metrics, observers, services  # noqa: E402
from chalicelib.settings import serves_http  # noqa: E402

# pynamodb.settings logs two INFO lines when first imported: imported here, before the JSON
# logs are configured (as when app.py imported the storage models), so that they stay out of
# them; it is a few lines, while PynamoDB's models (botocore) load on the first use.
app = Chalice(app_name="beatless")
# Every function: the ids of what it handles on each log line. Deployed, logs are JSON lines and
# runs emit EMF metrics; make run keeps its human console (chalicelib/logs.py, metrics.py).
app.register_middleware(logs.middleware)
if logs.configure(app.log):
    observers.OBSERVERS.extend((logs.observe, metrics.observe))


def _serve_http(app: Chalice) -> None:
    """The API: its middleware and every face's routes. Imported here, so that a function that
    serves no HTTP request (``serves_http()``) does not import them at its cold start."""
    from chalicelib import console
    from chalicelib.api import alteryx, dapr, docs, native, udata, vitam
    from chalicelib.api.auth import authenticate
    from chalicelib.api.errors import normalise_chalice_errors

    app.register_middleware(normalise_chalice_errors, "http")
    app.register_middleware(authenticate, "http")
    app.register_blueprint(native.bp, url_prefix=native.PREFIX)
    app.register_blueprint(udata.bp, url_prefix=udata.PREFIX)
    app.register_blueprint(alteryx.bp, url_prefix=alteryx.PREFIX)
    for blueprint, prefix in vitam.BLUEPRINTS:  # /vitam/v1 and /worker/v1
        app.register_blueprint(blueprint, url_prefix=prefix)
    for blueprint, prefix in dapr.BLUEPRINTS:
        app.register_blueprint(blueprint, url_prefix=prefix)
    app.register_blueprint(docs.bp)
    app.register_blueprint(console.bp)  # /console/, /docs and / (issue 18)


if serves_http():
    _serve_http(app)


@app.lambda_function(name="worker")
def worker(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Target of every EventBridge schedule, and of `aws lambda invoke`."""
    return services.worker().handle(event, context)


@app.on_sqs_message(queue="beatless-high", batch_size=10, name="queue_high")
def queue_high(event: Any) -> dict[str, Any]:
    return services.worker().handle_sqs(event.to_dict(), event.context)


@app.on_sqs_message(queue="beatless-default", batch_size=10, name="queue_default")
def queue_default(event: Any) -> dict[str, Any]:
    return services.worker().handle_sqs(event.to_dict(), event.context)


@app.on_sqs_message(queue="beatless-low", batch_size=10, name="queue_low")
def queue_low(event: Any) -> dict[str, Any]:
    return services.worker().handle_sqs(event.to_dict(), event.context)


@app.schedule(Rate(1, unit=Rate.MINUTES), name="reaper")
def reaper(event: Any) -> dict[str, Any]:
    """End runs whose lease expired (their Lambda was killed by its timeout)."""
    from chalicelib import maintenance  # imported by the function that runs it (cold start)

    return maintenance.reap()


@app.schedule(Rate(10, unit=Rate.MINUTES), name="reconciler")
def reconciler(event: Any) -> dict[str, Any]:
    """Repair drift between job items and EventBridge schedules, both ways."""
    from chalicelib import maintenance

    return maintenance.reconcile()
