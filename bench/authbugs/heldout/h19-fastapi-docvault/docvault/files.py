import hashlib
import os
import uuid

from . import settings

EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def store(owner_id, data):
    checksum = hashlib.sha256(data).hexdigest()
    if checksum == EMPTY_SHA256:
        raise ValueError("empty upload")
    doc_id = uuid.uuid4().hex
    directory = os.path.join(settings.STORAGE_ROOT, str(owner_id))
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, doc_id), "wb") as fh:
        fh.write(data)
    return doc_id, checksum


def load(owner_id, doc_id):
    if not doc_id.isalnum():
        return None
    path = os.path.join(settings.STORAGE_ROOT, str(owner_id), doc_id)
    if not os.path.isfile(path):
        return None
    with open(path, "rb") as fh:
        return fh.read()
