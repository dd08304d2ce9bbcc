"""Registry's audit events in sentences and dropdown labels (registered in ``RegistryConfig.ready()``)."""

from modelgate.core import readable
from modelgate.core.sentences import register_audit_actions

ACTIONS = {
    "registry.model.create": ("Registered a model", lambda e, s: f"registered model {e.object_repr} for team {s.after('team')}"),
    "registry.model.update": ("Edited a model", lambda e, s: f"edited model {e.object_repr}"),
    "registry.model.rename": ("Renamed a model", lambda e, s: f"renamed model {s.before('name')} to {s.after('name')}"),
    "registry.model.delete": ("Deleted a model", lambda e, s: f"deleted model {e.object_repr}"),
    "registry.model.share": ("Shared a model", lambda e, s: f"shared {e.object_repr} with {s.after('shared_with')}"),
    "registry.model.unshare": ("Stopped sharing a model", lambda e, s: f"stopped sharing {e.object_repr} with {s.before('shared_with')}"),
    "registry.version.register": ("Registered a version", lambda e, s: f"registered {e.object_repr}"),
    "registry.version.update": ("Edited a version", lambda e, s: f"edited {e.object_repr}"),
    "registry.version.ready": ("Version ready", lambda e, s: f"marked {e.object_repr} ready: every artifact uploaded and checked"),
    "registry.version.failed": ("Version failed", lambda e, s: f"marked {e.object_repr} failed" + (f": {s.after('status_message')}" if s.after("status_message") else "")),
    "registry.version.delete": ("Deleted a version", lambda e, s: f"deleted {e.object_repr}"),
    "registry.artifact.upload": ("Uploaded an artifact", lambda e, s: f"uploaded {s.after('path')} ({readable.number(s.after('size'))} bytes, "
                                 f"SHA-256 {str(s.after('sha256'))[:12]}…) to {e.object_repr.split(':')[0]}"),
    "registry.alias.set": ("Set an alias", lambda e, s: f"pointed alias {e.object_repr} at v{s.after('version')}"
                           + (f" (was v{s.before('version')})" if s.before("version") else "")),
    "registry.alias.delete": ("Removed an alias", lambda e, s: f"removed alias {e.object_repr} (was v{s.before('version')})"),
    "registry.dataset.create": ("Registered a dataset", lambda e, s: f"registered dataset {e.object_repr}"),
    "registry.datasetversion.create": ("Registered a dataset version", lambda e, s: f"registered dataset version {e.object_repr}"),
    "registry.trainingrun.create": ("Recorded a training run", lambda e, s: f"recorded training run {s.after('external_id')}"),
}


def register() -> None:
    register_audit_actions(ACTIONS, group=("registry", "Registry"))
