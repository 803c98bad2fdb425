"""An in-memory, faithful fake of Cronofy for offline development and tests.

    app = create_sandbox_app(SandboxConfig(client_id="...", client_secret="..."))
    main_app.add_subapp("/sandbox/cronofy", app)   # or run it on its own

The endpoints, each module listing its own: `consent.py` (the consent and relink pages),
`oauth.py` (token and revoke), `api.py` (`/v1`), `control.py` and `acting.py` (the control API
under `/_control/`); `app.py` puts them together with the fault and rate-limit middleware.
`state.py` holds the in-memory Cronofy and names its parts; `push.py` delivers and signs pushes.
"""

from .app import create_sandbox_app
from .config import SandboxConfig
from .keys import SANDBOX_STATE
from .state import SandboxState

__all__ = ["SANDBOX_STATE", "SandboxConfig", "SandboxState", "create_sandbox_app"]
