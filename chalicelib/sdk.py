"""The AWS SDK the code needs, checked when a function starts (issue 19).

The deployment package does not carry boto3 and botocore: the stack ships the pinned ones as a
Lambda layer built from the same package (``infra/package.py``), which Lambda puts before its
runtime's own older copy on ``sys.path``. Should a function ever start with an older SDK (the
layer detached, a hand-made deployment, the runtime's copy), it must fail at once and say why,
not half-work: an older botocore lacks API parameters and behaviour the code relies on.

``NEEDS`` is the pin of ``requirements.txt`` (tests/test_sdk.py keeps the two equal).
"""

from __future__ import annotations

import importlib.util
import re

#: The oldest versions the code is tested with: the pins of requirements.txt (boto3 1.44.5
#: requires botocore 1.44.5 or later within 1.44).
NEEDS = {"boto3": "1.44.5", "botocore": "1.44.5"}
_VERSION = re.compile(r"""^__version__\s*=\s*['"]([^'"]+)['"]""", re.MULTILINE)


class SdkTooOld(ImportError):
    """The SDK found is older than ``NEEDS`` (or missing): the function must not start."""


def older(found: str, needed: str) -> bool:
    """Whether version ``found`` is before ``needed``, compared as numbers (``1.9`` < ``1.44``);
    a suffix (``1.44.5rc1``) counts as its base version."""

    def parts(version: str) -> tuple[int, ...]:
        return tuple(int(re.match(r"\d*", part).group() or 0) for part in version.split("."))  # type: ignore[union-attr]

    return parts(found) < parts(needed)


def found_version(distribution: str) -> tuple[str, str] | None:
    """The version and location of ``distribution`` as Python would import it, read from its
    ``__init__.py`` without importing it (importing boto3 here would cost every cold start)."""
    spec = importlib.util.find_spec(distribution)
    if spec is None or spec.origin is None:
        return None
    with open(spec.origin, encoding="utf-8") as source:
        match = _VERSION.search(source.read())
    return (match.group(1) if match else "0", spec.origin.rsplit("/", 2)[0])


def problems(needs: dict[str, str] = NEEDS) -> list[str]:
    """What is too old or missing, one sentence each (empty: the SDK will do)."""
    found = []
    for name, needed in needs.items():
        version = found_version(name)
        if version is None:
            found.append(f"{name} >= {needed} is needed and none was found")
        elif older(version[0], needed):
            found.append(f"{name} >= {needed} is needed; found {version[0]} in {version[1]}")
    return found


def require(needs: dict[str, str] = NEEDS) -> None:
    """Raise ``SdkTooOld`` naming what was found and what is needed, if anything is older."""
    if wrong := problems(needs):
        raise SdkTooOld(
            "beatless cannot start with this AWS SDK: "
            + "; ".join(wrong)
            + ". Deploy with the stack's SDK layer (docs/deploy.md, 'The AWS SDK'), "
            "or install the versions of requirements.txt."
        )
