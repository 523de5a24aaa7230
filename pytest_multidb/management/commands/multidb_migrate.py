"""``manage.py multidb_migrate [ALIAS ...] [--plan]``: migrate every database (or the ones named) in one go."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.connection import ConnectionDoesNotExist

from pytest_multidb.migrate_all import MigrateError, migrate_all


class Command(BaseCommand):
    help = (
        "Migrate every database alias (or the ones named) in dependency order (TEST['DEPENDENCIES'], then "
        "cross-connection references), build the apps without migrations with the schema builder, and print one "
        "line per alias. Stops at the first alias that fails, naming it. --plan prints what it would do."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("aliases", nargs="*", metavar="ALIAS",
                            help="Database aliases from DATABASES or OTHER_DATABASES (default: all of them).")
        parser.add_argument("--plan", action="store_true",
                            help="Print, per alias, the migrations and tables it would create; change nothing.")

    def handle(self, *args: Any, aliases: list[str], plan: bool, **options: Any) -> None:
        try:
            migrate_all(aliases or None, self.stdout.write, plan_only=plan)
        except (MigrateError, ConnectionDoesNotExist, ImproperlyConfigured) as error:
            raise CommandError(str(error)) from error
