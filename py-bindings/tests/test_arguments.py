"""Bad arguments are `ValueError`s when the object is made, naming the argument."""

from __future__ import annotations

import pytest

import muster

from conftest import PASSWORD


@pytest.mark.parametrize(
    "url",
    [
        "ftp://gw.example.com/api/v1",
        "http://gw.example.com/api/v1",  # plain http off this machine
        "https://exa mple.com/api/v1",
        "not a stack",
    ],
)
def test_a_malformed_gateway_url_is_a_value_error(url: str) -> None:
    with pytest.raises(ValueError, match="^stack_or_url: ") as err:
        muster.Gateway.essentials(url, org="example.com", user="a@example.com", password=PASSWORD)
    assert not isinstance(err.value, muster.GatewayError)
    assert PASSWORD not in str(err.value)


def test_credentials_in_the_url_are_refused_without_echoing_them() -> None:
    with pytest.raises(ValueError, match="^stack_or_url: ") as err:
        muster.Gateway.essentials(
            "https://admin:s3cr3t-pw@gw.example.com/api/v1",
            org="example.com",
            user="a@example.com",
            password=PASSWORD,
        )
    assert "s3cr3t-pw" not in str(err.value)


def test_a_bad_organisation_is_a_value_error_naming_org() -> None:
    with pytest.raises(ValueError, match="^org: "):
        muster.Gateway.essentials("us1", org="not a domain", user="a@example.com", password="x")


def test_unknown_option_values_name_their_option() -> None:
    with pytest.raises(ValueError, match="^mode: .*authoritive"):
        muster.plan([], None, mode="authoritive", org="example.com")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="^delete_delay: "):
        muster.plan([], None, delete_delay="14days", org="example.com")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="^threshold: "):
        muster.plan([], None, threshold="lots", org="example.com")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="unexpected keyword argument 'modee'"):
        muster.plan([], None, modee="authoritative")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="^action: "):
        muster.functional_accounts(
            [], muster.HrRecords.from_rows([]), action="make_functional"  # type: ignore[arg-type]
        )
    with pytest.raises(ValueError, match="objects"):
        muster.LdapSource("ldaps://dc.example.com", "DC=example,DC=com", objects="user")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="^cloud: "):
        muster.GraphSource("t", "c", "s", cloud="usgov")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="^external_members: "):
        muster.GraphSource("t", "c", "s", external_members="drop")  # type: ignore[arg-type]


def test_none_still_means_not_given() -> None:
    plan = muster.plan([], None, mode="supplemental", delete_delay=None, threshold=None, org="example.com")
    assert plan.is_empty
