"""Model risk management (SR 11-7 / OCC 2011-12, EU AI Act), built on governance.

Inventory records with a risk tier from a questionnaire, tier policies that add
to environment policies, independent validation with findings, and model
documentation. Part of governance (never imported by the registry); monitoring
plugs its facts in through the extension points in ``extensions``.
"""
