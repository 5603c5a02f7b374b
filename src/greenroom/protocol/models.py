"""Service models, loaded through botocore's own loader.

greenroom ships the models botocore no longer carries (nimble) under ``models/``; that
directory is appended to the loader's search path, so it also works as ``AWS_DATA_PATH``.
"""
from __future__ import annotations

import functools
from pathlib import Path

from botocore.loaders import Loader
from botocore.model import OperationModel, ServiceModel

MODELS_DIR = Path(__file__).parent / "models"

# The services greenroom emulates, by botocore service name.
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
    loader = Loader()
    loader.search_paths.append(str(MODELS_DIR))
    return loader


@functools.cache
def service_model(name: str) -> ServiceModel:
    return ServiceModel(loader().load_service_model(name, "service-2"), service_name=name)


@functools.cache
def operation_model(service: str, operation: str) -> OperationModel:
    return service_model(service).operation_model(operation)


def signing_name(model: ServiceModel) -> str:
    return model.metadata.get("signingName") or model.metadata["endpointPrefix"]
