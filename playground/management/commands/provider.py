"""`manage.py provider add|list|test|enable|disable|rotate-keys`: providers from scripts.

    manage.py provider add kling-sg --kind kling \\
        --credential-env access_key=KLING_ACCESS_KEY --credential-env secret_key=KLING_SECRET_KEY \\
        --model kling-v2-6 --model kling-v3 --cost kling-v2-6=0.28 --priority 10
    manage.py provider test kling-sg

Credentials come from the command line (`--credential NAME=VALUE`), a file
(`--credential-file service_account_json=sa.json`) or an environment
variable (`--credential-env api_key=FAL_KEY`); the last two keep them out of
the shell's history. They are stored encrypted and never printed.
"""

from __future__ import annotations

import os
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from playground import catalog, providers
from playground.models import Provider
from playground.secretbox import SecretsUnreadable

CREDENTIAL_NAMES = ("api_key", "access_key", "secret_key", "service_account_json")


def pairs(values: list[str], what: str) -> list[tuple[str, str]]:
    found = []
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name.strip():
            raise CommandError(f"{what} takes NAME=VALUE, got {value!r}.")
        found.append((name.strip(), rest))
    return found


class Command(BaseCommand):
    help = "Add, list, test, enable or disable upstream providers; re-encrypt their credentials."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        add = actions.add_parser("add", help="add a provider (or change one, with --update)")
        add.add_argument("name")
        add.add_argument("--kind", choices=[kind for kind, _ in Provider.KINDS])
        add.add_argument("--base-url", help="blank: the kind's public API")
        add.add_argument("--credential", action="append", default=[], metavar="NAME=VALUE")
        add.add_argument("--credential-file", action="append", default=[], metavar="NAME=PATH")
        add.add_argument("--credential-env", action="append", default=[], metavar="NAME=VARIABLE")
        add.add_argument("--option", action="append", default=[], metavar="NAME=VALUE")
        add.add_argument(
            "--model",
            action="append",
            default=[],
            metavar="ID[=UPSTREAM]",
            help="a catalog model it serves (all when none is given), and its upstream name",
        )
        add.add_argument("--cost", action="append", default=[], metavar="ID=USD")
        add.add_argument("--priority", type=int)
        add.add_argument("--weight", type=int)
        add.add_argument("--disabled", action="store_true")
        add.add_argument("--update", action="store_true", help="change an existing provider")
        actions.add_parser("list", help="every provider, its models and breaker")
        test = actions.add_parser("test", help="one cheap authenticated call")
        test.add_argument("name")
        for action in ("enable", "disable"):
            actions.add_parser(action, help=f"{action} a provider").add_argument("name")
        actions.add_parser(
            "rotate-keys", help="re-encrypt every provider's credentials with the first key"
        )

    def handle(self, *args, action, **options):
        try:
            getattr(self, action.replace("-", "_"))(**options)
        except SecretsUnreadable as exc:
            raise CommandError(str(exc)) from None

    # Actions

    def add(self, *, name, update, **options):
        row = Provider.objects.filter(name=name).first()
        if row is not None and not update:
            raise CommandError(f"A provider named {name!r} exists; add --update to change it.")
        if row is None:
            if not options["kind"]:
                raise CommandError("--kind is required for a new provider.")
            row = Provider(name=name)
        if options["kind"]:
            row.kind = options["kind"]
        if options["base_url"] is not None:
            row.base_url = options["base_url"]
        row.credentials = {**row.credentials, **self._credentials(options)}
        row.options = {**row.options, **dict(pairs(options["option"], "--option"))}
        models = pairs([m if "=" in m else f"{m}=" for m in options["model"]], "--model")
        for model_id, _ in models:
            self._known_model(model_id)
        if models:
            row.model_ids = [model_id for model_id, _ in models]
            row.model_map = {
                **row.model_map,
                **{model_id: upstream for model_id, upstream in models if upstream},
            }
        row.costs = {**row.costs, **self._costs(options["cost"])}
        for field in ("priority", "weight"):
            if options[field] is not None:
                setattr(row, field, options[field])
        row.enabled = not options["disabled"]
        row.full_clean()
        row.save()
        self.stdout.write(f"{'Changed' if update else 'Added'} provider {row.name} ({row.kind}).")

    def list(self, **options):
        for row in Provider.objects.all():
            state = "enabled" if row.enabled else "disabled"
            cooling = row.cooling_until
            breaker = f"breaker open until {cooling:%H:%M:%S}" if cooling else "breaker closed"
            models = ",".join(row.model_ids) or "all models"
            self.stdout.write(
                f"{row.name}\t{row.kind}\t{state}\tpriority {row.priority}\t"
                f"{row.base_url or 'default URL'}\t{models}\t"
                f"{row.masked_credentials or 'no credentials'}\t{breaker}"
            )

    def test(self, *, name, **options):
        worked, said = providers.check(self._row(name))
        if not worked:
            raise CommandError(said)
        self.stdout.write(said)

    def enable(self, *, name, **options):
        self._set_enabled(name, True)

    def disable(self, *, name, **options):
        self._set_enabled(name, False)

    def rotate_keys(self, **options):
        count = 0
        with transaction.atomic():
            # Read with any configured key, written back under the first.
            for row in Provider.objects.select_for_update().exclude(credentials=""):
                Provider.objects.filter(pk=row.pk).update(credentials=row.credentials)
                count += 1
        self.stdout.write(f"Re-encrypted the credentials of {count} provider(s).")

    # Helpers

    def _row(self, name: str) -> Provider:
        row = Provider.objects.filter(name=name).first()
        if row is None:
            raise CommandError(f"No provider named {name!r}.")
        return row

    def _set_enabled(self, name: str, enabled: bool) -> None:
        row = self._row(name)
        Provider.objects.filter(pk=row.pk).update(enabled=enabled)
        self.stdout.write(f"{'Enabled' if enabled else 'Disabled'} provider {row.name}.")

    def _credentials(self, options) -> dict[str, str]:
        found = dict(pairs(options["credential"], "--credential"))
        for name, path in pairs(options["credential_file"], "--credential-file"):
            try:
                found[name] = Path(path).read_text().strip()
            except OSError as exc:
                raise CommandError(f"Cannot read {path}: {exc.strerror}.") from None
        for name, variable in pairs(options["credential_env"], "--credential-env"):
            if not os.environ.get(variable):
                raise CommandError(f"The environment variable {variable} is not set.")
            found[name] = os.environ[variable].strip()
        unknown = set(found) - set(CREDENTIAL_NAMES)
        if unknown:
            raise CommandError(
                f"Unknown credential {', '.join(sorted(unknown))}; "
                f"known: {', '.join(CREDENTIAL_NAMES)}."
            )
        return found

    def _costs(self, values: list[str]) -> dict[str, str]:
        costs = {}
        for model_id, amount in pairs(values, "--cost"):
            self._known_model(model_id)
            try:
                value = Decimal(amount)
            except InvalidOperation:
                raise CommandError(
                    f"--cost {model_id} takes an amount in USD, got {amount!r}."
                ) from None
            if not value.is_finite() or value < 0:
                raise CommandError(f"--cost {model_id} must be a positive amount.")
            costs[model_id] = str(value)
        return costs

    def _known_model(self, model_id: str) -> None:
        try:
            spec = catalog.get_spec(model_id)
        except catalog.UnknownModel as exc:
            raise CommandError(str(exc)) from None
        if spec.id != model_id:
            raise CommandError(f"Name the model by its id: {spec.id!r}, not {model_id!r}.")
