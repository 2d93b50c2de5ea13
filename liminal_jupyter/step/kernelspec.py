"""Which installed kernel runs a notebook's steps.

A notebook's kernelspec names the kernel of the machine it was written on: often an
environment's ("conda-env-ml-py", "venv"), which a colleague's machine, a CI job, a KFP
pod or an Airflow worker does not have. papermill then fails every step with NoSuchKernel.
The environment a step runs in is the one running it (the image, the venv of `liminal-nb`),
so a Python notebook whose kernel is not installed runs in this Python's kernel, `python3`,
with a warning that says so; `liminal-nb run --kernel NAME` (papermill's `-k`) picks one.
"""

from __future__ import annotations

FALLBACK = "python3"  # ipykernel's kernel for the Python that runs us


def installed_kernels() -> list[str]:
    """The kernel names jupyter_client can start here (ipykernel's own included)."""
    from jupyter_client.kernelspec import KernelSpecManager

    return sorted(KernelSpecManager().find_kernel_specs())


def kernel_for(name: str | None) -> tuple[str, str | None]:
    """(the kernel to start for a notebook whose kernelspec names `name`, a warning when
    that is not `name`). A missing kernel with no fallback either is returned as it is,
    for papermill to report."""
    wanted = name or FALLBACK
    found = installed_kernels()
    if wanted in found or FALLBACK not in found:
        return wanted, None
    return FALLBACK, (f"the notebook's kernel {wanted!r} is not installed here (installed: "
                      f"{', '.join(found)}); its steps run in {FALLBACK!r}, this "
                      "environment's Python (`liminal-nb run --kernel NAME` picks another)")
