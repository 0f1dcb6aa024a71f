"""The installed package: wheel layout, stubs, the emulator helper."""

from __future__ import annotations

import json
import multiprocessing
import signal
import threading
from pathlib import Path

import pytest

import muster
import muster._muster
from muster.testing import DEFAULT_SEED, Emulator

from conftest import ORG

SOURCE_TREE = Path(__file__).resolve().parents[1]


def test_the_suite_runs_against_the_installed_wheel() -> None:
    package = Path(muster.__file__).resolve().parent
    assert SOURCE_TREE not in package.parents, package
    assert "site-packages" in package.parts
    assert (package / "py.typed").exists()
    assert (package / "_muster.pyi").exists()
    assert Path(muster._muster.__file__).name.endswith(".abi3.so")
    assert muster.__version__


def test_the_stubs_name_every_public_class() -> None:
    stub = (Path(muster.__file__).parent / "_muster.pyi").read_text()
    for name in muster._muster.__dict__:
        if not name.startswith("_"):
            assert f"{name}" in stub, name


def test_the_default_emulator_and_its_request_log() -> None:
    with Emulator() as emu:
        login = DEFAULT_SEED["logins"][0]
        gw = muster.Gateway.essentials(
            emu.url, org=ORG, user=login["user"], password=login["password"]
        )
        assert gw.list_users() == []
        requests = emu.requests()
        assert [r["method"] for r in requests] == ["GET", "GET", "GET"]
        assert all(r["status"] == 200 for r in requests)
        assert login["password"] not in json.dumps(requests)
        assert emu.count("GET", "/api/v1/orgs/{domain}/users", 200) == 1
        assert repr(emu).startswith("Emulator(url='http://127.0.0.1:")
    with pytest.raises(muster.EmulatorError, match="closed"):
        emu.users(ORG)


def test_the_emulator_from_a_seed_file(tmp_path: Path, seed: dict) -> None:
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(seed))
    with Emulator(path) as emu:
        assert len(emu.users(ORG)) == 6
        emu.insert_user(ORG, {"primary_email": "zoe@example.com"})
        assert emu.user(ORG, "zoe@example.com")["type"] == "end_user"
        with pytest.raises(muster.EmulatorError):
            emu.insert_user(ORG, {"primary_email": "zoe@example.com"})
    with pytest.raises(muster.EmulatorError, match="seed"):
        Emulator({"orgs": [], "unknown_key": 1})


def test_calls_from_several_threads(gw: muster.Gateway) -> None:
    results: list = []

    def read() -> None:
        results.append(len(gw.list_users()))

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [6, 6, 6, 6]


def test_gateway_calls_release_the_gil(seed: dict) -> None:
    # Every request of this emulator takes 200 ms, and list_users() makes
    # three in one Rust call. Only if that call releases the GIL can this
    # thread look at the emulator's log between the requests.
    seed["faults"] = {"seed": 1, "slow": 1.0, "slow_ms": 200}
    with Emulator(seed) as emu:
        gw = muster.Gateway.essentials(
            emu.url, org=ORG, user="admin@example.com", password=seed["logins"][0]["password"]
        )
        worker = threading.Thread(target=gw.list_users)
        seen = set()
        worker.start()
        while worker.is_alive():
            seen.add(len(emu.requests()))
        worker.join()
        assert len(emu.requests()) == 3
        assert seen & {1, 2}, f"only saw {sorted(seen)} requests: the GIL was held"


def _list_in_child(url: str, password: str, out: "multiprocessing.Queue[int]") -> None:
    gw = muster.Gateway.essentials(url, org=ORG, user="admin@example.com", password=password)
    out.put(len(gw.list_users()))


def test_a_forked_worker_gets_its_own_runtime(emu: Emulator, gw: muster.Gateway, seed: dict) -> None:
    # The parent's runtime is running (it serves the emulator); a fork
    # inherits it without its threads, as a Celery or Airflow worker does.
    assert len(gw.list_users()) == 6
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    child = ctx.Process(target=_list_in_child, args=(emu.url, seed["logins"][0]["password"], out))
    child.start()
    child.join(timeout=60)
    if child.is_alive():
        child.kill()
    assert child.exitcode == 0
    assert out.get(timeout=5) == 6


class _Interrupted(Exception):
    pass


def test_a_signal_interrupts_a_blocked_call(seed: dict) -> None:
    # Each request takes 2 s; list_users() checks the login, then reads the
    # profile and the users together. The signal arrives once the login's
    # answer is logged, and must end the call right there, before the rest.
    seed["faults"] = {"seed": 1, "slow": 1.0, "slow_ms": 2000}

    def handler(signum: int, frame: object) -> None:
        raise _Interrupted()

    with Emulator(seed) as emu:
        gw = muster.Gateway.essentials(
            emu.url, org=ORG, user="admin@example.com", password=seed["logins"][0]["password"]
        )

        def interrupt() -> None:
            while not emu.requests():
                pass
            signal.raise_signal(signal.SIGINT)

        previous = signal.signal(signal.SIGINT, handler)
        try:
            threading.Thread(target=interrupt).start()
            with pytest.raises(_Interrupted):
                gw.list_users()
            assert len(emu.requests()) < 3, "the call ran to the end before the signal"
        finally:
            signal.signal(signal.SIGINT, previous)
