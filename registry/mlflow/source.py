"""Validation of a version's ``source`` URI — always, for every version created
through the MLflow API; no tag, flag or field skips it.

Only remote artifact stores and registry references are accepted. Local paths
(``file:``, ``/abs``, ``C:\\``) and anything that could climb out of a prefix
(``..`` however it is encoded) are refused: a serving or verification job that
later resolves the URI must never be steered to a file of our own host.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote_to_bytes, urlsplit

from registry.mlflow.wire import MlflowError, invalid

ALLOWED_SCHEMES = frozenset({
    "s3", "s3a", "gs", "wasbs", "abfss", "https", "models", "runs", "mlflow-artifacts", "modelgate",
})
# Schemes that name a host (bucket, account, server): they need one.
NEEDS_HOST = frozenset({"s3", "s3a", "gs", "wasbs", "abfss", "https"})
MAX_LENGTH = 1000
MAX_DECODE_ROUNDS = 5
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


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
            raise invalid("Invalid source: percent-encoded bytes are not valid UTF-8.") from None
        if decoded == current:
            return forms
        forms.append(decoded)
        current = decoded
    raise invalid("Invalid source: too many layers of percent-encoding.")


def validate_source(uri) -> str:
    """Return ``uri`` if it is an acceptable model source, else raise INVALID_PARAMETER_VALUE."""
    if not isinstance(uri, str) or not uri.strip():
        raise invalid("Missing value for required parameter 'source'.")
    if len(uri) > MAX_LENGTH:
        raise invalid(f"Invalid source: longer than {MAX_LENGTH} characters.")
    for form in _decoded_forms(uri):
        # NFKC folds look-alikes (fullwidth '．', one-dot leaders) into ASCII before the checks.
        folded = unicodedata.normalize("NFKC", form)
        if _CONTROL.search(folded):
            raise invalid("Invalid source: control characters (NUL, newline…) are not allowed.")
        if "\\" in folded:
            raise invalid("Invalid source: backslashes are not allowed.")
        if ".." in folded:
            # Also catches '..;/' path-parameter tricks and '..' in any segment.
            raise invalid("Invalid source: '..' is not allowed in a source URI (in any encoding).")
        if re.match(r"^[A-Za-z]:", folded) or folded.startswith(("/", "~", ".")):
            raise invalid("Invalid source: local paths are not allowed; use a remote artifact store URI.")
    match = _SCHEME.match(uri)
    if match is None:
        raise invalid("Invalid source: a URI with a scheme is required (local paths are not allowed).")
    scheme = match.group(1).lower()
    if scheme == "file":
        raise invalid("Invalid source: 'file:' URIs are not allowed; the registry never reads the server's disk.")
    if scheme not in ALLOWED_SCHEMES:
        raise invalid(f"Invalid source: scheme {scheme!r} is not allowed (allowed: {', '.join(sorted(ALLOWED_SCHEMES))}).")
    try:
        parts = urlsplit(uri)
    except ValueError as exc:
        raise invalid(f"Invalid source: {exc}.") from None
    if scheme in NEEDS_HOST and not parts.netloc:
        raise invalid(f"Invalid source: a {scheme}: URI needs a host or bucket ({scheme}://…).")
    if "@" in parts.netloc:
        raise invalid("Invalid source: credentials in the URI are not allowed.")
    if not (parts.path.strip("/") or parts.netloc):
        raise invalid("Invalid source: the URI names no object.")
    return uri


def is_valid(uri) -> bool:
    try:
        validate_source(uri)
    except MlflowError:
        return False
    return True
