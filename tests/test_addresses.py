"""Portal address rules, as plain functions."""

import pytest

from tenants.addresses import subdomain_problem


@pytest.mark.parametrize("address", ["abc", "acme-therapy", "a1b2", "a" * 40, "ACME", " acme "])
def test_acceptable_addresses(address):
    assert subdomain_problem(address) is None


@pytest.mark.parametrize(
    "address, fragment",
    [
        ("", "Choose"),
        ("ab", "3 to 40"),
        ("a" * 41, "3 to 40"),
        ("1acme", "starting with a letter"),
        ("-acme", "starting with a letter"),
        ("acme-", "end with a hyphen"),
        ("ac--me", "two hyphens"),
        ("acme_x", "lowercase letters"),
        ("acmé", "lowercase letters"),
        ("ac.me", "lowercase letters"),
        ("xn-abc", "reserved"),
        ("www", "reserved"),
        ("admin", "reserved"),
        ("api", "reserved"),
        ("mail", "reserved"),
        ("status", "reserved"),
        ("billing", "reserved"),
        ("pg-catalog", "reserved"),
        ("portal", "reserved"),
    ],
)
def test_refused_addresses(address, fragment):
    problem = subdomain_problem(address)
    assert problem is not None and fragment in problem
