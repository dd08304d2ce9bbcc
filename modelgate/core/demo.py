"""Demo world, part 1: teams and one user per role. Apps add their own steps in
``<app>/demo.py`` (a ``seed(stdout, context)`` function) and register them with
``register_demo_step`` in their ``AppConfig.ready()``; ``seed_demo`` runs them in
story order.

Everything goes through the same service functions the API uses, so the audit
trail is complete. Idempotent: running it twice creates nothing new.
"""

from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from modelgate.core import roles
from modelgate.core.extensions import ExtensionPoint
from modelgate.core.models import Team
from modelgate.core.services import team_add_member, team_create

# Story order of the steps: models, then their reports, then promotions (the fairness and
# explainability gates read the reports), then production telemetry.
DEMO_STEPS: ExtensionPoint[Callable] = ExtensionPoint("demo steps")


def register_demo_step(key: str, seed_step: Callable, *, order: int) -> None:
    """``seed_step(stdout, context) -> context | None`` runs after the teams and users, by ``order``."""
    DEMO_STEPS.register(key, seed_step, order=order)


TEAMS = [("credit", "Credit Risk"), ("fraud", "Fraud Detection"), ("marketing", "Marketing Analytics")]

# username, role, team slugs, display name
USERS = [
    ("dana", roles.DATA_SCIENTIST, ["credit"], "Dana Scientist"),
    ("mel", roles.ML_ENGINEER, ["credit"], "Mel Engineer"),
    ("otto", roles.DATA_SCIENTIST, ["fraud"], "Otto Outsider"),
    ("mara", roles.DATA_SCIENTIST, ["marketing"], "Mara Marketer"),
    ("bea", roles.BUSINESS_APPROVER, [], "Bea Approver"),
    ("rick", roles.RISK_OFFICER, [], "Rick Risk"),
    ("audrey", roles.AUDITOR, [], "Audrey Auditor"),
    ("ada", roles.ADMIN, [], "Ada Admin"),
]


def register_demo_user(username: str, role: str, team_slugs: list[str], display: str) -> None:
    """A demo user with a role a higher app defines (``roles.define_role``), created with the others."""
    if all(row[0] != username for row in USERS):
        USERS.insert(next((i for i, row in enumerate(USERS) if row[1] == roles.AUDITOR), len(USERS)),
                     (username, role, team_slugs, display))


def demo_password(username: str) -> str:
    # Demo only: predictable so the README can name them; printed at every seed.
    return f"{username}-demo-pass"


def seed(stdout):
    teams = {}
    for slug, name in TEAMS:
        teams[slug] = Team.objects.filter(slug=slug).first() or team_create(name=name, slug=slug)
    User = get_user_model()
    rows = []
    for username, role, team_slugs, display in USERS:
        user = User.objects.filter(username=username).first()
        if user is None:
            first, last = display.split(" ", 1)
            user = User.objects.create_user(
                username=username, email=f"{username}@demo.modelgate.local", password=demo_password(username),
                first_name=first, last_name=last, is_staff=role in (roles.ADMIN, roles.AUDITOR),
                is_superuser=role == roles.ADMIN,
            )
            user.groups.add(Group.objects.get(name=role))
            for slug in team_slugs:
                team_add_member(team=teams[slug], user=user)
        rows.append((username, roles.ROLE_LABELS[role], ", ".join(team_slugs) or "all teams (read)", demo_password(username)))
    stdout.write("\nDemo users (log in at http://127.0.0.1:8000/):\n")
    stdout.write(f"  {'username':<10} {'role':<19} {'team':<18} password\n")
    for username, role, team, password in rows:
        stdout.write(f"  {username:<10} {role:<19} {team:<18} {password}\n")
    return {"teams": teams}
