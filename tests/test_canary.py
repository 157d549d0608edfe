"""Canaries: every private pykka and gevent name the daemon relies on is still there and still fits.

The pooled runtime (supervisord/runtime/pooled.py, hubsafe.py) replaces pykka's thread-per-actor loop by
overriding pykka's internal hooks, and a few spots reach into gevent's internals (daemonize.py,
web/server.py, web/logtail.py). setup.cfg bounds both libraries to the major versions this was written
against; when a bound is raised, these tests say exactly which private name moved or changed shape, before
a daemon test fails somewhere far from the cause. Each check imports what it needs itself, so one moved
name fails one test, named after it, and not the whole collection.
"""

from __future__ import annotations

import _socket
import importlib
import importlib.metadata
import inspect
import re
import socket
from collections.abc import Callable
from typing import Any

import pytest


def _lib(name: str) -> str:
    try:
        return f"{name} {importlib.metadata.version(name)}"
    except importlib.metadata.PackageNotFoundError:
        return name


def _resolve(dotted: str) -> Any:
    """``pkg.module.Class.attr`` → the object, or a failure that names what is missing."""
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attr in parts[split:]:
            if not hasattr(obj, attr):
                pytest.fail(f"{dotted}: {attr!r} is gone ({_lib(parts[0])})")
            obj = getattr(obj, attr)
        return obj
    pytest.fail(f"{dotted}: module {parts[0]!r} not importable")


def _params(dotted: str, expected: list[str]) -> None:
    """The callable's parameter names, in order, must be exactly ``expected``."""
    obj = _resolve(dotted)
    names = list(inspect.signature(obj).parameters)
    assert names == expected, (
        f"{dotted}: signature is now ({', '.join(names)}), we call ({', '.join(expected)})"
    )


def _calls(dotted: str, needle: str) -> None:
    """The library's own ``dotted`` still calls our override (``needle`` in its source)."""
    source = inspect.getsource(_resolve(dotted))
    assert needle in source, f"{dotted} no longer calls {needle!r}: our override of it would be dead code"


def _static(owner: str, name: str) -> None:
    cls = _resolve(owner)
    found = inspect.getattr_static(cls, name, None)
    assert isinstance(found, staticmethod), f"{owner}.{name} is no longer a staticmethod ({found!r})"


# -- pykka: the hooks PooledActor overrides or calls --


def pykka_envelope() -> None:
    envelope_cls = _resolve("pykka._envelope.Envelope")
    _params("pykka._envelope.Envelope", ["message", "reply_to"])
    envelope = envelope_cls("m", reply_to=None)
    assert (envelope.message, envelope.reply_to) == ("m", None), "pykka._envelope.Envelope's fields changed"
    _calls("pykka.ActorRef.tell", "actor_inbox.put(Envelope(message))")
    _calls("pykka.ActorRef.ask", "actor_inbox.put(Envelope(message, reply_to=future))")


def pykka_actor_stop_message() -> None:
    stop_cls = _resolve("pykka.messages._ActorStop")
    assert inspect.isclass(stop_cls)
    _calls("pykka.ActorRef.stop", "_ActorStop()")
    _calls("pykka.Actor._handle_receive", "messages._ActorStop")


def pykka_create_actor_inbox() -> None:
    _static("pykka.Actor", "_create_actor_inbox")
    _calls("pykka.Actor.__init__", "self.actor_inbox = self._create_actor_inbox()")


def pykka_actor_init() -> None:
    """PooledActor.__init__ replaces pykka's (a light ``actor_stopped``): it must still set the same four."""
    source = inspect.getsource(_resolve("pykka.Actor.__init__"))
    sets = sorted(set(re.findall(r"^\s*(self\.\w+)\s*=", source, re.M)))
    assert sets == ["self._actor_ref", "self.actor_inbox", "self.actor_stopped", "self.actor_urn"], (
        f"pykka.Actor.__init__ now sets {sets}: PooledActor.__init__ must do the same"
    )
    for name in ("pykka.Actor._stop", "pykka.Actor._handle_failure", "pykka.ActorRef.is_alive"):
        uses = set(re.findall(r"actor_stopped\.(\w+)", inspect.getsource(_resolve(name))))
        assert uses <= {"set", "is_set"}, f"{name} now calls actor_stopped.{uses}: pooled._Stopped lacks it"


def pykka_create_future() -> None:
    _static("pykka.Actor", "_create_future")
    _calls("pykka.ActorRef.ask", "self.actor_class._create_future()")


def pykka_start_actor_loop() -> None:
    _params("pykka.Actor._start_actor_loop", ["self"])
    _calls("pykka.Actor.start", "obj._start_actor_loop()")


def pykka_actor_loop_setup() -> None:
    _params("pykka.Actor._actor_loop_setup", ["self"])
    _calls("pykka.Actor._actor_loop_setup", "self.on_start()")


def pykka_actor_loop_teardown() -> None:
    _params("pykka.Actor._actor_loop_teardown", ["self"])


def pykka_handle_receive() -> None:
    _params("pykka.Actor._handle_receive", ["self", "message"])


def pykka_handle_failure() -> None:
    _params("pykka.Actor._handle_failure", ["self", "exception_type", "exception_value", "traceback"])
    _calls("pykka.Actor._handle_failure", "self.actor_stopped.set()")


def pykka_stop() -> None:
    _params("pykka.Actor._stop", ["self"])
    _calls("pykka.Actor._stop", "self.on_stop()")


def pykka_threading_future_internals() -> None:
    future_cls = _resolve("pykka.ThreadingFuture")
    future = future_cls()
    assert hasattr(future, "_condition"), "pykka.ThreadingFuture._condition is gone"
    with future._condition:  # hubsafe.py takes it to register a hub waiter atomically with set()
        pass
    assert hasattr(future, "_result"), "pykka.ThreadingFuture._result is gone"
    assert future._result is None, "pykka.ThreadingFuture._result is no longer None before set()"
    assert getattr(future, "_get_hook", "gone") is None, "pykka.ThreadingFuture._get_hook is gone"
    future.set(1)
    assert future._result is not None, "pykka.ThreadingFuture._result stays None after set()"
    _params("pykka.ThreadingFuture.get", ["self", "timeout"])
    _params("pykka.ThreadingFuture.set", ["self", "value"])
    _params("pykka.ThreadingFuture.set_exception", ["self", "exc_info"])


# -- gevent --


def gevent_config_settings() -> None:
    config = _resolve("gevent._config.config")
    for name in ("loop", "format_context", "resolver", "threadpool", "fileobject"):
        try:
            getattr(config, name)
        except AttributeError:
            pytest.fail(f"gevent._config.config.{name} is gone (daemonize.preload_runtime resolves it)")


def gevent_pywsgi_handler() -> None:
    handler = "gevent.pywsgi.WSGIHandler"
    _params(f"{handler}._write_with_headers", ["self", "data"])
    _params(f"{handler}._sendall", ["self", "data"])
    _params(f"{handler}.finalize_headers", ["self"])
    _params(f"{handler}.process_result", ["self"])
    _params(f"{handler}.get_environ", ["self"])
    _calls(f"{handler}.write", "self._write_with_headers(data)")
    cls = _resolve(handler)
    for attr in ("headers_sent", "response_use_chunked"):
        assert hasattr(cls, attr), f"{handler}.{attr} is gone"
    for attr in ("self.status", "self.response_headers", "self.socket"):
        assert attr in inspect.getsource(cls), f"{handler} no longer sets {attr}"


def gevent_socket_raw_sock() -> None:
    """web/logtail.py peeks at a client through the OS socket under a gevent socket (no hub wait)."""
    pair = _resolve("gevent.socket.socketpair")
    ours, peer = pair()
    with ours, peer:
        raw = getattr(ours, "_sock", None)
        assert isinstance(raw, _socket.socket), (
            f"gevent.socket.socket._sock is now {raw!r}, not the OS socket"
        )
        with pytest.raises(BlockingIOError):
            raw.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        peer.sendall(b"x")
        assert raw.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"x"


def gevent_loop_async_watcher() -> None:
    gevent = importlib.import_module("gevent")
    hub = gevent.get_hub()
    watcher = hub.loop.async_()
    try:
        for method in ("start", "send", "close"):
            assert callable(getattr(watcher, method, None)), f"gevent loop.async_().{method} is gone"
    finally:
        watcher.close()
    assert callable(getattr(hub.loop, "now", None)), "gevent hub.loop.now is gone"
    assert callable(getattr(hub.threadpool, "apply", None)), "gevent hub.threadpool.apply is gone"


CHECKS: dict[str, Callable[[], None]] = {
    "pykka._envelope.Envelope": pykka_envelope,
    "pykka.messages._ActorStop": pykka_actor_stop_message,
    "pykka.Actor._create_actor_inbox": pykka_create_actor_inbox,
    "pykka.Actor.__init__": pykka_actor_init,
    "pykka.Actor._create_future": pykka_create_future,
    "pykka.Actor._start_actor_loop": pykka_start_actor_loop,
    "pykka.Actor._actor_loop_setup": pykka_actor_loop_setup,
    "pykka.Actor._actor_loop_teardown": pykka_actor_loop_teardown,
    "pykka.Actor._handle_receive": pykka_handle_receive,
    "pykka.Actor._handle_failure": pykka_handle_failure,
    "pykka.Actor._stop": pykka_stop,
    "pykka.ThreadingFuture._condition/_result/_get_hook": pykka_threading_future_internals,
    "gevent._config.config": gevent_config_settings,
    "gevent.pywsgi.WSGIHandler._write_with_headers/_sendall": gevent_pywsgi_handler,
    "gevent.socket.socket._sock": gevent_socket_raw_sock,
    "gevent loop.async_": gevent_loop_async_watcher,
}


@pytest.mark.parametrize("name", list(CHECKS))
def test_private_name_still_fits(name: str) -> None:
    CHECKS[name]()


def test_the_pooled_runtime_runs_on_the_installed_pykka() -> None:
    """End to end on the hooks above: start, ask, a failing ask, stop, and an ask after the stop."""
    import pykka

    from supervisord.runtime.pooled import PooledActor

    class Echo(PooledActor):
        def on_receive(self, message: Any) -> Any:
            if message == "boom":
                raise ValueError(message)
            return message

    ref = Echo.start()
    assert ref.ask("hi", timeout=10) == "hi"
    with pytest.raises(ValueError):
        ref.ask("boom", timeout=10)
    assert ref.stop(timeout=10) is True
    with pytest.raises(pykka.ActorDeadError):
        ref.ask("hi", timeout=10)
