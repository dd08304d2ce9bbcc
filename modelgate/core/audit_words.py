"""Core's audit events (sign-ins, teams, roles, tokens) in sentences and dropdown labels."""

from modelgate.core import roles
from modelgate.core.sentences import register_audit_actions


def _role(name) -> str:
    return roles.ROLE_LABELS.get(name, name)

ACTIONS = {
    "auth.login": ("Logged in", lambda e, s: "logged in" + (f" from {e.client_ip}" if e.client_ip else "")),
    "auth.logout": ("Logged out", lambda e, s: "logged out"),
    "team.create": ("Created a team", lambda e, s: f"created team {e.object_repr}"),
    "team.add_member": ("Added a team member", lambda e, s: f"added {s.after('member')} to team {e.object_repr}"),
    "team.remove_member": ("Removed a team member", lambda e, s: f"removed {s.before('member')} from team {e.object_repr}"),
    "team.rename": ("Renamed a team", lambda e, s: f"renamed team {s.before('name')} to {s.after('name')}"),
    "user.grant_role": ("Granted a role", lambda e, s: f"gave {e.object_repr} the role {_role(s.after('roles'))}"),
    "user.revoke_role": ("Revoked a role", lambda e, s: f"took the role {_role(s.before('roles'))} from {e.object_repr}"),
    "user.create": ("Created an account", lambda e, s: f"created the account {e.object_repr}"),
    "user.activate": ("Reactivated an account", lambda e, s: f"reactivated the account {e.object_repr}"),
    "user.deactivate": ("Deactivated an account", lambda e, s: f"deactivated the account {e.object_repr}"),
    "token.create": ("Created an API token", lambda e, s: f"created API token “{e.object_repr}” for {s.after('user')}"),
    "token.revoke": ("Revoked an API token", lambda e, s: f"revoked API token “{e.object_repr}”"),
}


def register() -> None:
    register_audit_actions({k: v for k, v in ACTIONS.items() if k.startswith("auth.")}, group=("auth", "Sign-ins"))
    register_audit_actions({k: v for k, v in ACTIONS.items() if k.startswith("team.")}, group=("team", "Teams"))
    register_audit_actions({k: v for k, v in ACTIONS.items() if k.startswith("user.")}, group=("user", "People and roles"))
    register_audit_actions({k: v for k, v in ACTIONS.items() if k.startswith("token.")}, group=("token", "API tokens"))
