"""The endpoint backend: any OpenAI-compatible server, through the `openai` package.

OpenAI, llama.cpp's server, vLLM, Ollama. Each sample of a request is one call with its
own seed (not every server honours `n`). The plan's schema is asked for as
`response_format: json_schema`; a server that refuses it is asked for JSON in words from
then on, and the verifier catches what that lets through. It cannot score texts. The API
key is read by the SDK from OPENAI_API_KEY and never appears in errors, logs or traces.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

from babel.model.port import Capabilities, Chat, Completion, ModelError, ModelRequest, ModelResult, Sample, Sampling


class EndpointClient:
    capabilities = Capabilities(generate_many=False, schema=False, score=False)

    def __init__(self, model: str, base_url: str | None = None, sampling: Sampling | None = None) -> None:
        try:
            from openai import OpenAI
        except ImportError as error:  # pragma: no cover - a declared dependency
            raise ModelError("the openai package is missing: pip install openai") from error

        self.name = model
        self.sampling = sampling or Sampling()
        # the SDK insists on a key; local servers ignore it, so a placeholder is fine there
        self._client = OpenAI(base_url=base_url, api_key=os.environ.get("OPENAI_API_KEY") or "not-needed", max_retries=1, timeout=300)
        self._json_schema_ok = True

    def submit(self, requests: Sequence[ModelRequest]) -> list[ModelResult]:
        results = []
        for request in requests:
            if request.target is not None:
                raise ModelError(f"the model endpoint {self.name} cannot score texts")
            results.append(ModelResult(tuple(self._complete(request.chats[sample.chat], sample, request) for sample in request.samples)))
        return results

    def _complete(self, messages: Chat, sample: Sample, request: ModelRequest) -> Completion:
        from openai import APIConnectionError, APIError, APITimeoutError

        started = time.perf_counter()
        kwargs: dict[str, Any] = {"model": self.name, "messages": messages, "temperature": sample.temperature,
                                  "max_tokens": request.max_tokens, "logprobs": True, "seed": sample.seed}
        if request.schema is not None and self._json_schema_ok:
            kwargs["response_format"] = {"type": "json_schema", "json_schema": {"name": "plan", "schema": request.schema}}
        try:
            response = self._client.chat.completions.create(**kwargs)
        except APIError as error:
            if request.schema is not None and self._json_schema_ok and getattr(error, "status_code", None) in (400, 422):
                self._json_schema_ok = False  # this server has no structured output: ask for JSON in words
                return self._complete(messages, sample, request)
            if isinstance(error, (APIConnectionError, APITimeoutError)):
                raise ModelError(f"the model endpoint does not answer ({type(error).__name__}); check OPENAI_BASE_URL and that the server runs") from None
            raise ModelError(f"the model endpoint refused the request: {getattr(error, 'status_code', '')} {getattr(error, 'message', '')}"[:300]) from None
        choice = response.choices[0]
        logprob = None
        content = getattr(choice, "logprobs", None)  # the SDK's response object: a server may leave these out
        if content is not None and getattr(content, "content", None):
            logprob = sum(t.logprob for t in content.content)
        usage = response.usage
        return Completion(choice.message.content or "", usage.prompt_tokens if usage else 0, usage.completion_tokens if usage else 0,
                          logprob, self.name, time.perf_counter() - started)

    def close(self) -> None:
        self._client.close()
