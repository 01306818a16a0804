"""`on_gpu(duration)`: a heavy handler runs on a ZeroGPU Space's GPU, and exactly as before anywhere else.

Why here: on a Hugging Face ZeroGPU Space a GPU is lent per call to functions decorated with the
`spaces` package's `@spaces.GPU(duration=…)` (`duration`: the most seconds one call may hold it;
shorter requests are scheduled sooner). That package is preinstalled there and absent elsewhere —
so it is not in requirements.txt, and this module is the one place that looks for it.

Careful: this repo has a top-level folder `spaces/` with no `__init__.py`; run from the repo root,
`import spaces` finds it as an empty *namespace* package. Only a module with a `GPU` attribute is
the ZeroGPU one (an installed regular package wins over a namespace folder, so on a Space it is).
Without it the function comes back unchanged — the same object, so a generator stays a generator
and its signature (gr.Progress parameters included) is untouched. No torch here: nothing is
imported or initialised on CUDA by decorating.
"""

from __future__ import annotations

from typing import Callable, TypeVar

F = TypeVar("F", bound=Callable)


def zerogpu() -> Callable | None:
    """The `spaces.GPU` decorator factory when the ZeroGPU package is importable, else None."""
    try:
        import spaces  # the ZeroGPU package on a Space; the repo's namespace folder (no GPU) here
    except ImportError:
        return None
    gpu = getattr(spaces, "GPU", None)
    return gpu if callable(gpu) else None


def on_gpu(duration: int, *, first_click: bool = False) -> Callable[[F], F]:
    """Decorator: `spaces.GPU(duration=duration)(fn)` on ZeroGPU, `fn` itself everywhere else.
    `duration` is the handler's own bound in seconds (its time limit or step cap), so a call is
    never cut short by the GPU lease before the handler would have stopped anyway.
    `first_click=True`: the handler reaches transformers only through `shared.warm_process.run`
    (which waits for the warm-up itself when it must), so it need not wait to start."""
    if isinstance(duration, bool) or not isinstance(duration, int) or duration <= 0:
        raise ValueError(
            f"on_gpu: duration must be a positive whole number of seconds (got {duration!r})"
        )

    def decorate(fn: F) -> F:
        gpu = zerogpu()
        out = after_warm_up(fn if gpu is None else gpu(duration=duration)(fn))
        # on ZeroGPU the call runs in a forked process: the warm-up's end would never reach it
        out.__lab_first_click__ = first_click and gpu is None
        return out

    return decorate


def after_warm_up(fn: F) -> F:
    """Mark a handler that imports transformers (a model, a tokenizer): `shared.inputs` makes it
    wait for the background warm-up, since two threads importing transformers for the first time
    at once fail ("cannot import name ..."). Every `on_gpu` handler is marked; the same object
    comes back."""
    fn.__lab_heavy__ = True
    return fn
