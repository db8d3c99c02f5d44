"""authlib, imported quietly. authlib ≥ 1.7 warns on import that its httpx integration will move to
"httpx2" — and its own module forces that warning to "always", so a plain `catch_warnings` cannot hide it.
Printed, it would be the first line on stderr of every `hotloop` command (breaking the one-line errors and
the JSON log stream). Its filter is installed first, then ours goes in front of it, for this message only.
"""

from __future__ import annotations

import warnings

import httpx
from authlib.deprecate import AuthlibDeprecationWarning

warnings.filterwarnings(
    "ignore", message="The httpx module is deprecated", category=AuthlibDeprecationWarning
)

from authlib.integrations.base_client import MismatchingStateError, OAuthError  # noqa: E402
from authlib.integrations.starlette_client import OAuth  # noqa: E402

try:  # authlib's HTTP client is httpx2 when that is installed, else httpx: catch what it raises
    from authlib.integrations.httpx_client._compat import httpx2 as _authlib_http

    HTTP_ERRORS: tuple[type[Exception], ...] = (httpx.HTTPError, _authlib_http.HTTPError)
except ImportError:  # an authlib without the shim uses httpx itself
    HTTP_ERRORS = (httpx.HTTPError,)

__all__ = ["HTTP_ERRORS", "MismatchingStateError", "OAuth", "OAuthError"]
