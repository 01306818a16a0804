"""Calling a launched app the way course pages do (gradio_client), and checking its errors."""

from __future__ import annotations

import pytest
from gradio_client.exceptions import AppError

CALL_TIMEOUT_S = 300


def call(client, *args, api_name: str):
    """The final output of one call (streaming endpoints: the last yield)."""
    return client.submit(*args, api_name=api_name).result(timeout=CALL_TIMEOUT_S)


def app_error(client, *args, api_name: str) -> str:
    """The call must fail with one clean line (a gr.Error), not a traceback; returns the line."""
    with pytest.raises(AppError) as e:
        call(client, *args, api_name=api_name)
    msg = str(e.value)
    assert "\n" not in msg.strip() and "Traceback" not in msg, msg
    return msg


def rows(table):
    """A Dataframe output's rows, whichever shape gradio_client returns."""
    return table["data"] if isinstance(table, dict) else table


def plot_traces(fig) -> list[dict]:
    """A gr.Plot output's plotly traces, with typed arrays ({"dtype", "bdata"}) decoded to lists."""
    import base64
    import json

    import numpy as np

    spec = fig.get("plot", fig) if isinstance(fig, dict) else fig
    if isinstance(spec, str):
        spec = json.loads(spec)

    def decode(v):
        if isinstance(v, dict) and "bdata" in v:
            return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"]).tolist()
        return v

    return [{k: decode(v) for k, v in t.items()} for t in spec["data"]]


def load_space(name: str):
    """spaces/<name>/app.py as a fresh module (spaces/ is not a package), to call its handlers
    in-process — for inputs JSON cannot carry (NaN, inf)."""
    from shared.apps import load_app

    return load_app(name, module_name=f"{name}_app_under_test")
