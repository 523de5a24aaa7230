"""Existing suites run unchanged: Django's test classes and pytest-django's vocabulary, mapped onto ours."""
