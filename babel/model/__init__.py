"""The model device: the model port and its three backends (the embedded llama.cpp engine,
an OpenAI-compatible endpoint, the cassette), the configuration, the embedded weights.

This module is the part's public face: other parts import from here, never from its
modules. It does not import the engine (which needs the embedded extra); `make_client`
does, when the configuration asks for it.
"""

from babel.model.cassette import CassetteClient
from babel.model.client import ModelPool, make_client
from babel.model.config import Config, ConfigError, load_config
from babel.model.embedded import model_statuses
from babel.model.endpoint import EndpointClient
from babel.model.meter import Metered, Tokens
from babel.model.port import Capabilities, Chat, Completion, ModelClient, ModelError, ModelRequest, ModelResult, Sample, Sampling

__all__ = ["CassetteClient", "Metered", "Tokens", "Capabilities", "Chat", "Completion", "Config", "ConfigError", "EndpointClient", "ModelClient",
           "ModelError", "ModelPool", "ModelRequest", "ModelResult", "Sample", "Sampling", "load_config", "make_client",
           "model_statuses"]
