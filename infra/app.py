"""CDK app: ``make synth`` writes the CloudFormation template to ``cdk.out/`` (offline)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.nag import suppress
from infra.stack import BeatlessStack


def build(
    outdir: str = "cdk.out", stage: str = "dev", context: dict[str, Any] | None = None
) -> cdk.App:
    """The app, checked by cdk-nag; ``context`` as ``-c`` gives it (tests)."""
    app = cdk.App(outdir=outdir, context=context)
    stack = BeatlessStack(app, stage)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    suppress(stack)
    return app


if __name__ == "__main__":
    build().synth()
