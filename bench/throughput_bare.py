"""The bare endpoint of bench/throughput.py: the least a FastAPI app under uvicorn can answer.

Run by the same uvicorn configuration as `keycloak-pwreset serve` (keycloak_pwreset/commands/
serve.py): ``uvicorn.run`` with the automatic loop and HTTP implementation (uvloop and httptools
where installed), the access log and proxy headers off, log level "info".

    python3 bench/throughput_bare.py --host 127.0.0.1 --port 8001
"""

from __future__ import annotations

import argparse

import uvicorn
from fastapi import FastAPI

app = FastAPI()


@app.get("/bare")
async def bare() -> dict[str, bool]:
    return {"ok": True}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # The arguments `serve` passes, apart from the app.
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="info",
        access_log=False,
        proxy_headers=False,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
