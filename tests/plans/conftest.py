from tests.standards.factories import make_assessment, version  # noqa: F401
