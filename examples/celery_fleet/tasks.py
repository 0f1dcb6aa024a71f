"""An MSP's muster fleet on Celery: one task per organisation's run.

Each organisation keeps one config file (``orgs/<org>.toml``) on a volume
every worker mounts; its state, journals and saved plan live there too, so
a task retried on another worker resumes where the last one stopped::

    export MUSTER_CELERY_BROKER='redis://:PASSWORD@redis:6379/1'
    celery -A tasks worker --concurrency=4 --loglevel=info
    celery -A tasks beat                      # with MUSTER_FLEET_DIR=/srv/muster/orgs

``plan_org(config)`` plans and saves the plan beside the config for review
(``<config>.plan.json``, as ``muster fleet plan`` does); ``apply_org(config)``
applies that saved plan and never a fresh one. Both return a small JSON
result whose ``outcome`` is the CLI's words for its exit code.

Retries: only a gateway or directory that could not be reached or asked to
wait (``GatewayError.retryable``, ``SourceError.retryable``) is retried, by
Celery, with backoff. A refusal (config, a missing source file, login, plan)
is a result, not a retry; another run holding
the organisation's lease is the result ``"lease held"``. Tasks are
acknowledged late and rejected when their worker is lost, so a worker that
dies mid-apply has the task run again, and the journal makes that run
resume without sending any change twice.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Dict, List, Literal, Optional, TypedDict, Union, cast

from celery import Celery, group
from celery.result import GroupResult
from celery.schedules import crontab

import muster
from muster.types import ConfigApplyOptions

log = logging.getLogger("muster_fleet")

# --- the app -----------------------------------------------------------------

#: The broker's Redis URL (``redis://[:password@]host[:port][/db]``). It may
#: hold a password: it is read from the environment, and never logged here
#: (Celery's own banner masks the password).
BROKER_ENV = "MUSTER_CELERY_BROKER"
#: The result backend's URL; the broker's when unset.
BACKEND_ENV = "MUSTER_CELERY_BACKEND"
#: The queue the tasks go to (default ``muster``).
QUEUE_ENV = "MUSTER_CELERY_QUEUE"
#: Seconds before Redis hands an unacknowledged task to another worker. It
#: must be longer than the longest apply: a task still running then is
#: delivered again (the second delivery finds the lease held and returns
#: "lease held", so nothing is applied twice, but set it long).
VISIBILITY_ENV = "MUSTER_CELERY_VISIBILITY_TIMEOUT"
#: The folder of config files the beat schedule plans every night.
FLEET_DIR_ENV = "MUSTER_FLEET_DIR"


def _broker_url() -> str:
    url = os.environ.get(BROKER_ENV)
    if not url:
        raise RuntimeError(
            f"{BROKER_ENV} is not set: the broker's Redis URL, e.g. redis://:PASSWORD@redis:6379/1"
        )
    return url


_visibility = int(os.environ.get(VISIBILITY_ENV, "7200"))

app = Celery(
    "muster_fleet",
    broker=_broker_url(),
    backend=os.environ.get(BACKEND_ENV) or _broker_url(),
)
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_default_queue=os.environ.get(QUEUE_ENV, "muster"),
    # A task is acknowledged when it ends, not when it starts: a worker that
    # dies mid-apply leaves it unacknowledged, and it runs again.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    # One task at a time per worker process: none waits behind a long apply.
    worker_prefetch_multiplier=1,
    broker_transport_options={
        "visibility_timeout": _visibility,
        # A new worker looks for abandoned tasks this often (seconds).
        "unacked_restore_interval": max(1, min(60, _visibility // 4)),
        "unacked_restore_throttle": 1,
    },
    broker_connection_retry_on_startup=True,
    result_expires=7 * 24 * 3600,
    task_track_started=True,
)

if os.environ.get(FLEET_DIR_ENV):
    # Plans every night; applying waits for a person (see README.md).
    app.conf.beat_schedule = {
        "muster-plan-every-organisation": {
            "task": "muster_fleet.fan_out",
            "schedule": crontab(hour=1, minute=30),
            "args": (os.environ[FLEET_DIR_ENV], "plan"),
        }
    }

# --- results -----------------------------------------------------------------

#: The CLI's words for its exit codes (``muster --help``), as ``muster fleet``
#: prints them: 0 "nothing to do" (plan) or "applied" (apply), 1 "refused",
#: 2 "would change", 3 "incomplete", 4 "threshold exceeded", 5 "source
#: unsafe" (a source empty or incomplete, the gateway's listing incomplete or
#: shrunk), 6 "lease held".
OutcomeWord = Literal[
    "nothing to do",
    "applied",
    "refused",
    "would change",
    "incomplete",
    "threshold exceeded",
    "source unsafe",
    "lease held",
]

_WORDS: Dict[int, OutcomeWord] = {
    1: "refused",
    2: "would change",
    3: "incomplete",
    4: "threshold exceeded",
    5: "source unsafe",
    6: "lease held",
}


class OrgResult(TypedDict):
    """What one organisation's task returns (JSON)."""

    #: The config file's path.
    config: str
    #: The organisation's primary domain, when the config names one.
    org: Optional[str]
    #: The exit code ``muster plan --detailed-exitcode`` / ``muster apply`` would give.
    exit: int
    outcome: OutcomeWord
    #: One line: changes by kind, or why nothing was done.
    summary: str
    #: Account changes by kind (``create``, ``update``, ``delete``…), of the plan.
    changes: Dict[str, int]
    #: The saved plan, when there is one.
    plan: Optional[str]
    #: ``apply_org`` only: how many changes ended each way.
    counts: Optional[Dict[str, int]]


class Transient(Exception):
    """The gateway could not be reached or asked to wait (muster already
    retried the request): worth running the task again later."""


def _result(
    config: Path,
    org: Optional[str],
    code: int,
    summary: str,
    *,
    applied: bool = False,
    changes: Optional[Dict[str, int]] = None,
    plan: Optional[Path] = None,
    counts: Optional[Dict[str, int]] = None,
) -> OrgResult:
    outcome: OutcomeWord = _WORDS.get(code, "applied" if applied else "nothing to do")
    result = OrgResult(
        config=str(config),
        org=org,
        exit=code,
        outcome=outcome,
        summary=summary,
        changes=changes or {},
        plan=str(plan) if plan is not None else None,
        counts=counts,
    )
    # One line per organisation, as `muster fleet` prints it. Every piece is
    # muster's: counts, fixed words, and its error messages (which never
    # hold a password and escape what they quote).
    log.info("%s: %d %s: %s", org or config.name, code, outcome, summary)
    return result


def _refusal(config: Path, org: Optional[str], error: muster.MusterError) -> OrgResult:
    """A muster error as the task's result, or ``Transient`` to retry."""
    if isinstance(error, muster.LeaseError):
        return _result(config, org, 6, str(error))
    if isinstance(error, (muster.GatewayError, muster.SourceError)) and error.retryable:
        # Our own exception, not muster's: it travels through the result
        # backend as JSON and names no more than muster's message does.
        raise Transient(str(error)) from None
    return _result(config, org, 1, str(error))


def saved_plan(config: Path) -> Path:
    """``orgs/a.example.toml`` → ``orgs/a.example.plan.json``, where ``muster
    fleet plan`` saves it too."""
    return config.with_suffix(".plan.json")


def approval_file(config: Path) -> Path:
    """``orgs/a.example.approval``: when a reviewer leaves one (``muster
    approve``, or the CSV preview with its exclude column marked), only what
    it approves is applied."""
    return config.with_suffix(".approval")


_WORDS_OF_KIND = {
    "create": "to add",
    "rename": "to rename",
    "update": "to update",
    "flag": "to flag",
    "delete": "to delete",
}


def _plan_summary(plan: muster.Plan, saved: Dict[str, object]) -> str:
    """``1 to add, 2 to update; 3 conflicts``: counts and fixed words only
    (the reviewer reads the plan itself with ``muster show``)."""
    summary = plan.summary()
    parts = [
        f"{n} {_WORDS_OF_KIND.get(kind, 'to change')}"
        for kind, n in summary["changes"].items()
        if n > 0
    ]
    line = ", ".join(parts) or "no changes"
    if summary["conflicts"]:
        line += f"; {summary['conflicts']} conflicts"
    if plan.requires_override:
        t = plan.threshold
        over = []
        if "exceeded_by" in t:
            over.append(f"the destructive threshold by {t['exceeded_by']}")
        if "creates_exceeded_by" in t:
            over.append(f"the create limit by {t['creates_exceeded_by']}")
        if "licences_exceeded_by" in t:
            over.append(f"the licence count by {t['licences_exceeded_by']}")
        line += "; THRESHOLD EXCEEDED: " + ", ".join(over)
    guards = saved.get("guards")
    if isinstance(guards, list) and guards:
        line += "; guards: " + ", ".join(
            str(g.get("guard")) for g in guards if isinstance(g, dict)
        )
    return line


# --- one organisation's run, without Celery ------------------------------------


def run_plan(config_path: Union[str, Path]) -> OrgResult:
    """``muster plan --config X --save X.plan.json --detailed-exitcode``.

    The plan saved before is removed first, so a run that fails leaves no
    plan for ``apply_org`` to find. Raises ``Transient`` when the gateway
    could not be reached."""
    path = Path(config_path)
    saved_path = saved_plan(path)
    saved_path.unlink(missing_ok=True)
    org: Optional[str] = None
    try:
        config = muster.Config.load(path)
        org = config.org
        plan = config.plan()
    except muster.MusterError as e:
        return _refusal(path, org, e)
    # The plan holds directory data: muster writes it owner-only, whole or
    # not at all.
    saved = json.loads(plan.to_json(saved_path))
    return _result(
        path,
        plan.org,
        plan.exit_code,
        _plan_summary(plan, saved),
        changes=dict(plan.summary()["changes"]),
        plan=saved_path,
    )


def run_apply(config_path: Union[str, Path]) -> OrgResult:
    """``muster apply --config X --plan X.plan.json``: the plan saved for
    review, never a new one, journalled (``files.journals``, or beside the
    config) so that running it again resumes. Raises ``Transient`` when the
    gateway could not be reached."""
    path = Path(config_path)
    saved_path = saved_plan(path)
    org: Optional[str] = None
    try:
        config = muster.Config.load(path)
        org = config.org
        if not saved_path.exists():
            return _result(
                path,
                org,
                1,
                f"no saved plan `{saved_path}`: nothing applied; plan_org "
                "(or `muster plan --save`) saves one for review",
            )
        plan = muster.Plan.from_json(saved_path.read_text())
        changes = dict(plan.summary()["changes"])
        if plan.org != org:
            return _result(
                path, org, 1, f"`{saved_path}` is a plan for {plan.org}: nothing applied"
            )
        if plan.requires_override:
            return _result(
                path,
                org,
                4,
                "threshold exceeded: nothing applied; a person applies it for this organisation "
                f"alone: muster apply --config {path} --plan {saved_path} --override-threshold",
                changes=changes,
                plan=saved_path,
            )
        options: ConfigApplyOptions = {}
        if config.journals is None:
            # `files.journals` journals there; without it, beside the config.
            options["journal"] = path.with_suffix(f".{plan.fingerprint}.journal")
        approval = approval_file(path)
        if approval.exists():
            options["approval"] = approval
        report = config.apply(plan, **options)
    except muster.MusterError as e:
        return _refusal(path, org, e)
    counts = cast(Dict[str, int], dict(report.counts))
    summary = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in counts.items() if n) or "no changes"
    if report.halted:
        summary += f"; halted: {report.halted}"
    return _result(
        path,
        org,
        0 if report.is_complete else 3,
        summary,
        applied=True,
        changes=changes,
        plan=saved_path,
        counts=counts,
    )


# --- the tasks -------------------------------------------------------------------

# Only `Transient` is retried (a gateway or directory that could not be
# reached or asked to wait), 30 s, 60 s, 120 s… apart, since muster already retried each
# request; after the fifth retry the task fails with muster's message.
# Everything else is a result. Late acknowledgement and rejection on a lost
# worker: a task whose worker died runs again and resumes from its journal.


#: The retry and acknowledgement settings both tasks share.
_TASK_SETTINGS: Dict[str, Any] = dict(
    autoretry_for=(Transient,),
    retry_backoff=30,
    retry_backoff_max=900,
    retry_jitter=True,
    max_retries=5,
    acks_late=True,
    reject_on_worker_lost=True,
)


@app.task(name="muster_fleet.plan_org", **_TASK_SETTINGS)
def plan_org(config_path: str) -> OrgResult:
    """Plans one organisation and saves the plan beside its config for review."""
    return run_plan(config_path)


@app.task(name="muster_fleet.apply_org", **_TASK_SETTINGS)
def apply_org(config_path: str) -> OrgResult:
    """Applies the plan saved for review for one organisation; resumes from
    its journal when run again."""
    return run_apply(config_path)


def configs_in(folder: Union[str, Path]) -> List[Path]:
    """The config files of a fleet folder (``*.toml``), in name order."""
    return sorted(p for p in Path(folder).resolve().glob("*.toml") if p.is_file())


def fan_out(folder: Union[str, Path], kind: Literal["plan", "apply"] = "plan") -> GroupResult:
    """One ``plan_org`` (or ``apply_org``) task per config file in ``folder``;
    ``.get()`` on the result waits for them all (not from inside a task)."""
    task = plan_org if kind == "plan" else apply_org
    result = group(task.s(str(p)) for p in configs_in(folder)).apply_async()
    assert isinstance(result, GroupResult)  # what a group sends (celery-types says AsyncResult)
    return result


@app.task(name="muster_fleet.fan_out")
def fan_out_task(folder: str, kind: str = "plan") -> List[str]:
    """``fan_out`` as a task, for the beat schedule: returns the tasks' ids."""
    if kind not in ("plan", "apply"):
        raise ValueError(f"kind: 'plan' or 'apply', not {kind!r}")
    result = fan_out(folder, "plan" if kind == "plan" else "apply")
    return [r.id for r in result.results or []]
