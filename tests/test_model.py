"""The model client's backends, the configuration layers, and the embedded model's assembly."""

from __future__ import annotations

import hashlib
import json
import socket
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from babel.model import (
    Capabilities,
    CassetteClient,
    Completion,
    EndpointClient,
    ModelError,
    ModelPool,
    ModelRequest,
    ModelResult,
    Sample,
    Sampling,
    make_client,
)
from babel.model.config import Config, ConfigError, load_config
from babel.model.embedded import ModelMissing, assemble

MESSAGES = [{"role": "user", "content": "count the lines"}]


def ask(temperature: float = 0.0, seed: int = 1, n: int = 1) -> ModelRequest:
    return ModelRequest((MESSAGES,), tuple(Sample(temperature, seed + i) for i in range(n)))


class Inner:
    """A model that answers each sample with a numbered text, and keeps the requests it saw."""

    name = "inner"

    def __init__(self, capabilities: Capabilities = Capabilities(generate_many=False, schema=False, score=True),
                 sampling: Sampling = Sampling()) -> None:
        self.capabilities = capabilities
        self.sampling = sampling
        self.requests: list[ModelRequest] = []
        self.text = ""

    def submit(self, requests: Sequence[ModelRequest]) -> list[ModelResult]:
        self.requests += requests
        return [ModelResult(score=-1.5) if r.target is not None else
                ModelResult(tuple(Completion(self.text or f"answer {len(self.requests)} t={s.temperature}", 5, 3, -0.5, "inner", 0.1)
                                  for s in r.samples))
                for r in requests]

    def close(self) -> None:
        pass


def test_a_cassette_records_then_replays_without_the_model(tmp_path: Path) -> None:
    tape = tmp_path / "tape.json"
    inner = Inner()
    recorder = CassetteClient(tape, inner, mode="record")
    first = recorder.submit([ask()])
    assert recorder.submit([ask()]) == first and len(inner.requests) == 1
    replay = CassetteClient(tape)
    assert replay.submit([ask()])[0].completions[0].text == "answer 1 t=0.0"


def test_a_cassette_never_answers_a_request_it_has_not_seen(tmp_path: Path) -> None:
    tape = tmp_path / "tape.json"
    CassetteClient(tape, Inner(), mode="record").submit([ask()])
    with pytest.raises(ModelError, match="no recording of this request"):
        CassetteClient(tape).submit([ask(temperature=0.7)])
    with pytest.raises(ModelError, match="no cassette"):
        CassetteClient(tmp_path / "missing.json")


def test_a_cassette_records_scores_and_asks_the_model_only_what_it_lacks(tmp_path: Path) -> None:
    tape = tmp_path / "tape.json"
    inner = Inner()
    score = ModelRequest((MESSAGES,), target="count the lines of a.txt")
    CassetteClient(tape, inner, mode="record").submit([ask()])
    recorded = CassetteClient(tape, inner, mode="record").submit([ask(), score])
    assert inner.requests == [ask(), score]  # the recorded generation was not asked again
    assert CassetteClient(tape).submit([score, ask()]) == [recorded[1], recorded[0]] and recorded[1].score == -1.5


def test_a_cassette_files_its_recordings_under_the_keys_of_before(tmp_path: Path) -> None:
    # computed with the cassette of 3dbbdb2 (before requests were values), which recorded tests/cassettes/
    variant = [*MESSAGES, *MESSAGES]
    requests = [ModelRequest((MESSAGES,), (Sample(0.0, 0), Sample(0.7, 1))),
                ModelRequest((MESSAGES, variant), (Sample(0.0, 0), Sample(0.7, 1, chat=1)), schema={"a": 1}),
                ModelRequest((MESSAGES,), target="x")]
    tape = tmp_path / "tape.json"
    CassetteClient(tape, Inner(), mode="record").submit(requests)
    assert sorted(json.loads(tape.read_text())) == sorted(["b1f2e39a10ab4a7d66a68d1b4cba610e", "db2c6b5fecdbdc4897508c97713f613b",
                                                          "525baee905792fe765291fad39d3ec01"])


def test_a_replaying_cassette_declares_the_capabilities_of_the_engine_that_recorded_it(tmp_path: Path) -> None:
    pytest.importorskip("numpy")
    from babel.model.engine import EngineClient

    tape = tmp_path / "tape.json"
    tape.write_text("{}")
    assert CassetteClient(tape).capabilities == EngineClient.capabilities
    endpoint = Capabilities(generate_many=False, schema=False, score=False)
    assert CassetteClient(tape, capabilities=endpoint).capabilities == endpoint


def test_a_request_either_draws_samples_or_scores_a_reply() -> None:
    with pytest.raises(ValueError, match="one of the two"):
        ModelRequest((MESSAGES,))
    with pytest.raises(ValueError, match="one of the two"):
        ModelRequest((MESSAGES,), (Sample(0.0, 0),), target="x")
    with pytest.raises(ValueError, match="chats"):
        ModelRequest((MESSAGES,), (Sample(0.0, 0, chat=1),))


def test_an_endpoint_that_does_not_answer_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-canary")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = EndpointClient("any", f"http://127.0.0.1:{port}/v1")
    with pytest.raises(ModelError) as error:
        client.submit([ask()])
    assert "does not answer" in str(error.value) and "canary" not in str(error.value)
    with pytest.raises(ModelError, match="cannot score"):
        client.submit([ModelRequest((MESSAGES,), target="x")])


def test_configuration_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BABEL_K", "BABEL_MODEL", "BABEL_BACKEND", "OPENAI_BASE_URL", "BABEL_MODEL_PATH"):
        monkeypatch.delenv(name, raising=False)
    user = tmp_path / "xdg" / "babel" / "config.toml"
    user.parent.mkdir(parents=True)
    user.write_text('k = 2\nmodel = "qwen2.5-coder-1.5b"\ntemperature = 0.5\n')
    project = tmp_path / "proj"
    project.mkdir()
    assert load_config({}, project, user_file=user).k == 2
    assert load_config({}, project).k != 2  # no user file given, none read
    (project / ".babel.toml").write_text("k = 4\n")
    config = load_config({}, project, user_file=user)
    assert (config.k, config.model, config.temperature) == (4, "qwen2.5-coder-1.5b", 0.5)
    assert config.sources["k"].endswith(".babel.toml") and config.sources["model"].endswith("config.toml")
    monkeypatch.setenv("BABEL_K", "5")
    assert load_config({}, project, user_file=user).k == 5
    assert load_config({"k": 1}, project, user_file=user).k == 1
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert load_config({}, project).backend == "endpoint"


@pytest.mark.parametrize(("content", "message"), [
    ('api_key = "sk-123"\n', "keys belong in OPENAI_API_KEY"),
    ("colour = 1\n", "unknown key 'colour'"),
    ("k = 99\n", "k must be a whole number from 1 to 8, not 99"),
    ("k = [\n", "not valid TOML"),
])
def test_bad_config_files_are_refused_by_name(tmp_path: Path, content: str, message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".babel.toml").write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_config({}, tmp_path)


def test_assembly_checks_size_and_hash(tmp_path: Path) -> None:
    parts = []
    for i, data in enumerate((b"abc", b"def", b"g")):
        part = tmp_path / f"part{i}"
        part.write_bytes(data)
        parts.append(part)
    good = hashlib.sha256(b"abcdefg").hexdigest()
    target = tmp_path / "models" / "m.gguf"
    assert assemble(parts, target, 7, good).read_bytes() == b"abcdefg"
    assert assemble(parts, target, 7, good) == target  # cached: not assembled again
    bad = tmp_path / "models" / "bad.gguf"
    with pytest.raises(ModelMissing, match="wrong"):
        assemble(parts, bad, 7, "0" * 64)
    assert not bad.exists() and not list(bad.parent.glob(".bad.gguf*"))


def test_an_unknown_embedded_model_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BABEL_MODEL_PATH", "OPENAI_BASE_URL", "BABEL_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="--model: model must be an embedded model .*qwen2.5-coder-0.5b.*not 'gpt-17'"):
        load_config({"model": "gpt-17"})
    with pytest.raises(ModelError, match="unknown embedded model"):  # a Config made in code is judged when loaded
        make_client(Config(model="gpt-17"))


def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("BABEL_K", "BABEL_MODEL", "BABEL_BACKEND", "OPENAI_BASE_URL", "BABEL_MODEL_PATH", "BABEL_TEMPERATURE",
                 "BABEL_MAX_TOKENS", "BABEL_CASSETTE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config"))
    monkeypatch.chdir(tmp_path)


def test_the_configured_temperature_and_max_tokens_reach_the_compilers_request(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from babel.compiler import compile_request

    _clean_env(monkeypatch, tmp_path)
    tape = tmp_path / "tape.json"
    tape.write_text("{}")
    config = load_config({"max_tokens": 99, "temperature": 0.25, "backend": "cassette", "cassette": str(tape)})
    model = Inner(sampling=make_client(config).sampling)
    compile_request("how many lines does a.txt have?", model, k=3)
    assert [(r.max_tokens, [s.temperature for s in r.samples]) for r in model.requests] == [(99, [0.0, 0.25, 0.25])]


def test_by_default_the_compiler_asks_what_it_always_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from babel.compiler import compile_request

    _clean_env(monkeypatch, tmp_path)
    tape = tmp_path / "tape.json"
    tape.write_text("{}")
    model = Inner(sampling=make_client(load_config({"backend": "cassette", "cassette": str(tape)})).sampling)
    compile_request("how many lines does a.txt have?", model, k=3, seed=5)
    [request] = model.requests
    assert (request.max_tokens, request.samples) == (384, (Sample(0.0, 5), Sample(0.7, 6), Sample(0.7, 7)))


@pytest.mark.parametrize(("generate_many", "asked"), [(True, [0.0, 0.7, 0.7, 0.7]), (False, [0.0])])
def test_repairs_ask_for_alternatives_only_of_a_model_that_generates_many_at_once(generate_many: bool, asked: list[float]) -> None:
    from babel.compiler import ModelRepairs
    from babel.lang import RepairRequest, parse_plan
    from babel.verify import Policy

    plan = parse_plan('s1: exec "sort --nope data.txt"').plan
    assert plan is not None
    model = Inner(Capabilities(generate_many=generate_many, schema=True, score=False), Sampling(max_tokens=200))
    model.text = json.dumps({"steps": [{"op": "exec", "args": {"cmd": "sort data.txt"}}]})
    ModelRepairs(model, Policy(), "sort data.txt")(RepairRequest(plan, 0, "nonzero_exit", "exit 2", "", "", None, (), True, 3))
    [request] = model.requests
    assert [s.temperature for s in request.samples] == asked and request.max_tokens == 200 and request.samples[0].seed == 3


def test_the_reviewer_is_offered_only_by_a_model_that_declares_it_can_score() -> None:
    from babel.compiler import reviewer
    from babel.lang import parse_plan

    plans = [p for p in (parse_plan('exec "wc -l a"').plan, parse_plan('exec "wc a"').plan) if p is not None]
    scoring = Inner(Capabilities(generate_many=False, schema=False, score=True))
    review = reviewer(scoring, "count the lines of a", "/workspace")
    assert review is not None and review(plans) == [-1.5, -1.5]
    assert [r.target for r in scoring.requests] == ["count the lines of a"] * 2
    assert reviewer(Inner(Capabilities(generate_many=False, schema=False, score=False)), "x", "/workspace") is None


@pytest.mark.model
def test_engines_belong_to_the_pool_the_application_made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from babel.model.embedded import model_file
    from babel.model.engine import EngineClient

    _clean_env(monkeypatch, tmp_path)
    config = load_config({"model_path": str(model_file("qwen2.5-coder-0.5b")), "threads": 2, "cache_dir": str(tmp_path)})
    with ModelPool() as pool:
        first, second, alone = make_client(config, pool=pool), make_client(config, pool=pool), make_client(config)
        assert isinstance(first, EngineClient) and isinstance(second, EngineClient) and isinstance(alone, EngineClient)
        assert first.engine is second.engine and alone.engine is not first.engine  # without a pool: an engine of its own
        first.close()  # a pooled client leaves the pool's engine alone
        assert second.engine.ctx is not None
        alone.close()
        assert alone.engine.ctx is None
    assert first.engine.ctx is None


# ---- the endpoint, against a real HTTP server (an OpenAI-compatible fake) ------------------


class FakeEndpoint:
    """An OpenAI-compatible server on a local port that records every request it gets.
    `models`: what `/v1/models` lists; `n`: "serve" (as many choices as asked), "ignore"
    (one choice, as llama.cpp's server does) or "refuse" (a 400); `delay`: seconds a
    completion takes. Each choice's text names the seed and the choice index it came from."""

    def __init__(self, models: Sequence[str] = ("served-model",), n: str = "serve", delay: float = 0.0) -> None:
        import http.server
        import threading
        import time

        self.requests: list[tuple[str, str, dict[str, object]]] = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def reply(self, status: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                fake.requests.append(("GET", self.path, {}))
                self.reply(200, {"object": "list", "data": [{"id": m, "object": "model", "owned_by": "me"} for m in models]})

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(("POST", self.path, body))
                asked = int(body.get("n", 1))
                if asked > 1 and n == "refuse":
                    return self.reply(400, {"error": {"message": "n must be 1", "type": "invalid_request_error"}})
                time.sleep(delay)
                count = asked if n == "serve" else 1
                choices = [{"index": i, "finish_reason": "stop", "message": {"role": "assistant", "content": f"seed={body['seed']} choice={i}"},
                            "logprobs": {"content": [{"token": "x", "logprob": -0.25, "bytes": None, "top_logprobs": []}] * 2}}
                           for i in range(count)]
                self.reply(200, {"id": "c", "object": "chat.completion", "created": 0, "model": body["model"], "choices": choices,
                                 "usage": {"prompt_tokens": 7, "completion_tokens": 2 * count, "total_tokens": 7 + 2 * count}})

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def completions(self) -> list[dict[str, object]]:
        return [body for method, path, body in self.requests if method == "POST"]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeEndpoint]:
    fake = FakeEndpoint(**getattr(request, "param", {}))
    for name in ("BABEL_MODEL", "BABEL_BACKEND", "BABEL_MODEL_PATH", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", fake.url)
    yield fake
    fake.close()


def candidates(k: int) -> ModelRequest:
    """The compiler's request of k candidates: the first greedy, the others sampled."""
    return ModelRequest((MESSAGES,), (Sample(0.0, 100), *(Sample(0.7, 101 + i) for i in range(k - 1))))


def test_the_endpoint_is_sent_the_model_its_server_lists_never_default(endpoint: FakeEndpoint, tmp_path: Path) -> None:
    client = make_client(load_config({}, tmp_path))
    client.submit([ask()])
    assert client.name == "served-model"
    assert [body["model"] for body in endpoint.completions()] == ["served-model"]
    assert endpoint.requests[0][:2] == ("GET", "/v1/models")


def test_a_model_the_user_names_is_sent_as_named_without_asking_the_server(endpoint: FakeEndpoint, tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BABEL_MODEL", "qwen2.5-coder:1.5b")
    make_client(load_config({}, tmp_path)).submit([ask()])
    assert [(method, body.get("model")) for method, _, body in endpoint.requests] == [("POST", "qwen2.5-coder:1.5b")]


@pytest.mark.parametrize("endpoint", [{"models": ()}], indirect=True)
def test_a_server_that_lists_no_model_is_a_model_error_saying_how_to_name_one(endpoint: FakeEndpoint, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="lists no models; name one with --model or BABEL_MODEL"):
        make_client(load_config({}, tmp_path))


def test_k_candidates_are_one_call_with_n_where_the_server_serves_it(endpoint: FakeEndpoint, tmp_path: Path) -> None:
    [result] = make_client(load_config({}, tmp_path)).submit([candidates(5)])
    calls = endpoint.completions()
    assert sorted((body["temperature"], body.get("n", 1)) for body in calls) == [(0.0, 1), (0.7, 4)]  # the two calls run in parallel
    assert [c.text for c in result.completions] == ["seed=100 choice=0", *(f"seed=101 choice={i}" for i in range(4))]
    assert all(c.completion_tokens == 2 and c.logprob == -0.5 and c.model == "served-model" for c in result.completions)


@pytest.mark.parametrize("endpoint", [{"n": "ignore", "delay": 0.4}, {"n": "refuse", "delay": 0.4}], indirect=True)
def test_without_n_the_samples_are_asked_in_parallel_and_answered_in_order(endpoint: FakeEndpoint, tmp_path: Path) -> None:
    import time

    client = make_client(load_config({}, tmp_path))
    started = time.perf_counter()
    [result] = client.submit([candidates(5)])
    took = time.perf_counter() - started
    texts = [c.text.split()[0] for c in result.completions]
    assert texts == [f"seed={100 + i}" for i in range(5)]  # each sample's own answer, in the samples' order
    assert took < 5 * 0.4, took  # five completions of 0.4 s each, not one after another
    calls_before = len(endpoint.completions())
    client.submit([candidates(3)])  # the server was found out once: now one sample a call, no `n`
    assert all(body.get("n", 1) == 1 for body in endpoint.completions()[calls_before:])


def test_the_engine_threads_adapt_to_the_free_cores_unless_configured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from babel.model.client import engine_threads

    assert engine_threads(cores=2, load=2.6) == 1  # busy cores: one thread (five times faster there than two)
    assert engine_threads(cores=2, load=0.2) == 2
    assert engine_threads(cores=16, load=1.0) == 4  # at most four
    assert engine_threads(3, cores=2, load=9.0) == 3  # `threads` / BABEL_THREADS wins
    assert 1 <= engine_threads() <= 4  # this machine's cores and load
    monkeypatch.setenv("BABEL_THREADS", "3")
    assert load_config({}, tmp_path).threads == 3


# ---- the configuration's keys ------------------------------------------------------------


def documented_keys() -> list[str]:
    table = (Path(__file__).parent.parent / "docs" / "configuration.md").read_text().split("## Files")[0]
    return [line.split("`")[1] for line in table.splitlines() if line.startswith("| `")]


GOOD = {"backend": '"cassette"', "model": '"qwen2.5-coder-0.5b"', "model_path": '"/models/m.gguf"', "base_url": '"http://127.0.0.1:8080/v1"',
        "k": "5", "temperature": "0.2", "max_tokens": "512", "threads": "2", "cache_dir": '"/tmp/babel-cache"', "cassette": '"tape.json"',
        "git_commit": "true"}


def test_every_documented_key_loads_from_a_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BABEL_K", "BABEL_MODEL", "BABEL_BACKEND", "OPENAI_BASE_URL", "BABEL_MODEL_PATH", "BABEL_TEMPERATURE", "BABEL_MAX_TOKENS",
                 "BABEL_THREADS", "BABEL_CACHE_DIR", "BABEL_CASSETTE", "BABEL_GIT_COMMIT"):
        monkeypatch.delenv(name, raising=False)
    keys = documented_keys()
    assert set(keys) == set(GOOD) and "max_tokens" in keys
    (tmp_path / ".babel.toml").write_text("".join(f"{key} = {GOOD[key]}\n" for key in keys))
    config = load_config({}, tmp_path)
    assert (config.max_tokens, config.k, config.threads, config.temperature) == (512, 5, 2, 0.2)
    assert all(config.sources[key].endswith(".babel.toml") for key in keys)


@pytest.mark.parametrize("line", ['api_key = "abc"', 'token = "abc"', 'secret = "abc"', 'openai_api_key = "abc"', 'password = "abc"',
                                  'model = "sk-proj-abcdefghijklmnop"', 'base_url = "Bearer abcdefghijklmnop"'])
def test_secrets_are_known_by_their_key_name_or_their_value_shape(tmp_path: Path, line: str) -> None:
    (tmp_path / ".babel.toml").write_text(line + "\n")
    with pytest.raises(ConfigError, match="looks like a secret; keys belong in OPENAI_API_KEY"):
        load_config({}, tmp_path)


@pytest.mark.parametrize(("where", "key", "value", "allowed"), [
    ("file", "k", "3.5", "a whole number from 1 to 8"),
    ("file", "k", '"3"', "a whole number from 1 to 8"),
    ("file", "k", "true", "a whole number from 1 to 8"),
    ("file", "temperature", "9", "a number from 0 to 2"),
    ("file", "max_tokens", "-1", "a whole number from 16 to 32768"),
    ("file", "threads", "-2", "from 0 (adapt to the free cores) to 256"),
    ("file", "backend", '"gpu"', "embedded, endpoint or cassette"),
    ("file", "model", "7", "an embedded model"),
    ("BABEL_TEMPERATURE", "temperature", "hot", "a number from 0 to 2"),
    ("BABEL_MAX_TOKENS", "max_tokens", "1e9", "a whole number from 16 to 32768"),
    ("BABEL_THREADS", "threads", "two", "a whole number from 0"),
    ("OPENAI_BASE_URL", "base_url", "localhost:8080", "an http(s) URL"),
])
def test_a_bad_value_names_where_it_came_from_the_key_and_what_it_takes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                        where: str, key: str, value: str, allowed: str) -> None:
    if where == "file":
        (tmp_path / ".babel.toml").write_text(f"{key} = {value}\n")
    else:
        monkeypatch.setenv(where, value)
    with pytest.raises(ConfigError) as caught:
        load_config({}, tmp_path)
    message = str(caught.value)
    source = str(tmp_path / ".babel.toml") if where == "file" else where
    assert message.startswith(f"{source}: {key} must be ") and allowed in message, message
