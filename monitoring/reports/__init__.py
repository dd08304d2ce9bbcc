"""Pure computation for monitoring reports (worker side only).

Nothing here touches the database, and these modules import numpy, pandas,
scipy, shap and the model libraries at import time: only ``monitoring.tasks``
imports them, lazily inside job handlers, so the web process never loads them.
"""
