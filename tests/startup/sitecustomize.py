# Put on PYTHONPATH by the root conftest.py (and scripts/audit_outputs.py): every Python process of the
# test suite starts here, so notebook kernels and CLI runs inherit what the suite is set up with.
# - ADVCOURSE_OFFLINE=1: the network is blocked, loopback aside (netguard.py).
# - ADVCOURSE_NUDGE=<seed>: this process emulates another CPU's rounding (cpu_nudge.py).
import os

if os.environ.get("ADVCOURSE_OFFLINE") == "1":
    import netguard

    netguard.install()

if os.environ.get("ADVCOURSE_NUDGE"):
    import cpu_nudge

    cpu_nudge.install_on_import(int(os.environ["ADVCOURSE_NUDGE"]))  # torch itself is not imported here
