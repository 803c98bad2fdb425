"""An in-memory, faithful fake of Cronofy for offline development and tests.

    app = create_sandbox_app(SandboxConfig(client_id="...", client_secret="..."))
    main_app.add_subapp("/sandbox/cronofy", app)   # or run it on its own

See `app.py` for the endpoints, `control.py` and `acting.py` for the control API under
`/_control/`, and `push.py` for how push notifications are delivered and signed.
"""

from .app import create_sandbox_app
from .config import SandboxConfig
from .keys import SANDBOX_STATE
from .state import SandboxState

__all__ = ["SANDBOX_STATE", "SandboxConfig", "SandboxState", "create_sandbox_app"]
