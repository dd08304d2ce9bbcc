"""A version's ``source_uri``: where the client says the model came from (MLflow's
``source``). Checked by ``services.modelversion_register`` for every surface — REST,
MLflow, commands — and again by the MLflow verification job; no tag, flag or field
skips it.

Only remote artifact stores and registry references are accepted. Local paths
(``file:``, ``/abs``, ``C:\\``) and anything that could climb out of a prefix (``..``
however it is encoded) are refused: a serving or verification job that later
resolves the URI must never be steered to a file of our own host. References to
this registry (``modelgate:``, ``models:/name/n``) must name something the
registering user can see; the service checks that (``reference``), answering a
hidden object exactly like a missing one.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes, urlsplit

from modelgate.core.errors import ApplicationError

# The one list of accepted schemes (no other app adds one today).
SOURCE_SCHEMES = frozenset({
    "s3", "s3a", "gs", "wasbs", "abfss", "https", "models", "runs", "mlflow-artifacts", "modelgate",
})
# Schemes that name a host (bucket, account, server): they need one.
NEEDS_HOST = frozenset({"s3", "s3a", "gs", "wasbs", "abfss", "https"})
MAX_LENGTH = 1000
MAX_DECODE_ROUNDS = 5
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# What follows the scheme of a reference to this registry: modelgate:blobs/<sha256>,
# modelgate:models/<name>/<n>, and MLflow's models:/<name>/<n>, models:/<name>@<alias>,
# models:/<name>/<stage or "latest">.
_BLOB = re.compile(r"^/*blobs/([0-9a-f]{64})/*$")
_MODELGATE_VERSION = re.compile(r"^/*models/([A-Za-z0-9_.-]{1,128})/(\d+)/*$")
_MODELS_VERSION = re.compile(r"^/+([A-Za-z0-9_.-]{1,128})/(\d+)/*$")
_MODELS_OTHER = re.compile(r"^/+([A-Za-z0-9_.-]{1,128})(?:@[A-Za-z0-9_.-]{1,128}|/[A-Za-z]+)/*$")


def invalid(message: str) -> ApplicationError:
    return ApplicationError(f"source_uri: {message}", fields={"source_uri": [message]})


def _decoded_forms(uri: str) -> list[str]:
    """The URI and every %-decoding of it until it stops changing (double, triple
    encoding…). More rounds than MAX_DECODE_ROUNDS, or bytes that are not UTF-8
    (overlong forms such as %c0%ae), are refused outright."""
    forms = [uri]
    current = uri
    for _ in range(MAX_DECODE_ROUNDS):
        try:
            decoded = unquote_to_bytes(current).decode("utf-8")
        except UnicodeDecodeError:
            raise invalid("percent-encoded bytes are not valid UTF-8.") from None
        if decoded == current:
            return forms
        forms.append(decoded)
        current = decoded
    raise invalid("too many layers of percent-encoding.")


def validate_source_uri(uri) -> str:
    """Return ``uri`` if its form is an acceptable model source, else raise a 400 naming ``source_uri``.
    (The objects a registry reference names are checked by the service, which knows the user.)"""
    if not isinstance(uri, str) or not uri.strip():
        raise invalid("a URI is required.")
    if len(uri) > MAX_LENGTH:
        raise invalid(f"longer than {MAX_LENGTH} characters.")
    for form in _decoded_forms(uri):
        # NFKC folds look-alikes (fullwidth '．', one-dot leaders) into ASCII before the checks.
        folded = unicodedata.normalize("NFKC", form)
        if _CONTROL.search(folded):
            raise invalid("control characters (NUL, newline…) are not allowed.")
        if "\\" in folded:
            raise invalid("backslashes are not allowed.")
        if ".." in folded:
            # Also catches '..;/' path-parameter tricks and '..' in any segment.
            raise invalid("'..' is not allowed in a source URI (in any encoding).")
        if re.match(r"^[A-Za-z]:", folded) or folded.startswith(("/", "~", ".")):
            raise invalid("local paths are not allowed; use a remote artifact store URI.")
    match = _SCHEME.match(uri)
    if match is None:
        raise invalid("a URI with a scheme is required (local paths are not allowed).")
    scheme = match.group(1).lower()
    if scheme == "file":
        raise invalid("'file:' URIs are not allowed; the registry never reads the server's disk.")
    if scheme not in SOURCE_SCHEMES:
        raise invalid(f"scheme {scheme!r} is not allowed (allowed: {', '.join(sorted(SOURCE_SCHEMES))}).")
    try:
        parts = urlsplit(uri)
    except ValueError as exc:
        raise invalid(f"{exc}.") from None
    if scheme in NEEDS_HOST and not parts.netloc:
        raise invalid(f"a {scheme}: URI needs a host or bucket ({scheme}://…).")
    if "@" in parts.netloc:
        raise invalid("credentials in the URI are not allowed.")
    if not (parts.path.strip("/") or parts.netloc):
        raise invalid("the URI names no object.")
    if scheme == "modelgate" and reference(uri) is None:
        raise invalid("a modelgate: source is modelgate:blobs/<sha256> or modelgate:models/<name>/<version>.")
    return uri


@dataclass(frozen=True)
class Reference:
    """What a source URI names in this registry: a blob (``sha256``), a version
    (``model`` and ``version``) or a model (``model`` alone: an alias or a stage of it)."""

    sha256: str = ""
    model: str = ""
    version: int | None = None


def reference(uri: str) -> Reference | None:
    """The object of this registry a (valid) source URI names, or None for an external store."""
    scheme, _, rest = uri.partition(":")
    scheme = scheme.lower()
    if scheme == "modelgate":
        if match := _BLOB.match(rest):
            return Reference(sha256=match.group(1))
        if match := _MODELGATE_VERSION.match(rest):
            return Reference(model=match.group(1), version=int(match.group(2)))
    elif scheme == "models":
        if match := _MODELS_VERSION.match(rest):
            return Reference(model=match.group(1), version=int(match.group(2)))
        if match := _MODELS_OTHER.match(rest):
            return Reference(model=match.group(1))
    return None


def not_visible(ref: Reference) -> ApplicationError:
    """The refusal of a reference the user cannot see: the same words whether it is hidden or missing."""
    if ref.sha256:
        return invalid(f"no stored blob {ref.sha256} is visible to you.")
    if ref.version is not None:
        return invalid(f"no ready version {ref.version} of model {ref.model!r} is visible to you.")
    return invalid(f"no model {ref.model!r} is visible to you.")
