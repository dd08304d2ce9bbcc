"""Role grants for the registry (object-less permissions: which actions).

Which objects is decided by team object permissions (guardian) in ``restrict``:
a data scientist may change models, but only those of their own team.
"""

from modelgate.core import roles

_MODELS = (
    "registeredmodel", "modelversion", "modelalias", "artifact", "artifactblob",
    "versionparent", "dataset", "datasetversion", "trainingrun",
)
# Public: a higher app's reading roles (e.g. governance's model validator) get the same.
VIEW = [f"registry.view_{name}" for name in _MODELS]
# Builders register and describe models of their own team; lineage records are
# created with the versions that cite them.
_BUILD = [
    "registry.add_registeredmodel", "registry.change_registeredmodel", "registry.delete_registeredmodel",
    "registry.add_modelversion", "registry.change_modelversion",
    "registry.add_modelalias", "registry.change_modelalias", "registry.delete_modelalias",
    "registry.add_artifact",
    "registry.add_versionparent",
    "registry.add_dataset", "registry.change_dataset",
    "registry.add_datasetversion",
    "registry.add_trainingrun",
]

roles.grant(roles.DATA_SCIENTIST, *VIEW, *_BUILD)
roles.grant(roles.ML_ENGINEER, *VIEW, *_BUILD)
for _role in (roles.BUSINESS_APPROVER, roles.RISK_OFFICER, roles.AUDITOR):
    roles.grant(_role, *VIEW)
