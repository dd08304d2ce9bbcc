"""Seed the default environments, mirroring the policy table of the source
documents: Dev (owning team deploys directly), UAT (an ML engineer approves),
Prod (a business approver and a risk officer approve; read-only; yearly review)."""

from django.db import migrations

from governance.defaults import ENVIRONMENTS, PROTECTED  # noqa: F401 (read by tests and docs)
from governance.defaults import seed_environments as seed
from governance.defaults import unseed_environments as unseed


class Migration(migrations.Migration):
    dependencies = [("governance", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
