"""Console users: argon2 password hashes, roles per enterprise, the platform operator role, and each
enterprise's environment (sandbox until an operator promotes it).

Two stores with one interface: :class:`MemoryAccounts` (the embedded/dev run and tests) and
:class:`SqlAccounts` (SQLAlchemy; Postgres in production). Neither holds a password, only its hash;
user names are the only personal data and are never logged.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, Column, DateTime, Engine, MetaData, String, Table, delete, insert, select


class ConsoleRole(StrEnum):
    ADMIN = "admin"  # everything of the enterprise, users too
    OPERATOR = "operator"  # declares, imports, corrects
    VIEWER = "viewer"  # reads only


WRITERS = frozenset({ConsoleRole.ADMIN, ConsoleRole.OPERATOR})


class Environment(StrEnum):
    SANDBOX = "sandbox"
    PRODUCTION = "production"


@dataclass(frozen=True)
class User:
    username: str
    password_hash: str
    memberships: dict[str, ConsoleRole] = field(default_factory=dict)  # customs code -> role
    platform_operator: bool = False

    def role_in(self, enterprise: str) -> ConsoleRole | None:
        return self.memberships.get(enterprise)

    def may_write(self, enterprise: str) -> bool:
        return self.memberships.get(enterprise) in WRITERS


class Accounts(Protocol):
    def user(self, username: str) -> User | None: ...
    def add_user(self, user: User) -> None: ...
    def users(self) -> list[User]: ...
    def environment(self, enterprise: str) -> Environment: ...
    def set_environment(self, enterprise: str, environment: Environment, by: str) -> None: ...


class UserExists(ValueError):
    """A user of that name is already stored."""


class Passwords:
    """argon2id hashing; an unknown user costs the same time as a wrong password."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or PasswordHasher()
        self._dummy = self.hasher.hash("cbec-console-no-such-user")

    def hash(self, password: str) -> str:
        if len(password) < 10:
            raise ValueError("a console password has at least 10 characters")
        return self.hasher.hash(password)

    def check(self, user: User | None, password: str) -> bool:
        try:
            return self.hasher.verify(user.password_hash if user else self._dummy, password) and user is not None
        except (VerificationError, InvalidHashError):
            return False


class MemoryAccounts:
    """Users and environments in this process only (development, the embedded run, tests)."""

    def __init__(self) -> None:
        self._users: dict[str, User] = {}
        self._environments: dict[str, Environment] = {}
        self._lock = threading.Lock()

    def user(self, username: str) -> User | None:
        return self._users.get(username)

    def add_user(self, user: User) -> None:
        with self._lock:
            if user.username in self._users:
                raise UserExists(user.username)
            self._users[user.username] = user

    def users(self) -> list[User]:
        return list(self._users.values())

    def environment(self, enterprise: str) -> Environment:
        return self._environments.get(enterprise, Environment.SANDBOX)

    def set_environment(self, enterprise: str, environment: Environment, by: str) -> None:
        self._environments[enterprise] = environment


class SqlAccounts:
    """Tables ``console_users``, ``console_memberships`` and ``console_enterprises``."""

    def __init__(self, engine: Engine, schema: str | None = None) -> None:
        self.engine = engine
        self.metadata = MetaData(schema=schema if engine.dialect.name == "postgresql" else None)
        self.users_t = Table(
            "console_users", self.metadata,
            Column("username", String(100), primary_key=True),
            Column("password_hash", String(200), nullable=False),
            Column("platform_operator", Boolean, nullable=False, default=False),
            Column("created_at", DateTime(timezone=True), nullable=False),
        )
        self.members_t = Table(
            "console_memberships", self.metadata,
            Column("username", String(100), primary_key=True),
            Column("enterprise", String(40), primary_key=True),
            Column("role", String(20), nullable=False),
        )
        self.enterprises_t = Table(
            "console_enterprises", self.metadata,
            Column("enterprise", String(40), primary_key=True),
            Column("environment", String(20), nullable=False),
            Column("changed_by", String(100), nullable=False),
            Column("changed_at", DateTime(timezone=True), nullable=False),
        )

    def create(self) -> None:
        from cbec.readmodel.tables import create_tables

        create_tables(self.engine, self.metadata, self.metadata.schema, "cbec-console-ddl")

    def user(self, username: str) -> User | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(self.users_t).where(self.users_t.c.username == username)).first()
            if row is None:
                return None
            members = conn.execute(select(self.members_t.c.enterprise, self.members_t.c.role)
                                   .where(self.members_t.c.username == username)).all()
        return User(str(row.username), str(row.password_hash), {str(e): ConsoleRole(r) for e, r in members},
                    bool(row.platform_operator))

    def add_user(self, user: User) -> None:
        with self.engine.begin() as conn:
            if conn.execute(select(self.users_t.c.username).where(self.users_t.c.username == user.username)).first():
                raise UserExists(user.username)
            conn.execute(insert(self.users_t).values(username=user.username, password_hash=user.password_hash,
                                                     platform_operator=user.platform_operator,
                                                     created_at=datetime.now(UTC)))
            for enterprise, role in user.memberships.items():
                conn.execute(insert(self.members_t).values(username=user.username, enterprise=enterprise,
                                                           role=str(role)))

    def users(self) -> list[User]:
        with self.engine.connect() as conn:
            names = [str(n) for (n,) in conn.execute(select(self.users_t.c.username))]
        return [u for u in (self.user(n) for n in names) if u is not None]

    def environment(self, enterprise: str) -> Environment:
        with self.engine.connect() as conn:
            found = conn.execute(select(self.enterprises_t.c.environment)
                                 .where(self.enterprises_t.c.enterprise == enterprise)).scalar()
        return Environment(found) if found else Environment.SANDBOX

    def set_environment(self, enterprise: str, environment: Environment, by: str) -> None:
        t = self.enterprises_t
        values = {"environment": str(environment), "changed_by": by, "changed_at": datetime.now(UTC)}
        with self.engine.begin() as conn:
            conn.execute(delete(t).where(t.c.enterprise == enterprise))
            conn.execute(insert(t).values(enterprise=enterprise, **values))


def with_password(user: User, passwords: Passwords, password: str) -> User:
    return replace(user, password_hash=passwords.hash(password))


__all__ = ["Accounts", "ConsoleRole", "Environment", "MemoryAccounts", "Passwords", "SqlAccounts", "User",
           "UserExists"]
