"""Service models: the ones greenroom ships, loaded through botocore's own loader.

``models/`` holds every model the server reads (scripts/derive_models.py derives them from one
botocore release, Nimble from the last release that had it). The server's loader searches that
directory only: the installed botocore's data never shapes the wire, so any client release
talks to the same contract. Clients find the directory too (appended to their loader's search
path by the in-process mock and the tests, or as ``AWS_DATA_PATH``) for models their botocore
lacks.
"""
from __future__ import annotations

import functools
from pathlib import Path

from botocore.loaders import Loader
from botocore.model import OperationModel, ServiceModel

MODELS_DIR = Path(__file__).parent / "models"

# The services greenroom emulates, by botocore service name. Operations without a handler
# answer 501.
EMULATED_SERVICES = (
    "ivs-realtime",
    "gameliftstreams",
    "nimble",
    "kinesisvideo",
    "kinesis-video-archived-media",
    "kinesis-video-media",
    "kinesis-video-signaling",
    "kinesis-video-webrtc-storage",
)

# Services that share a signing name with an emulated one. Their models are loaded only so
# that their requests can be recognised and refused by name instead of misrouted.
RECOGNISED_ONLY = ("ivs",)


@functools.cache
def loader() -> Loader:
    # Only the shipped models: a model the installed botocore has must not win over ours.
    return Loader(extra_search_paths=[str(MODELS_DIR)], include_default_search_paths=False)


@functools.cache
def service_model(name: str) -> ServiceModel:
    return ServiceModel(loader().load_service_model(name, "service-2"), service_name=name)


@functools.cache
def operation_model(service: str, operation: str) -> OperationModel:
    return service_model(service).operation_model(operation)


def signing_name(model: ServiceModel) -> str:
    return model.metadata.get("signingName") or model.metadata["endpointPrefix"]
