"""`progress=` on `Gateway.apply` and `Config.apply`, and stopping an
apply cleanly: Ctrl-C (a `KeyboardInterrupt`) or an exception raised by
the progress callable stops sending, lets the change in flight finish and
keeps the journal (and, for `Config.apply`, the state) of what succeeded;
applying the same plan with the same journal resumes without sending any
change twice."""

from __future__ import annotations

import copy
import json
import os
import re
import signal
import threading
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest

import muster
from muster.testing import Emulator
from muster.types import ProgressEvent

from conftest import LOGIN, ORG, PASSWORD, SEED
from test_config import STAFF, by_email, password, write_config  # noqa: F401 (fixture)

NEWCOMERS = [f"new{i}@example.com" for i in range(8)]


@pytest.fixture
def seed() -> Dict[str, Any]:
    s = copy.deepcopy(SEED)
    s["orgs"][0]["user_licenses"] = 100  # room for the newcomers
    return s


def newcomers_plan(gw: muster.Gateway, tmp_path: Path, surname: str = "") -> muster.Plan:
    """Creates the newcomers; once they exist, with another `surname`,
    updates each of them (one request per change: creates go in one batch)."""
    rows = "".join(f"New,{surname}{i},{email},,\n" for i, email in enumerate(NEWCOMERS))
    csv = tmp_path / f"newcomers{surname}.csv"
    csv.write_text("First Name,Last Name,Primary Email,Mobile,Alias 1\n" + rows)
    plan = muster.plan(
        gw.list_users(),
        muster.StandardCsv(csv).read(),
        mode="supplemental",
        welcome_letters=False,
        threshold=(100, 100),
    )
    assert sorted(c["email"] for c in plan.changes) == NEWCOMERS
    return plan


def write_keys(emu: Emulator) -> List[Tuple[str, str, str]]:
    """Each write request as (method, uri, body): what "sent twice" compares."""
    return [
        (r["method"], r["uri"], json.dumps(r.get("body"), sort_keys=True))
        for r in emu.writes()
    ]


def created_in(keys: List[Tuple[str, str, str]]) -> List[str]:
    return sorted(e for e in NEWCOMERS for k in keys if e in k[1] or f'"{e}"' in k[2])


def test_progress_events_arrive_on_the_calling_thread_in_order(
    gw: muster.Gateway, emu: Emulator, tmp_path: Path
) -> None:
    plan = newcomers_plan(gw, tmp_path)
    events: List[ProgressEvent] = []
    threads = set()

    def progress(event: ProgressEvent) -> None:
        threads.add(threading.get_ident())
        events.append(event)

    report = gw.apply(plan, progress=progress)
    report.raise_for_status()
    assert threads == {threading.get_ident()}, "called on the thread that called apply"
    finished = [e for e in events if e["event"] == "finished"]
    started = [e for e in events if e["event"] == "started"]
    assert sorted(e["email"] for e in started) == NEWCOMERS
    assert sorted(e["email"] for e in finished) == NEWCOMERS
    # Every outcome is delivered, the last ones too, counted as they come.
    assert [e["done"] for e in finished] == list(range(1, len(NEWCOMERS) + 1))
    assert {e["total"] for e in finished} == {len(NEWCOMERS)}
    assert {e["outcome"] for e in finished} == {"applied"}
    for e in finished:
        first = next(i for i, s in enumerate(events) if s["event"] == "started" and s["id"] == e["id"])
        assert first < events.index(e), "a change starts before it finishes"
    assert set(started[0]) == {"event", "id", "email", "kind"}
    assert started[0]["kind"] == "create"


def test_progress_must_be_callable_and_nothing_is_sent_otherwise(
    gw: muster.Gateway, emu: Emulator, tmp_path: Path
) -> None:
    plan = newcomers_plan(gw, tmp_path)
    emu.clear_observations()
    with pytest.raises(TypeError, match="progress must be callable, not str"):
        gw.apply(plan, progress="print")  # type: ignore[arg-type]
    assert emu.writes() == []


@pytest.fixture
def slow(seed: Dict[str, Any]) -> Iterator[Emulator]:
    """Every answer takes 200 ms: Ctrl-C, raised as the third change's
    outcome arrives, lands while the fourth is in flight (a GET and a PUT,
    400 ms), never after it, so exactly the fourth is let finish."""
    seed["faults"] = {"slow": 1.0, "slow_ms": 200}
    with Emulator(seed) as emulator:
        yield emulator


def test_keyboard_interrupt_keeps_the_journal_and_a_second_apply_resumes_without_resending(
    slow: Emulator, tmp_path: Path
) -> None:
    emu = slow
    gw = muster.Gateway.essentials(
        emu.url, org=ORG, user=LOGIN, password=PASSWORD, requests_per_minute=100000
    )
    gw.apply(newcomers_plan(gw, tmp_path)).raise_for_status()
    plan = newcomers_plan(gw, tmp_path, surname="Renamed")
    assert {c["kind"] for c in plan.changes} == {"update"}
    journal = tmp_path / "apply.journal"
    emu.clear_observations()

    def ctrl_c_after_three(event: ProgressEvent) -> None:
        if event["event"] == "finished" and event["done"] == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as caught:
        gw.apply(plan, journal=journal, concurrency=1, progress=ctrl_c_after_three)
    first = write_keys(emu)
    done_first = created_in(first)
    # The change in flight when Ctrl-C came finishes; nothing new starts.
    assert 3 <= len(done_first) <= 4, first
    assert len(first) == len(done_first), "one PUT per change, none half-sent"
    renamed = [e for e in NEWCOMERS if str((emu.user(ORG, e) or {}).get("surname")).startswith("Renamed")]
    assert renamed == done_first, "the gateway holds exactly what was sent"
    notes = getattr(caught.value, "__notes__", [])
    assert any(
        re.search(rf"apply stopped: {len(done_first)} of 8 changes done, {8 - len(done_first)} left", n)
        and str(journal) in n
        for n in notes
    ), notes

    # The journal records exactly what was done.
    lines = [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]
    journalled = sorted(
        line["email"] for line in lines if line["event"] == "end" and line["outcome"] == "applied"
    )
    assert journalled == done_first, lines

    emu.clear_observations()
    report = gw.apply(plan, journal=journal, concurrency=1)
    report.raise_for_status()
    second = write_keys(emu)
    assert set(first).isdisjoint(second), "no change is sent twice"
    assert sorted(done_first + created_in(second)) == NEWCOMERS
    outcomes = by_email(report)
    assert sorted(e for e, o in outcomes.items() if o == "already_applied") == done_first
    assert all(str((emu.user(ORG, e) or {}).get("surname")).startswith("Renamed") for e in NEWCOMERS)


def test_a_real_sigint_during_apply_stops_it_cleanly_too(slow: Emulator, tmp_path: Path) -> None:
    """Ctrl-C itself, not raised by a callable: the signal arrives on the
    main thread while `apply` waits on the gateway."""
    emu = slow
    gw = muster.Gateway.essentials(
        emu.url, org=ORG, user=LOGIN, password=PASSWORD, requests_per_minute=100000
    )
    gw.apply(newcomers_plan(gw, tmp_path)).raise_for_status()
    plan = newcomers_plan(gw, tmp_path, surname="Renamed")
    journal = tmp_path / "apply.journal"
    emu.clear_observations()
    route = "/api/v1/orgs/{domain}/users/{email}"

    def ctrl_c_after_two_puts() -> None:
        # Waits on what the emulator saw, not on the clock.
        while emu.count("PUT", route, 204) < 2:
            threading.Event().wait(0.01)
        os.kill(os.getpid(), signal.SIGINT)

    sender = threading.Thread(target=ctrl_c_after_two_puts)
    sender.start()
    with pytest.raises(KeyboardInterrupt):
        gw.apply(plan, journal=journal, concurrency=1)
    sender.join()
    first = write_keys(emu)
    assert 2 <= len(first) <= 3, first
    emu.clear_observations()
    gw.apply(plan, journal=journal, concurrency=1).raise_for_status()
    assert set(first).isdisjoint(write_keys(emu)), "no change is sent twice"
    assert len(first) + len(write_keys(emu)) == len(NEWCOMERS)


def test_an_exception_from_progress_stops_config_apply_and_the_state_of_what_succeeded_is_saved(
    emu: Emulator, password: None, tmp_path: Path
) -> None:
    config = muster.Config.load(write_config(tmp_path, emu))
    plan = config.plan()
    assert len(plan) >= 2
    state = tmp_path / "state" / "org.json"
    journal = tmp_path / "journals" / f"{plan.fingerprint}.journal"

    class Enough(Exception):
        pass

    def stop_at_first(event: ProgressEvent) -> None:
        if event["event"] == "finished":
            raise Enough("the operator's own reason")

    emu.clear_observations()
    with pytest.raises(Enough, match="the operator's own reason"):
        config.apply(plan, progress=stop_at_first)
    first = write_keys(emu)
    assert first, "the first change was sent"
    saved = json.loads(state.read_text())
    assert journal.exists()
    ends = [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]
    applied_first = [e["email"] for e in ends if e["event"] == "end" and e["outcome"] == "applied"]
    assert applied_first, journal.read_text()
    # The saved state knows what the interrupted run did.
    for email in applied_first:
        assert email in json.dumps(saved), (email, saved)

    emu.clear_observations()
    report = config.apply(plan)
    report.raise_for_status()
    assert set(first).isdisjoint(write_keys(emu)), "no change is sent twice"
    assert config.plan().is_empty


def test_a_keyboard_interrupt_during_a_dry_run_is_raised_too(
    gw: muster.Gateway, emu: Emulator, tmp_path: Path
) -> None:
    plan = newcomers_plan(gw, tmp_path)
    seen: Dict[str, Any] = {}

    def interrupt(event: ProgressEvent) -> None:
        seen.setdefault("first", event)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        gw.apply(plan, dry_run=True, progress=interrupt)
    assert seen["first"]["event"] == "started"
    assert emu.writes() == []


def test_apply_keywords_are_checked_before_anything_is_sent(
    gw: muster.Gateway, emu: Emulator, tmp_path: Path
) -> None:
    plan = newcomers_plan(gw, tmp_path)
    emu.clear_observations()
    with pytest.raises(TypeError, match="unexpected keyword argument 'jounral'"):
        gw.apply(plan, jounral="x.journal")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'state'"):
        gw.apply(plan, state="state.json")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="^journal: "):
        gw.apply(plan, journal=3)  # type: ignore[typeddict-item]
    with pytest.raises(ValueError, match="concurrency"):
        gw.apply(plan, concurrency="four")  # type: ignore[typeddict-item]
    assert emu.writes() == []
    # None still means "not given", as for named parameters.
    report = gw.apply(plan, journal=None, progress=None, dry_run=True)
    assert report.dry_run
