# Put on PYTHONPATH by tests/conftest.py: every Python process of the test suite starts offline.
import os

if os.environ.get("ADVCOURSE_OFFLINE") == "1":
    import netguard

    netguard.install()
