"""`examples/celery_fleet`: the MSP fleet on a real Celery worker (prefork,
a subprocess) and a real redis-server as broker, result backend and shared
rate limit, against the emulator holding several organisations.

The Redis is the one `scripts/redis-up.sh` starts (scripts/test.sh does);
Celery uses database 5 of it, so the limiter's tests are undisturbed."""

from __future__ import annotations

import csv
import fcntl
import importlib.util
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Dict, Iterator, List, Optional
from urllib.parse import urlsplit, urlunsplit

import pytest

from muster.testing import Emulator

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "celery_fleet"
LOGIN = "channel@msp.example"
PASSWORD = "Celery-fleet-pw-not-in-any-log"
PASSWORD_ENV = "MUSTER_FLEET_TEST_PASSWORD"
CELERY_DB = 5
QUEUE = "muster-test"
USERS_ROUTE = "/api/v1/orgs/{domain}/users"

#: What each organisation's directory says (Standard CSV rows).
SOURCES: Dict[str, List[Dict[str, str]]] = {
    "a.example": [
        {"First Name": "Ann", "Last Name": "Lee", "Primary Email": "ann@a.example"},
        {"First Name": "Bob", "Last Name": "Ray", "Primary Email": "bob@a.example"},
    ],
    "b.example": [
        {"First Name": "Cleo", "Last Name": "Hart", "Primary Email": "cleo@b.example"},
        {"First Name": "Dan", "Last Name": "Moss", "Primary Email": "dan@b.example"},
        {"First Name": "Eli", "Last Name": "Webb", "Primary Email": "eli@b.example"},
    ],
}


def redis_url() -> str:
    url = os.environ.get("MUSTER_REDIS_URL")
    if not url:
        pytest.fail(
            "MUSTER_REDIS_URL is not set: these tests need the test Redis; "
            'start it with `eval "$(scripts/redis-up.sh)"` (scripts/test.sh does)'
        )
    return url


def with_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


def redis_password(url: str) -> Optional[str]:
    return urlsplit(url).password


@pytest.fixture(scope="module")
def broker() -> Iterator[str]:
    """Celery's database of the test Redis, emptied before the tests."""
    import redis

    url = with_db(redis_url(), CELERY_DB)
    redis.Redis.from_url(url).flushdb()
    yield url
    redis.Redis.from_url(url).flushdb()


@pytest.fixture(scope="module")
def tasks(broker: str) -> Iterator[ModuleType]:
    """The example's module, imported here as the process that sends tasks."""
    saved = {k: os.environ.get(k) for k in ("MUSTER_CELERY_BROKER", "MUSTER_CELERY_QUEUE")}
    os.environ["MUSTER_CELERY_BROKER"] = broker
    os.environ["MUSTER_CELERY_QUEUE"] = QUEUE
    spec = importlib.util.spec_from_file_location("muster_celery_fleet_tasks", EXAMPLE / "tasks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    module.app.close()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


class Worker:
    """`celery -A tasks worker --pool=prefork --concurrency=2`, its log in a file."""

    def __init__(self, folder: Path, broker: str, queue: str, name: str, **env: str) -> None:
        self.log = folder / f"{name}.log"
        environ = dict(os.environ)
        environ.update(
            {
                "PYTHONPATH": str(EXAMPLE),
                "PYTHONDONTWRITEBYTECODE": "1",
                "MUSTER_CELERY_BROKER": broker,
                "MUSTER_CELERY_QUEUE": queue,
                PASSWORD_ENV: PASSWORD,
                "MUSTER_REDIS_URL": redis_url(),
            }
        )
        environ.update(env)
        self.started = time.monotonic()
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable, "-m", "celery", "-A", "tasks", "worker",
                    "--pool=prefork", "--concurrency=2", "--loglevel=info",
                    "-Q", queue, "-n", f"{name}@%h",
                    "--without-gossip", "--without-mingle", "--without-heartbeat",
                ],
                cwd=folder,
                env=environ,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # Its own process group: a kill takes the pool's children too,
                # as when a node or a pod dies.
                start_new_session=True,
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, timeout: float = 30.0) -> float:
        """Until the log says `<name>@<host> ready.`; returns the seconds taken."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(r"@\S+ ready\.", self.text()):
                return time.monotonic() - self.started
            if self.proc.poll() is not None:
                pytest.fail(f"the worker exited with {self.proc.returncode}:\n{self.text()}")
            threading.Event().wait(0.05)
        pytest.fail(f"the worker was not ready after {timeout} s:\n{self.text()}")

    def kill(self) -> None:
        """SIGKILL to the worker and its pool: no shutdown, no acknowledgement."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def kill_pool(self) -> None:
        """SIGKILL to the pool's processes only; the worker lives on."""
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        assert children, "a prefork worker has pool processes"
        for pid in children:
            os.kill(int(pid), signal.SIGKILL)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # warm shutdown
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)

    def assert_no_secret_in_log(self) -> None:
        text = self.text()
        assert PASSWORD not in text, "the login's password is in the worker's log"
        secret = redis_password(redis_url())
        assert not secret or secret not in text, "the Redis password is in the worker's log"


@pytest.fixture(scope="module")
def worker(broker: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    w = Worker(tmp_path_factory.mktemp("worker"), broker, QUEUE, "fleet")
    try:
        seconds = w.wait_ready()
        print(f"celery worker ready in {seconds:.1f} s")
        yield w
        w.assert_no_secret_in_log()
    finally:
        w.stop()


def seed_for(orgs: Dict[str, List[Dict[str, Any]]], faults: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    seed: Dict[str, Any] = {
        "orgs": [
            {
                "primary_domain": org,
                "users": [{"primary_email": f"admin@{org}", "type": "organization_admin"}, *users],
            }
            for org, users in orgs.items()
        ],
        "logins": [
            {"user": LOGIN, "password": PASSWORD, "type": "channel_admin", "orgs": list(orgs)}
        ],
        "rate_limit": {"requests": 100000, "window_secs": 60},
    }
    if faults:
        seed["faults"] = faults
    return seed


def standard_csv(rows: List[Dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, ["First Name", "Last Name", "Primary Email"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def write_org(
    folder: Path,
    emu: Emulator,
    org: str,
    rows: Optional[List[Dict[str, str]]],
    policy: str = "",
    role: str = "silent_user",
) -> Path:
    """`orgs/<org>.toml` and its source `orgs/<org>.csv` (none when `rows` is
    None); state and journals under the same shared folder."""
    orgs = folder / "orgs"
    orgs.mkdir(exist_ok=True)
    (folder / "state").mkdir(exist_ok=True)
    if rows is not None:
        (orgs / f"{org}.csv").write_text(standard_csv(rows))
    config = orgs / f"{org}.toml"
    config.write_text(
        f"""[gateway]
stack = "{emu.url}"
org = "{org}"
login = "{LOGIN}"
password_env = "{PASSWORD_ENV}"
requests_per_minute = 100000

[gateway.shared_rate_limit]
url_env = "MUSTER_REDIS_URL"

[[source]]
name = "staff"
role = "authoritative"
kind = "csv"
path = "{org}.csv"

[policy]
new_user_role = "{role}"
{policy}
[files]
state = "../state/{org}.json"
journals = "../journals/{org}/"
"""
    )
    return config


def users_of(emu: Emulator, org: str) -> Dict[str, tuple]:
    return {
        u["primary_email"]: (u.get("firstname"), u.get("surname"))
        for u in emu.users(org)
        if u.get("type") != "organization_admin"
    }


def as_the_source_says(org: str) -> Dict[str, tuple]:
    return {r["Primary Email"]: (r["First Name"], r["Last Name"]) for r in SOURCES[org]}


def journalled(journal: Path) -> List[str]:
    """The addresses a journal records as applied."""
    if not journal.exists():
        return []
    lines = [json.loads(line) for line in journal.read_text().splitlines() if line.endswith("}")]
    return [e["email"] for e in lines if e.get("event") == "end" and e.get("outcome") == "applied"]


def results_by_org(group: Any, timeout: float = 45) -> Dict[str, Dict[str, Any]]:
    return {r["org"]: r for r in group.get(timeout=timeout)}


def test_plan_review_apply_for_every_organisation(
    tasks: ModuleType, worker: Worker, tmp_path: Path
) -> None:
    with Emulator(
        seed_for(
            {
                "a.example": [{"primary_email": "ann@a.example", "firstname": "Ann", "surname": "Old"}],
                "b.example": [],
            }
        )
    ) as emu:
        for org, rows in SOURCES.items():
            write_org(tmp_path, emu, org, rows)
        orgs = tmp_path / "orgs"

        # Planning every organisation, one task each: nothing is written.
        planned = results_by_org(tasks.fan_out(orgs, "plan"))
        assert {o: r["outcome"] for o, r in planned.items()} == {
            "a.example": "would change",
            "b.example": "would change",
        }, {o: r["summary"] for o, r in planned.items()}
        assert planned["a.example"]["exit"] == 2
        assert planned["a.example"]["changes"] == {"create": 1, "update": 1}
        assert planned["a.example"]["summary"] == "1 to add, 1 to update"
        assert planned["b.example"]["changes"] == {"create": 3}
        for org in SOURCES:
            saved = orgs / f"{org}.plan.json"
            assert planned[org]["plan"] == str(saved)
            assert json.loads(saved.read_text())["org"] == org, "saved for review"
            assert saved.stat().st_mode & 0o077 == 0, "the plan holds directory data"
        assert emu.writes() == [], "nothing is written before review"
        assert users_of(emu, "a.example") == {"ann@a.example": ("Ann", "Old")}

        # A person reviews (`muster show orgs/X.plan.json`); then apply.
        applied = results_by_org(tasks.fan_out(orgs, "apply"))
        assert {o: r["outcome"] for o, r in applied.items()} == {
            "a.example": "applied",
            "b.example": "applied",
        }, {o: r["summary"] for o, r in applied.items()}
        assert applied["b.example"]["counts"]["applied"] == 3
        assert applied["b.example"]["exit"] == 0
        for org in SOURCES:
            assert users_of(emu, org) == as_the_source_says(org)
            assert list((tmp_path / "journals" / org).glob("*.journal")), "journalled"

        # One plan task: a result, not an exception.
        again = tasks.plan_org.delay(str(orgs / "a.example.toml")).get(timeout=30)
        assert again["outcome"] == "nothing to do" and again["exit"] == 0, again
        assert again["summary"] == "no changes"
    assert "muster_fleet.plan_org" in worker.text() and "a.example: 0 nothing to do" in worker.text()


def test_a_refused_organisation_does_not_stop_the_others(
    tasks: ModuleType, worker: Worker, tmp_path: Path
) -> None:
    with Emulator(seed_for({"a.example": [], "c.example": [], "d.example": [], "e.example": []})) as emu:
        write_org(tmp_path, emu, "a.example", SOURCES["a.example"])
        write_org(tmp_path, emu, "c.example", None)  # its source is missing
        # Two creates where the create limit allows one: a person decides.
        write_org(
            tmp_path,
            emu,
            "d.example",
            [{"First Name": "F", "Last Name": "G", "Primary Email": f"{n}@d.example"} for n in "xy"],
            policy="create_limit = { count = 1, percent = 1 }\n",
        )
        write_org(tmp_path, emu, "e.example", [])
        orgs = tmp_path / "orgs"
        # Another run holds e.example's lease.
        with open(tmp_path / "state" / "e.example.json.lock", "w") as held:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
            group = tasks.fan_out(orgs, "plan")
            planned = results_by_org(group)
        assert {o: (r["exit"], r["outcome"]) for o, r in planned.items()} == {
            "a.example": (2, "would change"),
            "c.example": (1, "refused"),
            "d.example": (4, "threshold exceeded"),
            "e.example": (6, "lease held"),
        }, {o: r["summary"] for o, r in planned.items()}
        assert "c.example.csv" in planned["c.example"]["summary"], "says which file is missing"
        assert not (orgs / "c.example.plan.json").exists(), "a refused plan leaves none behind"
        assert planned["c.example"]["plan"] is None
        assert "THRESHOLD EXCEEDED: the create limit by 1" in planned["d.example"]["summary"]
        # The held lease is an answer, not a retry storm.
        assert all(r.state == "SUCCESS" for r in group.results)
        assert "Retry in" not in worker.text()

        applied = results_by_org(tasks.fan_out(orgs, "apply"))
        assert applied["a.example"]["outcome"] == "applied"
        assert users_of(emu, "a.example") == as_the_source_says("a.example")
        assert applied["c.example"]["outcome"] == "refused"
        assert applied["c.example"]["summary"].startswith("no saved plan"), applied["c.example"]
        assert "nothing applied" in applied["c.example"]["summary"]
        assert applied["d.example"]["outcome"] == "threshold exceeded"
        assert "--override-threshold" in applied["d.example"]["summary"]
        assert users_of(emu, "d.example") == {}, "a plan over its threshold is not applied"
        assert applied["e.example"]["outcome"] == "refused", "no plan was saved under the held lease"


def test_only_gateway_availability_is_retried(tasks: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The classification, in-process: `Transient` (Celery's autoretry_for)
    for a gateway that cannot be reached, a result for a refused login."""
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    monkeypatch.setenv("MUSTER_REDIS_URL", redis_url())
    for task in (tasks.plan_org, tasks.apply_org):
        assert task.autoretry_for == (tasks.Transient,)
        assert task.acks_late and task.reject_on_worker_lost
    with Emulator(seed_for({"a.example": []})) as emu:
        config = write_org(tmp_path, emu, "a.example", SOURCES["a.example"])
        url = emu.url
    # The emulator is gone: connection refused, after muster's own retries.
    assert url in config.read_text()
    with pytest.raises(tasks.Transient) as caught:
        tasks.run_plan(config)
    assert PASSWORD not in str(caught.value)

    with Emulator(seed_for({"a.example": []})) as emu:
        config = write_org(tmp_path, emu, "a.example", SOURCES["a.example"])
        monkeypatch.setenv(PASSWORD_ENV, "wrong-password")
        refused = tasks.run_plan(config)
    assert (refused["exit"], refused["outcome"]) == (1, "refused"), refused
    assert "wrong-password" not in refused["summary"]


@pytest.mark.parametrize("killed", ["worker", "pool process"])
def test_a_worker_killed_mid_apply_is_replaced_and_the_task_resumes_without_duplicates(
    killed: str, tasks: ModuleType, broker: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole worker (a pod or node lost): Redis hands the task to a new
    worker after the visibility timeout. A pool process alone (the OOM
    killer): the worker requeues the task at once (reject_on_worker_lost)."""
    queue = "muster-kill"
    newcomers = [f"user{n:02}@k.example" for n in range(16)]
    rows = [{"First Name": "New", "Last Name": f"N{n}", "Primary Email": e} for n, e in enumerate(newcomers)]
    # Every answer takes 250 ms: 16 creates, 4 at a time, last a second.
    with Emulator(seed_for({"k.example": []}, faults={"seed": 1, "slow": 1.0, "slow_ms": 250})) as emu:
        # One create per request, and welcome letters (end users): each counted.
        config = write_org(tmp_path, emu, "k.example", rows, policy="bulk_size = 1\n", role="end_user")
        # Redis hands an unacknowledged task to another worker after 6 s.
        env = {"MUSTER_CELERY_VISIBILITY_TIMEOUT": "6"}
        first = Worker(tmp_path, broker, queue, "first", **env)
        second: Optional[Worker] = None
        try:
            first.wait_ready()
            planned = tasks.plan_org.apply_async((str(config),), queue=queue).get(timeout=30)
            assert planned["changes"] == {"create": 16}, planned
            emu.clear_observations()

            fingerprint = json.loads(Path(planned["plan"]).read_text())["fingerprint"]
            journal = tmp_path / "journals" / "k.example" / f"{fingerprint}.journal"

            result = tasks.apply_org.apply_async((str(config),), queue=queue)
            # Killed once the gateway has created two users and the journal
            # holds their outcomes: observed, never timed.
            deadline = time.monotonic() + 30
            while emu.count("POST", USERS_ROUTE, 201) < 2 or len(journalled(journal)) < 2:
                assert time.monotonic() < deadline, "the apply did not start"
                threading.Event().wait(0.01)
            if killed == "worker":
                first.kill()
            else:
                first.kill_pool()
            done_before = journalled(journal)
            created_before = emu.count("POST", USERS_ROUTE, 201)
            assert created_before < len(newcomers), "the kill landed after the apply"
            assert result.state != "SUCCESS"

            if killed == "worker":
                second = Worker(tmp_path, broker, queue, "second", **env)
                second.wait_ready()
            report = result.get(timeout=45)
            assert report["outcome"] == "applied", report
            counts = report["counts"]
            assert counts["applied"] + counts["already_applied"] == len(newcomers), counts
            # What the journal recorded as done is not sent again (a change
            # in flight at the kill is read back, then settled either way).
            assert counts["already_applied"] >= len(done_before), (counts, done_before)
            last = second or first
            assert last.text().count("muster_fleet.apply_org") >= 2, "received again"
            last.assert_no_secret_in_log()
        finally:
            first.stop()
            if second is not None:
                second.stop()

        assert sorted(users_of(emu, "k.example")) == newcomers
        assert emu.count("POST", USERS_ROUTE, 201) == len(newcomers), "each user created once"
        assert emu.count("POST", USERS_ROUTE, 409) == 0, "nothing sent twice"
        assert {e: emu.welcome_letters(e) for e in newcomers} == {e: 1 for e in newcomers}
        monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
        again = tasks.run_plan(config)  # here, in-process
        assert again["outcome"] == "nothing to do", again


def test_the_example_types_under_mypy_strict(tmp_path: Path) -> None:
    """Against muster's stubs and celery-types (installed by test.sh)."""
    env = dict(os.environ, MUSTER_CELERY_BROKER="redis://unused")
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental",
         "--cache-dir", str(tmp_path), str(EXAMPLE / "tasks.py")],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
