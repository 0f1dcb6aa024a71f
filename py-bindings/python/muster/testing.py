"""Test helpers: the gateway emulator, in-process.

::

    from muster.testing import Emulator

    with Emulator(seed={"orgs": [...], "logins": [...]}) as emu:
        gw = muster.Gateway.essentials(emu.url, org="example.com",
                                       user="admin@example.com", password="secret")
        ...
        assert emu.requests()[-1]["method"] == "PUT"

The emulator is muster's own Rust emulator (``muster-emulator``), served on
127.0.0.1 by the module's runtime threads: it behaves like the real gateway
(full-replace PUT, 409 on taken addresses, 401/403, rate limits) and records
every request with credentials removed.
"""

from __future__ import annotations

import json
import os
from types import TracebackType
from typing import Any, Dict, List, Mapping, Optional, Type, Union

from muster._muster import Emulator as _Emulator

#: The seed used when none is given: one organisation, one admin login.
DEFAULT_SEED: Dict[str, Any] = {
    "orgs": [{"primary_domain": "example.com", "users": []}],
    "logins": [
        {
            "user": "admin@example.com",
            "password": "admin-password",
            "type": "organization_admin",
            "orgs": ["example.com"],
        }
    ],
}


class Emulator:
    """A running gateway emulator; a context manager that stops it on exit.

    ``seed`` is a dict in the seed-file format (``orgs``, ``logins``,
    ``rate_limit``, ``faults``) or the path of a seed file. Raises
    ``muster.EmulatorError`` for a bad seed.
    """

    def __init__(
        self,
        seed: Union[Mapping[str, Any], str, "os.PathLike[str]", None] = None,
        *,
        port: Optional[int] = None,
    ) -> None:
        if seed is None:
            seed = DEFAULT_SEED
        if isinstance(seed, Mapping):
            self._emu = _Emulator.start(seed_json=json.dumps(dict(seed)), port=port)
        else:
            self._emu = _Emulator.start(seed_path=os.fspath(seed), port=port)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT/api/v1``: what ``Gateway.essentials`` takes."""
        return self._emu.url

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return self._emu.base_url

    def users(self, org: str) -> List[Dict[str, Any]]:
        """Every user of ``org`` in the gateway's JSON shape (``type``, ``alias_emails``…)."""
        return self._emu.users(org)

    def user(self, org: str, email: str) -> Optional[Dict[str, Any]]:
        """One user by primary address, or None."""
        return self._emu.user(org, email)

    def requests(self) -> List[Dict[str, Any]]:
        """The request log: ``method``, ``uri``, ``route``, ``login``, ``status``, ``fault``, ``body``."""
        return self._emu.requests()

    def writes(self) -> List[Dict[str, Any]]:
        """The requests that were not GETs."""
        return [r for r in self.requests() if r["method"] != "GET"]

    def count(self, method: str, route: str, status: int) -> int:
        """How many ``method route`` requests were answered with ``status``."""
        return self._emu.count(method, route, status)

    def welcome_letters(self, email: str) -> int:
        """Welcome letters sent to ``email``."""
        return self._emu.welcome_letters(email)

    def insert_user(self, org: str, user: Mapping[str, Any]) -> None:
        """Adds a user behind the API's back, as an admin in the console would."""
        self._emu.insert_user(org, dict(user))

    def clear_observations(self) -> None:
        """Forgets the request log and counters."""
        self._emu.clear_observations()

    def close(self) -> None:
        """Stops the server (idempotent)."""
        self._emu.close()

    def __enter__(self) -> "Emulator":
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Emulator(url={self.url!r})"


__all__ = ["DEFAULT_SEED", "Emulator"]
