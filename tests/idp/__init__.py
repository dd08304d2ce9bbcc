"""A real OpenID provider for the single sign-on tests: django-oidc-provider in a small
Django project of its own (``settings``), run as a separate process by
tests/people/test_sso_browser.py. Not part of Modelgate."""
