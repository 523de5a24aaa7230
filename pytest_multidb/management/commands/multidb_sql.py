"""``manage.py multidb_sql ALIAS [--drop | --reset-sequences]``: the schema SQL of one connection."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.connection import ConnectionDoesNotExist

from pytest_multidb.db import connections


class Command(BaseCommand):
    help = (
        "Print the SQL that creates the tables of the models living on a connection (dependency order, "
        "cyclic constraints last), or with --drop / --reset-sequences the SQL that drops them / resets "
        "their sequences. One statement per line; nothing is executed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("alias", help="A database alias from DATABASES or OTHER_DATABASES.")
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--drop", action="store_true", help="Print DROP statements instead.")
        action.add_argument("--reset-sequences", action="store_true",
                            help="Print the statements that reset the automatic primary keys to 1.")

    def handle(self, *args: Any, alias: str, drop: bool, reset_sequences: bool, **options: Any) -> None:
        try:
            schema = connections[alias].schema
        except ConnectionDoesNotExist as error:
            raise CommandError(str(error)) from None
        if drop:
            statements = schema.drop_sql()
        elif reset_sequences:
            statements = schema.reset_sequences_sql()
        else:
            statements = schema.create_sql()
        for statement in statements:
            self.stdout.write(statement)
