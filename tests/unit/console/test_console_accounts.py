"""Console users: argon2 hashes only, roles per enterprise, sandbox until promoted; both stores alike."""

from __future__ import annotations

import pytest
from console_service.accounts import (
    Accounts,
    ConsoleRole,
    Environment,
    MemoryAccounts,
    Passwords,
    SqlAccounts,
    User,
    UserExists,
)
from sqlalchemy import create_engine

PASSWORDS = Passwords()


def sql() -> SqlAccounts:
    accounts = SqlAccounts(create_engine("sqlite://"))
    accounts.create()
    return accounts


@pytest.fixture(params=["memory", "sql"])
def accounts(request: pytest.FixtureRequest) -> Accounts:
    return MemoryAccounts() if request.param == "memory" else sql()


def test_a_user_is_stored_with_an_argon2_hash_and_checked_against_it(accounts: Accounts) -> None:
    accounts.add_user(User("alice", PASSWORDS.hash("alice-password-1"), {"3105960001": ConsoleRole.OPERATOR}))
    alice = accounts.user("alice")
    assert alice is not None
    assert alice.password_hash.startswith("$argon2id$") and "alice-password-1" not in alice.password_hash
    assert PASSWORDS.check(alice, "alice-password-1")
    assert not PASSWORDS.check(alice, "alice-password-2")
    assert not PASSWORDS.check(None, "alice-password-1")  # an unknown user never passes


def test_roles_are_per_enterprise(accounts: Accounts) -> None:
    accounts.add_user(User("bob", PASSWORDS.hash("bob-password-12"),
                           {"3105960001": ConsoleRole.VIEWER, "3301960002": ConsoleRole.ADMIN}))
    bob = accounts.user("bob")
    assert bob is not None
    assert not bob.may_write("3105960001") and bob.may_write("3301960002")
    assert not bob.may_write("3120960003") and bob.role_in("3120960003") is None


def test_a_name_is_taken_once(accounts: Accounts) -> None:
    accounts.add_user(User("carol", PASSWORDS.hash("carol-password-1"), {}, platform_operator=True))
    with pytest.raises(UserExists):
        accounts.add_user(User("carol", PASSWORDS.hash("carol-password-2"), {}))
    assert accounts.user("carol") is not None and accounts.user("carol").platform_operator  # type: ignore[union-attr]


def test_an_enterprise_is_in_the_sandbox_until_promoted(accounts: Accounts) -> None:
    assert accounts.environment("3105960001") is Environment.SANDBOX
    accounts.set_environment("3105960001", Environment.PRODUCTION, "ops")
    assert accounts.environment("3105960001") is Environment.PRODUCTION
    assert accounts.environment("3301960002") is Environment.SANDBOX


def test_a_short_password_is_refused() -> None:
    with pytest.raises(ValueError, match="10 characters"):
        PASSWORDS.hash("short")
