from django.db import migrations

from governance.modelrisk import defaults


class Migration(migrations.Migration):
    dependencies = [("governance", "0007_modelrisk")]
    operations = [migrations.RunPython(defaults.seed, defaults.unseed)]
