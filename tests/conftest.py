"""Settings every test shares: offline litellm, offscreen Qt, hypothesis profiles."""

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")
# the local engine stays on the CPU path even where a GPU is visible; the Triton tests name their device
os.environ.setdefault("ORGIDE_DEVICE", "cpu")

from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")

from tests.network_guard import guard_network  # noqa: E402,F401  (autouse: no test reaches the network)
