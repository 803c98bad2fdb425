"""The Cronofy sandbox on its own, for the benchmark: python bench/sandbox.py --port 8091"""

import argparse
import sys
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI

from gql_api.sandbox import SandboxConfig, create_sandbox_app

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    config = SandboxConfig(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uris=(REDIRECT_URI,))
    web.run_app(create_sandbox_app(config), host="127.0.0.1", port=port, access_log=None, print=None)
