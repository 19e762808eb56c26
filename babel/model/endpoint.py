"""The endpoint backend: any OpenAI-compatible server, through the `openai` package.

OpenAI, llama.cpp's server, vLLM, Ollama. The model it is sent is the configured one, or
else the first the server lists at `/models` (asked once, when the client is made), never
a placeholder. The samples of a request that share a prompt and a temperature are asked
for in one call with `n` where the server answers that many choices; a server that
refuses `n` or answers fewer is asked for the rest one call per sample, those calls in
parallel (a bounded set of threads), and every answer comes back in the order of its sample. The
plan's schema is asked for as `response_format: json_schema`; a server that refuses it
is asked for JSON in words from then on, and the verifier catches what that lets
through. It cannot score texts. The API key is read by the SDK from OPENAI_API_KEY and
never appears in errors, logs or traces.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from typing import Any

from babel.model.port import Capabilities, Chat, Completion, ModelError, ModelRequest, ModelResult, Sample, Sampling

#: Calls to one endpoint at once, at most (a request's k samples, when `n` is not served).
WORKERS = 8

#: A call: the request it serves (its index in the batch) and the samples it answers.
Call = tuple[int, tuple[int, ...]]


class EndpointClient:
    capabilities = Capabilities(generate_many=False, schema=False, score=False)

    def __init__(self, model: str | None, base_url: str | None = None, sampling: Sampling | None = None, *,
                 workers: int = WORKERS) -> None:
        """`model`: the name to send; None asks the server's `/models` for it (a ModelError
        if the server does not answer or lists none)."""
        try:
            from openai import OpenAI
        except ImportError as error:  # pragma: no cover - a declared dependency
            raise ModelError("the openai package is missing: pip install openai") from error

        self.sampling = sampling or Sampling()
        self._base_url = base_url or os.environ.get("OPENAI_BASE_URL") or "the OpenAI API"
        # the SDK insists on a key; local servers ignore it, so a placeholder is fine there
        self._client = OpenAI(base_url=base_url, api_key=os.environ.get("OPENAI_API_KEY") or "not-needed", max_retries=1, timeout=300)
        self._json_schema_ok = True
        self._n_ok: bool | None = None  # does the server answer `n` choices in one call? None: not asked yet
        self._workers = max(1, workers)
        self.name = model or self._served_model()

    def _served_model(self) -> str:
        """The first model the server lists: what a user who named none means."""
        from openai import APIConnectionError, APIError, APITimeoutError

        try:
            names = [m.id for m in self._client.with_options(timeout=10).models.list().data]
        except (APIConnectionError, APITimeoutError) as error:
            raise ModelError(f"the model endpoint {self._base_url} does not answer ({type(error).__name__}); "
                             "check OPENAI_BASE_URL and that the server runs") from None
        except APIError as error:
            raise ModelError(f"the model endpoint {self._base_url} did not list its models ({getattr(error, 'status_code', '')}); "
                             "name one with --model or BABEL_MODEL") from None
        if not names:
            raise ModelError(f"the model endpoint {self._base_url} lists no models; name one with --model or BABEL_MODEL")
        return str(names[0])

    def submit(self, requests: Sequence[ModelRequest]) -> list[ModelResult]:
        for request in requests:
            if request.target is not None:
                raise ModelError(f"the model endpoint {self.name} cannot score texts")
        answers: dict[tuple[int, int], Completion] = {}
        calls = [call for i, request in enumerate(requests) for call in self._calls(i, request)]
        while calls:
            missing: list[Call] = []
            for (i, wanted), got in zip(calls, self._parallel(requests, calls), strict=True):
                answers.update({(i, j): completion for j, completion in zip(wanted, got, strict=False)})
                missing += [(i, (j,)) for j in wanted[len(got):]]  # fewer choices than `n`: ask for the rest one by one
            calls = missing
        return [ModelResult(tuple(answers[i, j] for j in range(len(request.samples)))) for i, request in enumerate(requests)]

    def _calls(self, index: int, request: ModelRequest) -> list[Call]:
        """The calls that answer a request: its sampled samples of one chat and temperature
        together (as `n`) while the server may serve that, every other sample alone."""
        groups: dict[tuple[int, float], list[int]] = {}
        for j, sample in enumerate(request.samples):
            groups.setdefault((sample.chat, sample.temperature), []).append(j)
        calls: list[Call] = []
        for (_, temperature), members in groups.items():
            if len(members) > 1 and temperature > 0 and self._n_ok is not False:
                calls.append((index, tuple(members)))
            else:
                calls += [(index, (j,)) for j in members]
        return sorted(calls, key=lambda call: call[1][0])

    def _parallel(self, requests: Sequence[ModelRequest], calls: list[Call]) -> list[list[Completion]]:
        """Each call's answer, in the order of the calls; the first failure is raised. The
        calls run on daemon threads (at most `workers` at once) so that ^C in the caller
        ends the process at once rather than waiting for a slow server to answer."""
        def one(call: Call) -> list[Completion]:
            request = requests[call[0]]
            samples = [request.samples[j] for j in call[1]]
            return self._complete(request.chats[samples[0].chat], samples, request)

        if len(calls) == 1:
            return [one(calls[0])]
        answers: list[list[Completion] | BaseException] = [[] for _ in calls]
        gate = threading.Semaphore(self._workers)

        def work(index: int, call: Call) -> None:
            with gate:
                try:
                    answers[index] = one(call)
                except BaseException as error:  # handed to the caller's thread, raised there
                    answers[index] = error

        threads = [threading.Thread(target=work, args=(i, call), daemon=True, name="babel-endpoint") for i, call in enumerate(calls)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for answer in answers:
            if isinstance(answer, BaseException):
                raise answer
        return [answer for answer in answers if not isinstance(answer, BaseException)]

    def _complete(self, messages: Chat, samples: list[Sample], request: ModelRequest) -> list[Completion]:
        """One call for `samples` (one chat, one temperature; `n` of them when several):
        a completion per choice the server answered, which may be fewer than asked."""
        from openai import APIConnectionError, APIError, APITimeoutError

        started = time.perf_counter()
        first = samples[0]
        kwargs: dict[str, Any] = {"model": self.name, "messages": messages, "temperature": first.temperature,
                                  "max_tokens": request.max_tokens, "logprobs": True, "seed": first.seed}
        if len(samples) > 1:
            kwargs["n"] = len(samples)
        if request.schema is not None and self._json_schema_ok:
            kwargs["response_format"] = {"type": "json_schema", "json_schema": {"name": "plan", "schema": request.schema}}
        try:
            response = self._client.chat.completions.create(**kwargs)
        except APIError as error:
            if getattr(error, "status_code", None) in (400, 422):
                if len(samples) > 1:  # perhaps `n` it refuses: this and every later call asks one sample at a time
                    self._n_ok = False
                    return []
                if request.schema is not None and self._json_schema_ok:
                    self._json_schema_ok = False  # this server has no structured output: ask for JSON in words
                    return self._complete(messages, samples, request)
            if isinstance(error, (APIConnectionError, APITimeoutError)):
                raise ModelError(f"the model endpoint does not answer ({type(error).__name__}); check OPENAI_BASE_URL and that the server runs") from None
            raise ModelError(f"the model endpoint refused the request: {getattr(error, 'status_code', '')} {getattr(error, 'message', '')}"[:300]) from None
        latency = time.perf_counter() - started
        choices = sorted(response.choices or (), key=lambda c: c.index)[:len(samples)]
        if not choices:
            raise ModelError(f"the model endpoint answered no completion (model {self.name})")
        if len(samples) > 1:
            self._n_ok = len(choices) == len(samples)
        usage = response.usage
        prompt_tokens, completion_tokens = (usage.prompt_tokens, usage.completion_tokens) if usage else (0, 0)
        out = []
        for choice in choices:
            logprob, tokens = None, completion_tokens // max(1, len(choices))
            content = getattr(choice, "logprobs", None)  # the SDK's response object: a server may leave these out
            if content is not None and getattr(content, "content", None):
                logprob, tokens = sum(t.logprob for t in content.content), len(content.content)
            out.append(Completion(choice.message.content or "", prompt_tokens, tokens, logprob, self.name, latency))
        return out

    def close(self) -> None:
        self._client.close()
