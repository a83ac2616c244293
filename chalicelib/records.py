"""The records the services hand to the faces, by the names the faces use.

A face reads these (to shape its answer) and never writes, queries or saves them: storage is the
services' business, so no module under ``chalicelib/api`` imports ``chalicelib.storage`` (a
test checks it). They are the storage items today; if the services come to return their own
records, only this module changes for the faces.
"""

from chalicelib.storage.models import ApiKeyModel as ApiKey
from chalicelib.storage.models import JobModel as Job
from chalicelib.storage.models import MessageModel as Message
from chalicelib.storage.models import RunModel as Run

__all__ = ["ApiKey", "Job", "Message", "Run"]
