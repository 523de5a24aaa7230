"""pytest-django's vocabulary (marker, fixtures, options, ini keys) mapped onto ours (Django's classes: testcases)."""
